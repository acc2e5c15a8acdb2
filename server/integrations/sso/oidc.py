"""OpenID Connect, authorization code flow with PKCE and a nonce.

Authlib builds the authorization URL and the PKCE challenge; joserfc (Authlib's JOSE library)
checks the ID token: signature against the provider's JWKS, ``iss``, ``aud``, ``exp``,
``nonce``. HTTP goes through aiohttp, so nothing blocks the event loop.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from config.settings import SsoSettings
from server.integrations.sso.errors import RETRY, SsoRefused


@dataclass(frozen=True)
class Pending:
    """What the browser carries (signed) between the redirect and the callback."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class OidcIdentity:
    """Who the provider says signed in."""

    subject: str  # "issuer|sub"
    email: str
    name: str
    claims: dict[str, Any]


class OidcClient:
    """One configured provider; discovery is fetched once and kept."""

    def __init__(self, settings: SsoSettings, http: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._http = http
        self._meta: dict[str, Any] | None = None

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document."""
        if self._meta is None:
            url = self._settings.oidc_discovery_url
            assert url is not None
            try:
                async with self._http.get(url) as resp:
                    resp.raise_for_status()
                    self._meta = dict(await resp.json(content_type=None))
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise SsoRefused(
                    f"The identity provider could not be reached just now. {RETRY}",
                    code="sso_provider_down",
                ) from exc
        return self._meta

    async def start(self, redirect_uri: str) -> tuple[str, Pending]:
        """The provider's sign-in URL and the state to keep until the callback."""
        meta = await self.metadata()
        pending = Pending(generate_token(32), generate_token(32), generate_token(48))
        url = prepare_grant_uri(
            meta["authorization_endpoint"],
            self._settings.oidc_client_id,
            "code",
            redirect_uri=redirect_uri,
            scope="openid email profile",
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256",
        )
        return url, pending

    async def finish(self, code: str, redirect_uri: str, pending: Pending) -> OidcIdentity:
        """Exchange the code, check the ID token, and return the identity."""
        meta = await self.metadata()
        secret = self._settings.oidc_client_secret
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self._settings.oidc_client_id,
            "code_verifier": pending.verifier,
        }
        # client_secret_basic: both parts form-encoded first (RFC 6749, section 2.3.1).
        pair = f"{quote(self._settings.oidc_client_id, safe='')}:"
        pair += quote(secret.get_secret_value() if secret else "", safe="")
        auth = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        async with self._http.post(meta["token_endpoint"], data=form, headers=auth) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200 or "id_token" not in body:
                raise SsoRefused(
                    "The sign-in code was refused by the identity provider (it may have "
                    f"expired or been used already). {RETRY}",
                    code="sso_code_refused",
                )
        async with self._http.get(meta["jwks_uri"]) as resp:
            keys = KeySet.import_key_set(await resp.json(content_type=None))
        try:
            token = jwt.decode(body["id_token"], keys)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": meta["issuer"]},
                aud={"essential": True, "value": self._settings.oidc_client_id},
                nonce={"essential": True, "value": pending.nonce},
                sub={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise SsoRefused(
                f"The identity provider's answer did not check out (token or nonce). {RETRY}",
                code="sso_token_invalid",
            ) from exc
        claims = dict(token.claims)
        return OidcIdentity(
            subject=f"{claims['iss']}|{claims['sub']}",
            email=str(claims.get("email", "")).strip().lower(),
            name=str(claims.get("name", "")),
            claims=claims,
        )
