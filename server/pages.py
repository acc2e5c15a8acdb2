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
    "sso_state_mismatch": "此次登录与本浏览器发起的登录不一致或已超时，请返回登录页重新开始。",
    "sso_cancelled": "登录已取消或被拒绝，请返回登录页重新开始。",
    "sso_code_refused": "登录凭证已过期或已被使用，请返回登录页重新扫码或登录。",
    "sso_token_invalid": "身份提供方返回的凭证校验失败，请返回登录页重新开始。",
    "sso_domain_refused": "您账号的邮箱域名不允许登录 Candor，请使用工作账号，或联系管理员。",
    "sso_no_account": "您还没有 Candor 账号，请联系管理员添加后再登录。",
    "sso_provider_down": "暂时无法连接身份提供方，请稍后返回登录页重试。",
    "sso_wecom_config": "Candor 无法连接企业微信（请管理员检查企业 ID 和 Secret），请稍后重试。",
    "sso_off": "此处未配置单点登录，请使用密码登录。",
    "sso_disabled": "此账号已停用，请联系管理员启用。",
    "sso_failed": "单点登录失败，请返回登录页重新开始。",
    "password_signin_off": "此处已关闭密码登录，请在登录页使用单点登录。",
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
        if (status == 401 and code == "not_signed_in") or code.startswith("sso_")
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
