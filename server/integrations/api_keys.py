"""API keys for machine clients: issued once, stored as a keyed hash, checked per request.

A key is ``cnd_`` followed by 32 random bytes (base64url): the prefix tells it apart from a
sign-in token at a glance and lets secret scanners recognise it. Only
HMAC-SHA256(server secret, key) is stored. A slow password hash (argon2, scrypt) exists to make
guessing a *low-entropy* password expensive; a 256-bit random key cannot be guessed at any hash
speed, so a slow hash would only cost every API request tens of milliseconds of CPU (and hand
attackers a cheap way to load the server). The HMAC key (the server secret, outside the
database) means a stolen database alone cannot even test a guess.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import select, update

from server.auth import Principal
from server.errors import Handler, NotSignedIn
from server.integrations.api_keys_hash import KeyHasher
from server.services import services
from server.storage.models import ApiKey, AuditEntry, User

PREFIX = "cnd_"
KEY_PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("api_key_principal", Principal)
# Paths where HTTP Basic with the key as user name is accepted (what ATS vendors send).
BASIC_PATHS = ("/api/partner/",)
# Deliberately the same answer for a missing, unknown, revoked or expired key: no hint.
REFUSED = "Please sign in to continue."

__all__ = ["KeyHasher", "api_key_middleware", "authenticate", "new_key"]


def new_key() -> str:
    """A fresh random API key (shown to its creator once)."""
    return PREFIX + secrets.token_urlsafe(32)


def key_from_request(request: web.Request) -> str | None:
    """The API key the request carries (Bearer ``cnd_...``; Basic user name on partner paths)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
        return token if token.startswith(PREFIX) else None
    if header.startswith("Basic ") and request.path.startswith(BASIC_PATHS):
        try:
            user = base64.b64decode(header[6:].strip(), validate=True).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return user.strip()
    return None


async def authenticate(request: web.Request, key: str) -> Principal:
    """The principal of a valid, unrevoked, unexpired key; audits the use. 401 otherwise."""
    svc = services(request)
    if not key.startswith(PREFIX):
        raise NotSignedIn(REFUSED)
    digest = svc.key_hasher.digest(key)
    now = svc.now()
    async with svc.sessions() as session, session.begin():
        row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
        if row is None or row.revoked_at is not None:
            raise NotSignedIn(REFUSED)
        if row.expires_at is not None and _aware(row.expires_at) <= now:
            raise NotSignedIn(REFUSED)
        creator = await session.get(User, row.created_by) if row.created_by else None
        if creator is None or creator.role != "admin":
            raise NotSignedIn(REFUSED)  # a key lives only as long as an admin who vouches for it
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        resource = request.match_info.route.resource
        where = resource.canonical if resource is not None else request.path
        session.add(
            AuditEntry(
                user_id=row.id, action="api_key_used", target=f"{request.method} {where}"[:80]
            )
        )
    return Principal(
        user_id=creator.id,
        role="api_key",
        email="",
        key_id=row.id,
        scopes=frozenset(row.scopes),
        job_ids=None if row.job_ids is None else frozenset(row.job_ids),
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@web.middleware
async def api_key_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve an API key before the handler runs; a bad key is a 401 with no hint."""
    key = key_from_request(request)
    if key is not None:
        request[KEY_PRINCIPAL] = await authenticate(request, key)
    return await handler(request)
