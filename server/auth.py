"""HR sign-in sessions (signed cookie or bearer token); who may do what: server/policy.py."""

from __future__ import annotations

from collections.abc import Sequence
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
    # An API key (server/integrations/api_keys.py): its id, scopes and job restriction.
    # ``user_id`` is then the admin who created the key (records it makes need a user).
    key_id: str = ""
    scopes: frozenset[str] | None = None
    job_ids: frozenset[str] | None = None  # None: every job

    @property
    def is_admin(self) -> bool:
        """Admins may see every interview (an API key never counts as one)."""
        return self.role == "admin" and self.key_id == ""

    @property
    def is_key(self) -> bool:
        """Whether a machine client's API key makes this request."""
        return self.key_id != ""

    @property
    def actor_id(self) -> str:
        """Who the audit log names: the API key's id, or the user's."""
        return self.key_id or self.user_id

    def key_sees_job(self, job_id: str) -> bool:
        """Whether an API key's job restriction lets it near ``job_id``."""
        return self.job_ids is None or job_id in self.job_ids


class SessionCodec:
    """Issues and checks sign-in tokens; a token names a server-side session (``sessions``)."""

    def __init__(self, secret: bytes, ttl: timedelta, previous: Sequence[bytes] = ()) -> None:
        self._signer = Signer(secret, "session", previous)
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
