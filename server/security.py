"""Forgery protection (Origin check, CSRF token) and security headers on every response.

The CSRF token is a synchronizer token without server state: HMAC-SHA256 of the session
cookie under the app's secret. Pages fetch it from ``GET /api/csrf`` (other origins cannot
read that answer) and send it as ``X-CSRF-Token``. It is deliberately not a readable cookie:
cookies are shared by every port of a host, so a page on another port could read it.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import urlsafe_b64encode
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from config.settings import Settings
from server.auth import COOKIE
from server.errors import Forbidden, Handler
from server.keys import previous_secret_keys, secret_key_bytes

CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Authenticated by the invite or self-service token in the URL (or by no one yet): Origin
# check, no CSRF token.
CSRF_EXEMPT_PREFIXES = ("/api/login", "/api/join/", "/ws/candidate/", "/api/my/")
CANDIDATE_PAGE_PREFIX = "/i/"


class CsrfTokens:
    """Derives the CSRF token bound to one session cookie."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._keys: tuple[bytes, ...] = ()

    def _secrets(self) -> tuple[bytes, ...]:
        # The secret key file is created at startup, so it is read on first use. The first
        # key is the current one; retired keys (grace period) are only accepted.
        if not self._keys:
            secrets = (
                secret_key_bytes(self._settings),
                *previous_secret_keys(self._settings),
            )
            self._keys = tuple(hashlib.sha256(b"candor-csrf\0" + s).digest() for s in secrets)
        return self._keys

    @staticmethod
    def _token(key: bytes, session_cookie: str) -> str:
        mac = hmac.new(key, session_cookie.encode(), hashlib.sha256).digest()
        return urlsafe_b64encode(mac).decode().rstrip("=")

    def for_session(self, session_cookie: str) -> str:
        """The token a page must send with state-changing requests for this session."""
        return self._token(self._secrets()[0], session_cookie)

    def valid(self, session_cookie: str, token: str) -> bool:
        """Whether ``token`` belongs to this session (constant-time comparison)."""
        return any(
            hmac.compare_digest(self._token(key, session_cookie), token) for key in self._secrets()
        )


CSRF: web.AppKey[CsrfTokens] = web.AppKey("csrf", CsrfTokens)
SETTINGS: web.AppKey[Settings] = web.AppKey("security_settings", Settings)


def is_https(settings: Settings) -> bool:
    """Whether the configured public URL is served over HTTPS."""
    return (settings.public_url or "").lower().startswith("https://")


def cookie_secure(settings: Settings) -> bool:
    """Session cookies are ``Secure`` when forced or when the public URL is https."""
    return settings.cookie_secure or is_https(settings)


def _origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def expected_origin(request: web.Request, settings: Settings) -> str:
    """The public URL's origin, or (unset) the origin of the request's own Host."""
    if settings.public_url:
        return _origin_of(settings.public_url)
    return f"{request.scheme}://{request.host}".lower()


def origin_allowed(request: web.Request, settings: Settings) -> bool:
    """Origin (else Referer) names our origin; requests without either (non-browsers) pass."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        referer = request.headers.get(hdrs.REFERER)
        if not referer:
            return True
        origin = _origin_of(referer)
    return origin.strip().lower() == expected_origin(request, settings)


def _cookie_authenticated(request: web.Request) -> str | None:
    if request.headers.get(hdrs.AUTHORIZATION, "").startswith("Bearer "):
        return None  # API clients: a stolen cookie cannot add this header cross-site
    return request.cookies.get(COOKIE)


@web.middleware
async def forgery_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse cross-origin writes and socket upgrades, and cookie writes without the token."""
    settings = request.app[SETTINGS]
    upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    if (upgrade or request.method in UNSAFE_METHODS) and not origin_allowed(request, settings):
        raise Forbidden(
            "This request came from another site or port and was refused. "
            f"Open Candor at {expected_origin(request, settings)} and try again.",
            code="bad_origin",
        )
    if request.method in UNSAFE_METHODS and not request.path.startswith(CSRF_EXEMPT_PREFIXES):
        cookie = _cookie_authenticated(request)
        token = request.headers.get(CSRF_HEADER, "")
        if cookie is not None and not request.app[CSRF].valid(cookie, token):
            raise Forbidden(
                "The page's security token is missing or out of date. Reload the page and "
                "try again.",
                code="csrf",
            )
    return await handler(request)


def content_security_policy(request: web.Request, settings: Settings) -> str:
    """A strict policy: only our own scripts and styles, media from blobs and streams."""
    origin = expected_origin(request, settings)
    ws_origin = (
        "wss://" + origin.split("://", 1)[1]
        if origin.startswith("https")
        else ("ws://" + origin.split("://", 1)[1])
    )
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob: mediastream:; font-src 'self'; "
        f"connect-src 'self' {ws_origin}; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set the security headers on every response before it is sent."""
    settings = request.app[SETTINGS]
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(request, settings)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    # Invite links carry a token in the path: never leak any URL to other sites.
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    devices = "(self)" if request.path.startswith(CANDIDATE_PAGE_PREFIX) else "()"
    headers["Permissions-Policy"] = (
        f"camera={devices}, microphone={devices}, geolocation=(), display-capture=(), "
        "payment=(), usb=()"
    )
    if is_https(settings):
        headers["Strict-Transport-Security"] = "max-age=31536000"


async def csrf_token(request: web.Request) -> web.Response:
    """The CSRF token of the page's session cookie (``null`` without one: nothing to protect)."""
    cookie = request.cookies.get(COOKIE)
    token = request.app[CSRF].for_session(cookie) if cookie else None
    resp = web.json_response({"token": token})
    resp.headers["Cache-Control"] = "no-store"
    return resp


def setup_security(app: web.Application, settings: Settings) -> None:
    """Register the forgery middleware's state, the headers hook and ``GET /api/csrf``."""
    app[SETTINGS] = settings
    app[CSRF] = CsrfTokens(settings)
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/api/csrf", csrf_token)
