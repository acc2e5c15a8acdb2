"""Single sign-on routes: OIDC and WeCom start/callback, and which providers are on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from aiohttp import web
from authlib.common.security import generate_token
from pydantic import BaseModel

from config.settings import SsoSettings
from server.auth import COOKIE
from server.errors import NotFound
from server.integrations.described import describe
from server.integrations.sso import accounts
from server.integrations.sso.errors import RETRY, SsoNotAllowed, SsoRefused
from server.integrations.sso.oidc import OidcClient, Pending
from server.integrations.sso.wecom import WecomClient
from server.routes.api import audit
from server.routes.common import now
from server.security import cookie_secure
from server.services import services
from server.signin.sessions import client_address
from server.signing import BadSignature, Signer
from server.storage.models import User

routes = web.RouteTableDef()
FLOW_COOKIE = "candor_sso"
FLOW_TTL = timedelta(minutes=10)


@dataclass
class SsoClients:
    """The configured providers and their HTTP client (closed with the app)."""

    http: aiohttp.ClientSession
    signer: Signer  # signs the short-lived flow cookie (state, nonce, PKCE verifier)
    oidc: OidcClient | None
    wecom: WecomClient | None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.close()


class Providers(BaseModel):
    """Which sign-in methods this deployment offers."""

    password: bool
    oidc: bool
    wecom: bool


def _redirect(location: str) -> web.Response:
    """A 302 that can carry cookies (raising HTTPFound would drop them)."""
    return web.Response(status=302, headers={"Location": location})


def _clients(request: web.Request) -> SsoClients:
    clients = services(request).sso
    if not isinstance(clients, SsoClients):
        raise NotFound(
            "Single sign-on is not configured here; sign in with your password.", code="sso_off"
        )
    return clients


def _signer(request: web.Request) -> Signer:
    return _clients(request).signer


def _callback_url(request: web.Request, provider: str) -> str:
    base = services(request).settings.public_url or f"{request.scheme}://{request.host}"
    return f"{base.rstrip('/')}/sso/{provider}/callback"


def _remember(request: web.Request, resp: web.StreamResponse, flow: dict[str, str]) -> None:
    exp = int((now() + FLOW_TTL).timestamp())
    resp.set_cookie(
        FLOW_COOKIE,
        _signer(request).sign({**flow, "exp": exp}),
        httponly=True,
        samesite="Lax",  # sent on the provider's top-level redirect back to us
        max_age=int(FLOW_TTL.total_seconds()),
        secure=cookie_secure(services(request).settings),
        path="/sso/",
    )


def _recall(request: web.Request, provider: str) -> dict[str, str]:
    """The flow this browser started; refuses a missing, forged, old or mismatched one."""
    try:
        flow = _signer(request).unsign(request.cookies.get(FLOW_COOKIE, ""))
    except BadSignature as exc:
        raise SsoRefused(
            f"This sign-in was not started in this browser or took too long. {RETRY}",
            code="sso_state_mismatch",
        ) from exc
    state = request.query.get("state", "")
    if (
        flow.get("provider") != provider
        or not state
        or state != flow.get("state")
        or now().timestamp() >= int(flow.get("exp", 0))
    ):
        raise SsoRefused(
            f"This sign-in does not match the one started in this browser. {RETRY}",
            code="sso_state_mismatch",
        )
    if not request.query.get("code"):
        raise SsoRefused(f"The sign-in was cancelled or refused. {RETRY}", code="sso_cancelled")
    return {k: str(v) for k, v in flow.items()}


async def _signed_in(request: web.Request, user: User, how: str) -> web.StreamResponse:
    svc = services(request)
    if user.disabled:
        await audit(request, user.id, "login_refused_disabled", user.id)
        raise SsoNotAllowed(
            "This account is disabled. Ask an administrator to enable it.", code="sso_disabled"
        )
    token, _ = await svc.signin_sessions.start(
        user,
        svc.now(),
        address=client_address(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    await audit(request, user.id, f"login_{how}")
    resp = _redirect("/")
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        max_age=svc.auth.max_age,
        secure=cookie_secure(svc.settings),
        path="/",
    )
    resp.del_cookie(FLOW_COOKIE, path="/sso/")
    return resp


@routes.get("/api/sso/providers")
@describe(response=Providers, auth=())
async def providers(request: web.Request) -> web.Response:
    """Which sign-in methods the sign-in page should offer."""
    svc = services(request)
    clients = svc.sso if isinstance(svc.sso, SsoClients) else None
    out = Providers(
        password=svc.settings.sso.password_signin,
        oidc=clients is not None and clients.oidc is not None,
        wecom=clients is not None and clients.wecom is not None,
    )
    return web.json_response(out.model_dump())


@routes.get("/sso/oidc/start")
@describe(content_type="text/html", auth=())
async def oidc_start(request: web.Request) -> web.StreamResponse:
    """Send the browser to the identity provider."""
    oidc = _clients(request).oidc
    if oidc is None:
        raise NotFound("OpenID Connect sign-in is not configured here.", code="sso_off")
    url, pending = await oidc.start(_callback_url(request, "oidc"))
    resp = _redirect(url)
    flow = {"provider": "oidc", "state": pending.state, "nonce": pending.nonce}
    _remember(request, resp, {**flow, "verifier": pending.verifier})
    return resp


@routes.get("/sso/oidc/callback")
@describe(content_type="text/html", auth=())
async def oidc_callback(request: web.Request) -> web.StreamResponse:
    """Finish OIDC sign-in: check state, code, token and nonce; map the user; sign in."""
    oidc = _clients(request).oidc
    if oidc is None:
        raise NotFound("OpenID Connect sign-in is not configured here.", code="sso_off")
    flow = _recall(request, "oidc")
    pending = Pending(flow["state"], flow["nonce"], flow["verifier"])
    identity = await oidc.finish(request.query["code"], _callback_url(request, "oidc"), pending)
    settings = services(request).settings.sso
    accounts.check_domain(settings, identity.email)
    role = accounts.mapped_role(settings, identity.claims)
    async with services(request).sessions() as session, session.begin():
        user = await accounts.user_for(
            session, settings, "oidc", identity.subject, identity.email, identity.name, role
        )
    return await _signed_in(request, user, "oidc")


@routes.get("/sso/wecom/start")
@describe(content_type="text/html", auth=())
async def wecom_start(request: web.Request) -> web.StreamResponse:
    """Send the browser to WeCom's QR sign-in page."""
    wecom = _clients(request).wecom
    if wecom is None:
        raise NotFound("WeCom sign-in is not configured here.", code="sso_off")
    state = generate_token(32)
    lang = "en" if request.query.get("lang") == "en" else "zh"
    resp = _redirect(wecom.qr_url(_callback_url(request, "wecom"), state, lang))
    _remember(request, resp, {"provider": "wecom", "state": state})
    return resp


@routes.get("/sso/wecom/callback")
@describe(content_type="text/html", auth=())
async def wecom_callback(request: web.Request) -> web.StreamResponse:
    """Finish WeCom sign-in: check state, turn the code into a userid, map it, sign in."""
    wecom = _clients(request).wecom
    if wecom is None:
        raise NotFound("WeCom sign-in is not configured here.", code="sso_off")
    _recall(request, "wecom")
    member = await wecom.identify(request.query["code"])
    settings = services(request).settings.sso
    if member.email:
        accounts.check_domain(settings, member.email)
    async with services(request).sessions() as session, session.begin():
        user = await accounts.user_for(
            session,
            settings,
            "wecom",
            member.userid,
            member.email,
            member.name,
            settings.oidc_default_role,
        )
    return await _signed_in(request, user, "wecom")


def make_clients(settings_sso: SsoSettings, secret: bytes) -> SsoClients | None:
    """The configured providers, or None when no SSO is configured."""
    if not settings_sso.oidc_discovery_url and not settings_sso.wecom_corp_id:
        return None
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    return SsoClients(
        http=http,
        signer=Signer(secret, "sso-flow"),
        oidc=OidcClient(settings_sso, http) if settings_sso.oidc_discovery_url else None,
        wecom=WecomClient(settings_sso, http) if settings_sso.wecom_corp_id else None,
    )
