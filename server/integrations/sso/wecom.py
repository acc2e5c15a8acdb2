"""WeCom (企业微信) QR sign-in: ``qrConnect`` → ``code`` → ``auth/getuserinfo`` → ``userid``.

The app's access token comes from ``gettoken`` (corp id + app secret) and is kept until it
expires; ``user/get`` adds the member's email when the app may read it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from config.settings import SsoSettings
from server.integrations.sso.errors import RETRY, SsoRefused


@dataclass(frozen=True)
class WecomIdentity:
    """A WeCom member."""

    userid: str
    email: str
    name: str


class WecomClient:
    """Calls WeCom's server API for one corp and app."""

    def __init__(self, settings: SsoSettings, http: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._http = http
        self._token: tuple[str, float] | None = None

    def qr_url(self, redirect_uri: str, state: str, lang: str) -> str:
        """The QR sign-in page to send the browser to."""
        query = {
            "appid": self._settings.wecom_corp_id or "",
            "agentid": self._settings.wecom_agent_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "lang": lang,
        }
        return f"{self._settings.wecom_qr_url}?{urlencode(query)}"

    async def _get(self, path: str, **params: str) -> dict[str, Any]:
        url = self._settings.wecom_api_base.rstrip("/") + path
        try:
            async with self._http.get(url, params=params) as resp:
                return dict(await resp.json(content_type=None))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SsoRefused(
                f"WeCom could not be reached just now. {RETRY}", code="sso_provider_down"
            ) from exc

    async def _access_token(self) -> str:
        if self._token is not None and self._token[1] > time.monotonic():
            return self._token[0]
        secret = self._settings.wecom_secret
        data = await self._get(
            "/cgi-bin/gettoken",
            corpid=self._settings.wecom_corp_id or "",
            corpsecret=secret.get_secret_value() if secret else "",
        )
        if data.get("errcode", 0) != 0 or "access_token" not in data:
            raise SsoRefused(
                "Candor could not sign in to WeCom (check CANDOR_SSO_WECOM_CORP_ID and "
                f"CANDOR_SSO_WECOM_SECRET). {RETRY}",
                code="sso_wecom_config",
            )
        ttl = float(data.get("expires_in", 7200)) - 300
        self._token = (str(data["access_token"]), time.monotonic() + ttl)
        return self._token[0]

    async def identify(self, code: str) -> WecomIdentity:
        """The member who scanned the QR code (one-time ``code``, valid 5 minutes)."""
        token = await self._access_token()
        info = await self._get("/cgi-bin/auth/getuserinfo", access_token=token, code=code)
        userid = str(info.get("userid") or info.get("UserId") or "")
        if info.get("errcode", 0) != 0 or not userid:
            raise SsoRefused(
                f"WeCom did not accept this sign-in (the QR code may have expired). {RETRY}",
                code="sso_code_refused",
            )
        member = await self._get("/cgi-bin/user/get", access_token=token, userid=userid)
        email = ""
        if member.get("errcode", 0) == 0:
            email = str(member.get("email") or member.get("biz_mail") or "").strip().lower()
        return WecomIdentity(userid=userid, email=email, name=str(member.get("name", "")))
