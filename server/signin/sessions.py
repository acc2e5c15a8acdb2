"""Server-side sign-in sessions: every request checks its session row, so revocation is at once.

The request-path cost is one primary-key read of ``sessions`` joined to ``users``; the row's
``last_seen_at`` is written at most once a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from server.auth import Principal, SessionCodec
from server.errors import NotSignedIn
from server.storage.models import SessionRow, User

LAST_SEEN_EVERY = timedelta(minutes=1)
# Ended sessions stay this long (who signed in from where, for investigations), then go at
# the user's next sign-in.
KEEP_ENDED = timedelta(days=30)


def _aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class SessionStore:
    """Creates, checks and revokes sign-in sessions."""

    def __init__(self, db: async_sessionmaker[Any], codec: SessionCodec) -> None:
        self._db = db
        self.codec = codec

    async def start(
        self, user: User, now: datetime, *, address: str = "", user_agent: str = ""
    ) -> tuple[str, SessionRow]:
        """A new session for ``user``; returns its token and row."""
        row = SessionRow(
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.codec.ttl,
            client_address=address[:64],
            user_agent=user_agent[:400],
        )
        gone = now - KEEP_ENDED
        async with self._db() as db, db.begin():
            await db.execute(
                delete(SessionRow).where(
                    SessionRow.user_id == user.id,
                    or_(SessionRow.expires_at < gone, SessionRow.revoked_at < gone),
                )
            )
            db.add(row)
        return self.codec.issue(row.id, row.expires_at), row

    async def principal(self, token: str, now: datetime) -> Principal:
        """The user of a live session (not revoked, not expired, user not disabled), or 401."""
        sid = self.codec.session_id(token, now)
        async with self._db() as db:
            found = (
                await db.execute(
                    select(SessionRow, User)
                    .join(User, User.id == SessionRow.user_id)
                    .where(SessionRow.id == sid)
                )
            ).first()
            if found is None:
                raise NotSignedIn("Your session has ended. Please sign in again.")
            row, user = found
            if row.revoked_at is not None or user.disabled:
                raise NotSignedIn("Your session has ended. Please sign in again.")
            if _aware(row.expires_at) <= now:
                raise NotSignedIn("Your session has expired. Please sign in again.")
            if now - _aware(row.last_seen_at) >= LAST_SEEN_EVERY:
                await db.execute(
                    update(SessionRow).where(SessionRow.id == sid).values(last_seen_at=now)
                )
                await db.commit()
        return Principal(user_id=user.id, role=user.role, email=user.email, session_id=sid)

    async def revoke(self, session_id: str, now: datetime) -> None:
        """End one session."""
        async with self._db() as db, db.begin():
            await db.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def revoke_user(self, user_id: str, now: datetime, *, keep: str | None = None) -> int:
        """End every session of ``user_id`` (except ``keep``); returns how many."""
        query = update(SessionRow).where(
            SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None)
        )
        if keep is not None:
            query = query.where(SessionRow.id != keep)
        async with self._db() as db, db.begin():
            result = await db.execute(query.values(revoked_at=now))
        return int(getattr(result, "rowcount", 0) or 0)


def client_address(request: web.Request) -> str:
    """The peer's address as aiohttp sees it (set up a trusted proxy to get the real one)."""
    return request.remote or ""
