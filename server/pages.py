"""Static pages from web_client/ and the bilingual error page."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

WEB_CLIENT = Path(__file__).resolve().parent.parent / "web_client"

_MESSAGES_ZH = {
    "invalid_invite": "面试链接无效，请使用邀请中的链接。",
    "invite_expired": "面试链接已过期，请联系招聘方获取新链接。",
    "invite_revoked": "此链接已被新链接取代，请使用最新的邀请链接。",
    "interview_finished": "本次面试已结束，感谢您的参与。",
    "interview_deleted": "此面试已不存在。",
    "not_signed_in": "请先登录。",
    "forbidden": "您无权访问此面试。",
    "not_found": "页面不存在。",
}


def page(name: str) -> web.FileResponse:
    """Serve one HTML page from web_client/ (no caching of app pages)."""
    resp = web.FileResponse(WEB_CLIENT / name)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def error_page(status: int, code: str, message: str) -> web.Response:
    """A small page in Chinese and English that says what happened and what to do next."""
    zh = _MESSAGES_ZH.get(code, "")
    sign_in = (
        '<p><a href="/login">Sign in · 登录</a></p>'
        if status == 401 and code == "not_signed_in"
        else ""
    )
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Candor</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main class="card narrow"><h1>Candor</h1>
<p class="error" data-code="{html.escape(code)}">{html.escape(message)}</p>
{f'<p class="error" lang="zh">{html.escape(zh)}</p>' if zh else ""}{sign_in}
</main></body></html>"""
    return web.Response(status=status, text=body, content_type="text/html")
