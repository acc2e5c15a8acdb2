"""WeCom (企业微信): the self-built app message API and the group robot webhook.

The app's ``access_token`` is fetched with corp id + secret and cached until it expires (or
until WeCom says it is invalid). Nothing here logs a message body or a user id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp

# errcodes that mean "fetch a new token": invalid (40014) or expired (42001) access_token
_TOKEN_ERRORS = {40014, 42001}
RATE_LIMITED = 45009


class WeComError(Exception):
    """WeCom refused or could not be reached; ``code`` is WeCom's errcode when it answered."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class WeComAppConfig:
    """A self-built app: corp id, its secret and agent id."""

    corp_id: str
    secret: str
    agent_id: int


class WeComClient:
    """Sends WeCom messages over one aiohttp session (closed by ``aclose``)."""

    def __init__(
        self,
        base_url: str,
        app: WeComAppConfig | None,
        robot_key: str | None,
        now: Callable[[], datetime],
    ) -> None:
        self._base = base_url.rstrip("/")
        self.app = app
        self.robot_key = robot_key
        self._now = now
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self.token_fetches = 0

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        return self._session

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._http().request(method, self._base + path, **kwargs) as resp:
                if resp.status != 200:
                    raise WeComError(f"WeCom answered HTTP {resp.status}")
                data: dict[str, Any] = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise WeComError(f"WeCom could not be reached: {type(exc).__name__}") from exc
        return data

    async def access_token(self) -> str:
        """The cached token, fetched again when it is about to expire."""
        if self.app is None:
            raise WeComError("The WeCom app is not configured.")
        now = self._now()
        if self._token and self._token_expires and now < self._token_expires:
            return self._token
        data = await self._call(
            "GET",
            "/cgi-bin/gettoken",
            params={"corpid": self.app.corp_id, "corpsecret": self.app.secret},
        )
        if data.get("errcode", 0) != 0 or "access_token" not in data:
            raise WeComError(f"gettoken failed: {data.get('errmsg', '')}", data.get("errcode"))
        self.token_fetches += 1
        self._token = str(data["access_token"])
        # Renew a minute early so a token never expires in flight.
        self._token_expires = now + timedelta(seconds=int(data.get("expires_in", 7200)) - 60)
        return self._token

    async def send_app_markdown(self, users: list[str], content: str) -> None:
        """A markdown message from the app to named WeCom users."""
        if self.app is None:
            raise WeComError("The WeCom app is not configured.")
        body = {
            "touser": "|".join(users),
            "msgtype": "markdown",
            "agentid": self.app.agent_id,
            "markdown": {"content": content},
        }
        for attempt in range(2):
            token = await self.access_token()
            data = await self._call(
                "POST", "/cgi-bin/message/send", params={"access_token": token}, json=body
            )
            code = int(data.get("errcode", 0))
            if code in _TOKEN_ERRORS and attempt == 0:
                self._token = None
                continue
            if code != 0:
                raise WeComError(f"message/send failed: {data.get('errmsg', '')}", code)
            if data.get("invaliduser"):
                raise WeComError("WeCom does not know some of the users", code)
            return

    async def send_robot_markdown(self, content: str) -> None:
        """A markdown message to the group robot's chat."""
        if not self.robot_key:
            raise WeComError("The WeCom group robot is not configured.")
        data = await self._call(
            "POST",
            "/cgi-bin/webhook/send",
            params={"key": self.robot_key},
            json={"msgtype": "markdown", "markdown": {"content": content}},
        )
        code = int(data.get("errcode", 0))
        if code != 0:
            raise WeComError(f"webhook/send failed: {data.get('errmsg', '')}", code)
