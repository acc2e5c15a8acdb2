"""An in-process OpenID Connect provider and a fake WeCom server, for sign-in tests.

The provider serves discovery, JWKS, an authorize endpoint that signs in ``user`` at once,
and a token endpoint that checks the client, the one-time code and PKCE, and signs an ID token
with a test RSA key (joserfc).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID, CLIENT_SECRET = "candor-test", "s3cret"


@dataclass
class Provider:
    """The identity provider's state: who signs in next and the codes it issued."""

    user: dict[str, Any] = field(default_factory=dict)
    wrong_nonce: bool = False
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, {"kid": "test-key"}, private=True)
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: str = ""

    async def discovery(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.base,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "jwks_uri": f"{self.base}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def jwks(self, _request: web.Request) -> web.Response:
        return web.json_response(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": q["nonce"],
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
        }
        raise web.HTTPFound(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}")

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        auth = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}":
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = self.codes.pop(str(form.get("code", "")), None)  # one-time
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        verifier = str(form.get("code_verifier", "")).encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if challenge.decode() != grant["challenge"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        now = int(time.time())
        claims = {
            "iss": self.base,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": "forged" if self.wrong_nonce else grant["nonce"],
            **self.user,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        return web.json_response(
            {"access_token": "at", "token_type": "Bearer", "id_token": id_token}
        )


async def start_provider(provider: Provider) -> TestServer:
    """Serve ``provider`` on a free local port."""
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", provider.discovery)
    app.router.add_get("/jwks", provider.jwks)
    app.router.add_get("/authorize", provider.authorize)
    app.router.add_post("/token", provider.token)
    server = TestServer(app)
    await server.start_server()
    provider.base = str(server.make_url("")).rstrip("/")
    return server


@dataclass
class FakeWecom:
    """WeCom's server API for one corp: one-time codes map to members."""

    codes: dict[str, str] = field(default_factory=dict)  # code -> userid
    members: dict[str, dict[str, str]] = field(default_factory=dict)

    async def gettoken(self, request: web.Request) -> web.Response:
        if (
            request.query.get("corpid") != "wwcorp"
            or request.query.get("corpsecret") != "appsecret"
        ):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return web.json_response({"errcode": 0, "access_token": "TOKEN", "expires_in": 7200})

    async def getuserinfo(self, request: web.Request) -> web.Response:
        userid = self.codes.pop(request.query.get("code", ""), None)
        if request.query.get("access_token") != "TOKEN" or userid is None:
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        return web.json_response({"errcode": 0, "errmsg": "ok", "userid": userid})

    async def user_get(self, request: web.Request) -> web.Response:
        member = self.members.get(request.query.get("userid", ""))
        if member is None:
            return web.json_response({"errcode": 60111, "errmsg": "userid not found"})
        return web.json_response({"errcode": 0, **member})


async def start_wecom(wecom: FakeWecom) -> TestServer:
    """Serve ``wecom`` on a free local port."""
    app = web.Application()
    app.router.add_get("/cgi-bin/gettoken", wecom.gettoken)
    app.router.add_get("/cgi-bin/auth/getuserinfo", wecom.getuserinfo)
    app.router.add_get("/cgi-bin/user/get", wecom.user_get)
    server = TestServer(app)
    await server.start_server()
    return server
