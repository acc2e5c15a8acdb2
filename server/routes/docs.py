"""The API's description: ``/api/openapi.json`` and a readable page at ``/api/docs``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.integrations.described import describe
from server.integrations.openapi import build_openapi
from server.pages import page

routes = web.RouteTableDef()
# Filled on first request (the router is complete by then); a dict set up before the app starts.
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)


def install(app: web.Application) -> None:
    """Add the description's routes and its cache to ``app``."""
    app[OPENAPI] = {}
    app.add_routes(routes)


@routes.get("/api/openapi.json")
@describe(auth=())
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 description of every route (public: it holds no data)."""
    cache = request.app[OPENAPI]
    if not cache:
        cache.update(build_openapi(request.app))
    return web.json_response(cache)


@routes.get("/api/docs")
@describe(content_type="text/html", auth=())
async def api_docs(_request: web.Request) -> web.StreamResponse:
    """A readable page of the API description (rendered in the browser from the JSON)."""
    return page("api_docs.html")
