"""The error hierarchy and its HTTP mapping (one middleware)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)


class InterviewError(Exception):
    """Base of Candor's expected errors; ``status`` is the HTTP answer."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadInput(InterviewError):
    status = 400
    code = "bad_input"


class NotSignedIn(InterviewError):
    status = 401
    code = "not_signed_in"


class InvalidInvite(InterviewError):
    status = 401
    code = "invalid_invite"


class Forbidden(InterviewError):
    status = 403
    code = "forbidden"


class NotFound(InterviewError):
    status = 404
    code = "not_found"


class Conflict(InterviewError):
    status = 409
    code = "conflict"


class Gone(InterviewError):
    status = 410
    code = "gone"


class TooLarge(InterviewError):
    status = 413
    code = "too_large"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn InterviewError into a JSON (API) or HTML (page) answer with a clear message."""
    try:
        return await handler(request)
    except InterviewError as exc:
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            return web.json_response({"error": exc.code, "message": exc.message}, status=exc.status)
        from server.pages import error_page

        return error_page(exc.status, exc.code, exc.message)
