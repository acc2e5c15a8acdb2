"""One-time links to set a password: an invitation for a new user or a reset.

The link carries 256 random bits in its fragment (``/set-password#<token>``), so the token
never reaches access logs or a Referer header; the database keeps only its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from server.errors import Gone, NotFound
from server.services import Services
from server.storage.models import PasswordLinkRow, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(svc: Services, base: str, token: str) -> str:
    """The address a person opens to set their password."""
    return f"{(svc.settings.public_url or base).rstrip('/')}/set-password#{token}"


async def issue_link(
    svc: Services, user_id: str, purpose: str, created_by: str | None
) -> tuple[str, datetime]:
    """A new link for ``user_id`` (older unused links of the user stop working)."""
    token = secrets.token_urlsafe(32)
    now = svc.now()
    expires = now + timedelta(hours=svc.settings.password_link_ttl_hours)
    async with svc.sessions() as db, db.begin():
        await db.execute(
            update(PasswordLinkRow)
            .where(PasswordLinkRow.user_id == user_id, PasswordLinkRow.used_at.is_(None))
            .values(used_at=now)
        )
        db.add(
            PasswordLinkRow(
                token_hash=_digest(token),
                user_id=user_id,
                purpose=purpose,
                created_by=created_by,
                created_at=now,
                expires_at=expires,
            )
        )
    return token, expires


async def open_link(svc: Services, token: str) -> tuple[PasswordLinkRow, User]:
    """The unused, unexpired link and its user; 404 for an unknown token, 410 when spent."""
    async with svc.sessions() as db:
        found = (
            await db.execute(
                select(PasswordLinkRow, User)
                .join(User, User.id == PasswordLinkRow.user_id)
                .where(PasswordLinkRow.token_hash == _digest(token))
            )
        ).first()
    if found is None:
        raise NotFound(
            "This link is not valid. Ask an administrator for a new one.", code="invalid_link"
        )
    link, user = found
    expires = link.expires_at if link.expires_at.tzinfo else link.expires_at.replace(tzinfo=UTC)
    if link.used_at is not None:
        raise Gone("This link has already been used. Ask an administrator for a new one.")
    if expires <= svc.now():
        raise Gone("This link has expired. Ask an administrator for a new one.")
    if user.disabled:
        raise Gone("This account is disabled. Ask an administrator.")
    return link, user


async def spend_link(svc: Services, link_id: str) -> bool:
    """Mark the link used; False when another request used it first (single use)."""
    async with svc.sessions() as db, db.begin():
        result = await db.execute(
            update(PasswordLinkRow)
            .where(PasswordLinkRow.id == link_id, PasswordLinkRow.used_at.is_(None))
            .values(used_at=svc.now())
        )
    return bool(getattr(result, "rowcount", 0))
