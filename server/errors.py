"""The error hierarchy and its HTTP mapping (one middleware)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class InterviewError(Exception):
    """Base of Candor's expected errors; ``status`` is the HTTP answer."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        message_zh: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.message_zh = message_zh
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


# The general meaning of each code in Chinese, for callers who prefer it when the specific
# message has no translation yet (the English message then stays in ``details.message_en``).
ZH_BY_CODE: dict[str, str] = {
    "bad_request": "请求无效，请检查后重试。",
    "bad_input": "输入有误，请按提示修改后重试。",
    "not_signed_in": "请先登录。",
    "invalid_invite": "邀请链接无效或已过期，请联系招聘方获取新链接。",
    "forbidden": "您没有权限执行此操作，请联系管理员。",
    "not_found": "未找到该记录。",
    "conflict": "与当前状态冲突，请刷新后重试。",
    "gone": "该记录已不存在。",
    "too_large": "请求内容过大。",
}


def prefers_chinese(request: web.Request) -> bool:
    """Whether the caller's Accept-Language puts Chinese before English."""
    best: tuple[float, str] = (0.0, "en")
    for part in request.headers.get("Accept-Language", "").split(","):
        lang, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        tag = lang.strip().lower()[:2]
        if tag in ("zh", "en") and weight > best[0]:
            best = (weight, tag)
    return best[1] == "zh"


def error_body(exc: InterviewError, request: web.Request) -> dict[str, Any]:
    """The one JSON error shape: ``code``, ``message`` (caller's language), ``details``."""
    message, details = exc.message, dict(exc.details)
    if prefers_chinese(request):
        if exc.message_zh:
            message = exc.message_zh
        elif exc.code in ZH_BY_CODE or exc.status in (401, 403, 404):
            message = ZH_BY_CODE.get(exc.code, ZH_BY_CODE["bad_request"])
            details["message_en"] = exc.message
    # "error" repeats "code" for clients written before the shape was documented.
    return {"code": exc.code, "message": message, "details": details, "error": exc.code}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn InterviewError into a JSON (API) or HTML (page) answer with a clear message."""
    try:
        return await handler(request)
    except InterviewError as exc:
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            return web.json_response(error_body(exc, request), status=exc.status)
        from server.pages import error_page

        return error_page(exc.status, exc.code, exc.message)
