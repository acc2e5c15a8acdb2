"""HR sign-in sessions (signed cookie or bearer token); who may do what: server/policy.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from server.errors import NotSignedIn
from server.signing import BadSignature, Signer

COOKIE = "candor_session"


@dataclass(frozen=True)
class Principal:
    """The signed-in HR user making a request."""

    user_id: str
    role: str
    email: str
    session_id: str = ""

    @property
    def is_admin(self) -> bool:
        """Admins may see every interview."""
        return self.role == "admin"


class SessionCodec:
    """Issues and checks sign-in tokens; a token names a server-side session (``sessions``)."""

    def __init__(self, secret: bytes, ttl: timedelta) -> None:
        self._signer = Signer(secret, "session")
        self._ttl = ttl

    @property
    def ttl(self) -> timedelta:
        """How long a new session lasts."""
        return self._ttl

    def issue(self, session_id: str, expires_at: datetime) -> str:
        """A token for the session ``session_id`` (cookie value or bearer token)."""
        return self._signer.sign({"sid": session_id, "exp": int(expires_at.timestamp())})

    def session_id(self, token: str, now: datetime) -> str:
        """The session id of a well-signed, unexpired token (the session row is checked next)."""
        try:
            data = self._signer.unsign(token)
            if now.timestamp() >= int(data["exp"]):
                raise NotSignedIn("Your session has expired. Please sign in again.")
            return str(data["sid"])
        except (BadSignature, KeyError, ValueError, TypeError) as exc:
            raise NotSignedIn("Please sign in.") from exc

    @property
    def max_age(self) -> int:
        """Cookie lifetime in seconds."""
        return int(self._ttl.total_seconds())


def token_from_request(request: web.Request) -> str | None:
    """The session token from the cookie or an ``Authorization: Bearer`` header."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)
