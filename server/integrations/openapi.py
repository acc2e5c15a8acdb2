"""Build the OpenAPI 3.1 description from the app's router and the handlers' pydantic models.

Every route the router serves is described: path parameters from the route, the request body
model from ``describe`` or from the handler's own ``read_json(request, Model)`` call, the answer
model from ``describe`` (else any JSON, or the page/file type), and the one error shape.
Schemas come from pydantic (``models_json_schema``), which emits JSON Schema 2020-12, the
dialect OpenAPI 3.1 uses, so nothing is translated by hand.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from typing import Any, get_args, get_origin

from aiohttp import web
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from server.integrations.described import RouteDoc, route_doc

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


class ErrorBody(BaseModel):
    """Every error answer: a stable code, a message a person can act on, and details."""

    code: str = Field(description="Stable machine-readable code, e.g. not_signed_in, forbidden.")
    message: str = Field(
        description="What went wrong and what to do next, in the caller's language "
        "(Accept-Language zh or en) where a translation exists."
    )
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="More about the error: for bad input, ``fields`` lists every invalid "
        "field as {field, message}; ``message_en`` holds the English message when the "
        "message is a general Chinese one.",
    )
    error: str = Field(description="Same as code (kept for older clients).")


ERROR_TEXT = {
    400: "Bad input (details.fields names each invalid field).",
    401: "Not signed in, or the API key is wrong, revoked or expired (no hint which).",
    403: "Refused: the role or the API key's scopes/jobs do not allow it (audited).",
    404: "No such record.",
    409: "Conflicts with the record's state.",
    410: "The record is gone.",
    413: "The body is too large.",
}


def _request_model(handler: Any) -> type[BaseModel] | None:
    """The model passed to ``read_json(request, Model)`` in the handler's source."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(handler)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "read_json"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Name)
        ):
            found = getattr(handler, "__globals__", {}).get(node.args[1].id)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
    return None


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in get_args(annotation) for m in _models_of(a)]


def _schema_of(annotation: Any) -> dict[str, Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {"$ref": REF.format(model=annotation.__name__)}
    if get_origin(annotation) is list:
        return {"type": "array", "items": _schema_of(get_args(annotation)[0])}
    return {}


def _summary(handler: Any) -> tuple[str, str]:
    doc = inspect.getdoc(handler) or ""
    first, _, rest = doc.partition("\n")
    return first.strip() or getattr(handler, "__name__", "route"), rest.strip()


def _answer(path: str, method: str, doc: RouteDoc | None) -> dict[str, Any]:
    if doc is not None and doc.content_type != "application/json":
        return {doc.content_type: {"schema": {"type": "string"}}}
    if doc is not None and doc.response is not None:
        return {"application/json": {"schema": _schema_of(doc.response)}}
    if path.startswith("/ws/"):
        return {}
    if not path.startswith("/api/") or path.endswith((".pdf", ".yaml")) or "/media" in path:
        kind = "text/html" if not path.startswith("/api/") else "application/octet-stream"
        if path.endswith(".yaml"):
            kind = "application/yaml"
        if path.endswith(".pdf"):
            kind = "application/pdf"
        return {kind: {"schema": {"type": "string"}}}
    return {"application/json": {"schema": {}}}


def _operation(
    method: str, path: str, handler: Any, models: list[type[BaseModel]]
) -> dict[str, Any]:
    doc = route_doc(handler)
    summary, description = _summary(handler)
    op: dict[str, Any] = {
        "operationId": method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", path).rstrip("_"),
        "summary": summary,
        "tags": [path.split("/")[2] if path.startswith("/api/") else "pages"],
    }
    if description:
        op["description"] = description
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in _PARAM.findall(path)
    ]
    if doc is not None and doc.query is not None:
        models.append(doc.query)
        for field, info in doc.query.model_fields.items():
            params.append(
                {
                    "name": field,
                    "in": "query",
                    "required": info.is_required(),
                    "description": info.description or "",
                    "schema": {"type": "string"},
                }
            )
    if params:
        op["parameters"] = params
    body = doc.request if doc is not None and doc.request is not None else None
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = _request_model(handler)
    if body is not None:
        models.append(body)
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_of(body)}},
        }
    status = str(doc.status if doc is not None else (101 if path.startswith("/ws/") else 200))
    if doc is not None:
        models.extend(_models_of(doc.response))
    content = _answer(path, method, doc)
    ok: dict[str, Any] = {"description": "Success." if status != "101" else "WebSocket upgrade."}
    if content:
        ok["content"] = content
    responses: dict[str, Any] = {status: ok}
    codes = set(doc.errors if doc is not None else ()) | {400, 401, 403, 404}
    for code in sorted(codes):
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    op["responses"] = responses
    return op


def _route_path(route: web.AbstractRoute) -> str:
    resource = route.resource
    path = resource.canonical if resource is not None else ""
    if isinstance(resource, web.StaticResource):
        return path.rstrip("/") + "/{filename}"
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def build_openapi(app: web.Application, *, server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route ``app`` serves."""
    paths: dict[str, dict[str, Any]] = {}
    models: list[type[BaseModel]] = [ErrorBody]
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        path = _route_path(route)
        handler = route.handler
        paths.setdefault(path, {})[route.method.lower()] = _operation(
            route.method, path, handler, models
        )
    unique = {m.__name__: m for m in models}
    _, schema = models_json_schema([(m, "validation") for m in unique.values()], ref_template=REF)
    errors = {
        f"E{code}": {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
        }
        for code, text in ERROR_TEXT.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Candor API",
            "version": "1",
            "description": "Self-hosted AI interviews. Sign in with a session token or an API "
            "key (`Authorization: Bearer cnd_...`); see docs/integrations.md.",
        },
        "servers": [{"url": server_url}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schema.get("$defs", {}),
            "responses": errors,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A sign-in token or an API key (cnd_...).",
                },
                "cookie": {"type": "apiKey", "in": "cookie", "name": "candor_session"},
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "ATS partner routes: the API key as the user name.",
                },
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }
