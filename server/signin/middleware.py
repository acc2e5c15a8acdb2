"""Resolve the request's sign-in session once, before any handler runs."""

from __future__ import annotations

from aiohttp import web

from server.auth import Principal, token_from_request
from server.errors import Handler, NotSignedIn
from server.services import services

PRINCIPAL: web.RequestKey[Principal | NotSignedIn | None] = web.RequestKey("principal")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Look up the session of the request's token (static files skip it)."""
    result: Principal | NotSignedIn | None = None
    token = token_from_request(request)
    if token and not request.path.startswith("/static/"):
        svc = services(request)
        try:
            result = await svc.signin_sessions.principal(token, svc.now())
        except NotSignedIn as exc:
            result = exc
    request[PRINCIPAL] = result
    return await handler(request)


def request_principal(request: web.Request) -> Principal:
    """The principal the middleware found, or 401 with the reason."""
    result = request.get(PRINCIPAL)
    if isinstance(result, Principal):
        return result
    if isinstance(result, NotSignedIn):
        raise result
    raise NotSignedIn("Please sign in to continue.")


async def still_signed_in(request: web.Request) -> bool:
    """Whether the request's session is still live (a long-lived socket checks per message)."""
    token = token_from_request(request)
    if not token:
        return False
    svc = services(request)
    try:
        await svc.signin_sessions.principal(token, svc.now())
    except NotSignedIn:
        return False
    return True
