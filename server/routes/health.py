"""/healthz, /readyz (no sign-in) and /metrics (by network or bearer token)."""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from config.settings import Settings
from server.errors import Forbidden
from server.health import readiness
from server.services import services

routes = web.RouteTableDef()

# a request that came through a reverse proxy carries one of these: its network address is
# the proxy's, so the allow-list cannot tell who asked and only the token opens /metrics
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """The process is alive and serving requests."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready for interviews: database, Redis when configured, models, disk; 503 otherwise."""
    checks = await readiness(services(request))
    ready = all(c.ok for c in checks.values())
    body = {
        "ready": ready,
        "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
    }
    return web.json_response(body, status=200 if ready else 503)


def may_scrape(request: web.Request, settings: Settings) -> bool:
    """A valid bearer token, or a direct (not proxied) request from an allowed network."""
    token = settings.metrics_token
    auth = request.headers.get("Authorization", "")
    if token is not None and auth.startswith("Bearer "):
        if hmac.compare_digest(auth[7:].encode(), token.get_secret_value().encode()):
            return True
    if any(h in request.headers for h in _PROXY_HEADERS):
        return False
    try:
        remote = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return any(remote in ipaddress.ip_network(net, strict=False) for net in settings.metrics_allow)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format of this process's metrics."""
    svc = services(request)
    if not may_scrape(request, svc.settings):
        raise Forbidden(
            "/metrics is open to the networks in CANDOR_METRICS_ALLOW (direct requests, not "
            "through a proxy) or to a bearer token (CANDOR_METRICS_TOKEN)."
        )
    body = await svc.metrics.scrape()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
