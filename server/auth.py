"""HR sign-in sessions (signed cookie or bearer token); who may do what: server/policy.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from server.errors import NotSignedIn
from server.signing import BadSignature, Signer
from server.storage.models import User

COOKIE = "candor_session"


@dataclass(frozen=True)
class Principal:
    """The signed-in HR user making a request."""

    user_id: str
    role: str
    email: str

    @property
    def is_admin(self) -> bool:
        """Admins may see every interview."""
        return self.role == "admin"


class SessionCodec:
    """Issues and checks sign-in tokens."""

    def __init__(self, secret: bytes, ttl: timedelta) -> None:
        self._signer = Signer(secret, "session")
        self._ttl = ttl

    def issue(self, user: User, now: datetime) -> str:
        """A session token for ``user``."""
        exp = int((now + self._ttl).timestamp())
        return self._signer.sign({"uid": user.id, "role": user.role, "em": user.email, "exp": exp})

    def check(self, token: str, now: datetime) -> Principal:
        """The principal of a valid, unexpired token."""
        try:
            data = self._signer.unsign(token)
            if now.timestamp() >= int(data["exp"]):
                raise NotSignedIn("Your session has expired. Please sign in again.")
            return Principal(
                user_id=str(data["uid"]), role=str(data["role"]), email=str(data["em"])
            )
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
