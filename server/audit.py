"""The tamper-evident audit trail: append-only entries, each carrying the previous one's hash.

An entry's hash is SHA-256 over a canonical JSON serialization of its fields plus the previous
entry's hash, so editing, deleting or reordering any row breaks the chain from that row on
(``verify``). Appends are serialized: an in-process lock, then, inside the same database
transaction, an UPDATE of the single ``audit_head`` row *before* the previous hash is read. That
UPDATE takes SQLite's write lock and a PostgreSQL row lock, so two processes can never chain
onto the same predecessor. Entries never hold names, emails or transcripts: only ids.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.storage.models import AuditEntry, AuditHead, User

# Set on a request whose refusal is already in the trail (the middleware then adds nothing).
REFUSAL_AUDITED: web.RequestKey[bool] = web.RequestKey("refusal_audited", bool)
CSV_COLUMNS = (
    "id", "at", "user_id", "user_email", "role", "action", "target",
    "client", "user_agent", "detail", "hash",
)  # fmt: skip


@dataclass(frozen=True)
class AuditRecord:
    """The hashed fields of one entry."""

    id: int
    at: datetime
    user_id: str | None
    role: str
    action: str
    target: str
    client: str
    user_agent: str
    detail: str

    @classmethod
    def of(cls, row: AuditEntry) -> AuditRecord:
        """The hashed fields of a stored row."""
        return cls(
            id=row.id, at=row.at, user_id=row.user_id, role=row.role or "", action=row.action,
            target=row.target or "", client=row.client or "", user_agent=row.user_agent or "",
            detail=row.detail or "",
        )  # fmt: skip


def canonical_time(at: datetime) -> str:
    """UTC ISO time with microseconds (SQLite hands back naive UTC, PostgreSQL aware)."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def entry_hash(record: AuditRecord, prev_hash: str) -> str:
    """SHA-256 hex of the entry's canonical serialization, the previous hash included."""
    payload = {
        "id": record.id,
        "at": canonical_time(record.at),
        "user_id": record.user_id,
        "role": record.role,
        "action": record.action,
        "target": record.target,
        "client": record.client,
        "user_agent": record.user_agent,
        "detail": record.detail,
        "prev": prev_hash,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who acted: user (None for the system or a candidate), role, client address, agent."""

    user_id: str | None = None
    role: str | None = None
    client: str = ""
    user_agent: str = ""

    @classmethod
    def of_request(
        cls, request: web.BaseRequest, user_id: str | None, role: str | None = None
    ) -> Actor:
        """The actor of an HTTP request (the peer address as the server sees it)."""
        return cls(
            user_id=user_id,
            role=role,
            client=(request.remote or "")[:64],
            user_agent=request.headers.get("User-Agent", "")[:400],
        )


SYSTEM = Actor(role="system")


@dataclass(frozen=True)
class Verification:
    """The result of recomputing the chain."""

    ok: bool
    first_broken: int | None = None
    entries: int = 0

    def as_json(self) -> dict[str, Any]:
        """``{"ok": true}`` or ``{"ok": false, "first_broken": id}`` (plus the count)."""
        out: dict[str, Any] = {"ok": self.ok, "entries": self.entries}
        if not self.ok:
            out["first_broken"] = self.first_broken
        return out


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list: by user id, action, and a [since, until) time range."""

    user_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


class AuditTrail:
    """Appends, lists and verifies the chained audit log of one app."""

    def __init__(self, sessions: async_sessionmaker[Any], now: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = now
        self._lock = asyncio.Lock()

    async def append(self, actor: Actor, action: str, target: str = "", detail: str = "") -> int:
        """Chain one entry onto the log; returns its id."""
        async with self._lock, self._sessions() as session, session.begin():
            head = await _lock_head(session)
            role = actor.role
            if role is None:
                role = (
                    await session.scalar(select(User.role).where(User.id == actor.user_id))
                    if actor.user_id
                    else None
                ) or ""
            row = AuditEntry(
                at=self._now().astimezone(UTC),
                user_id=actor.user_id,
                role=role[:20],
                action=action[:60],
                target=target[:80],
                client=actor.client[:64],
                user_agent=actor.user_agent[:400],
                detail=detail[:400],
                prev_hash=head.last_hash,
                hash="",
            )
            session.add(row)
            await session.flush()
            row.hash = entry_hash(AuditRecord.of(row), head.last_hash)
            head.last_id, head.last_hash = row.id, row.hash
            return row.id

    async def entries(self, flt: AuditFilter) -> list[tuple[AuditEntry, str | None]]:
        """Matching entries, newest first, each with the acting user's email."""
        query = select(AuditEntry, User.email).outerjoin(User, User.id == AuditEntry.user_id)
        if flt.user_id:
            query = query.where(AuditEntry.user_id == flt.user_id)
        if flt.action:
            query = query.where(AuditEntry.action == flt.action)
        if flt.since:
            query = query.where(AuditEntry.at >= flt.since)
        if flt.until:
            query = query.where(AuditEntry.at < flt.until)
        query = query.order_by(AuditEntry.id.desc()).limit(flt.limit)
        async with self._sessions() as session:
            return [(r, e) for r, e in (await session.execute(query)).all()]

    async def verify(self, batch: int = 1000) -> Verification:
        """Recompute every hash in id order; the first row that does not match is broken."""
        prev, count, last_id = "", 0, 0
        async with self._sessions() as session:
            while True:
                rows = (
                    await session.scalars(
                        select(AuditEntry)
                        .where(AuditEntry.id > last_id)
                        .order_by(AuditEntry.id)
                        .limit(batch)
                    )
                ).all()
                if not rows:
                    break
                for row in rows:
                    count += 1
                    if row.prev_hash != prev or row.hash != entry_hash(
                        AuditRecord.of(row), row.prev_hash
                    ):
                        return Verification(ok=False, first_broken=row.id, entries=count)
                    prev, last_id = row.hash, row.id
            head = await session.get(AuditHead, 1)
        if head is not None and (head.last_id != last_id or head.last_hash != prev):
            # Entries were removed from the end: the head remembers the real last one.
            return Verification(
                ok=False, first_broken=min(head.last_id, last_id + 1), entries=count
            )
        return Verification(ok=True, entries=count)


async def _lock_head(session: AsyncSession) -> AuditHead:
    """Take the append lock (a write to the head row) and return the head."""
    result = await session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id)
    )
    if getattr(result, "rowcount", 0) == 0:
        session.add(AuditHead(id=1, last_id=0, last_hash=""))
        await session.flush()
    head = await session.get(AuditHead, 1, populate_existing=True)
    assert head is not None
    return head


def _cell(value: object) -> str:
    """A CSV cell that spreadsheets will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Sequence[tuple[AuditEntry, str | None]]) -> str:
    """The entries as CSV (UTF-8, one header line)."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(CSV_COLUMNS)
    for row, email in rows:
        out.writerow(
            _cell(v)
            for v in (
                row.id,
                canonical_time(row.at),
                row.user_id or "",
                email or "",
                row.role,
                row.action,
                row.target,
                row.client,
                row.user_agent,
                row.detail,
                row.hash,
            )
        )
    return buf.getvalue()


def entry_json(row: AuditEntry, email: str | None) -> dict[str, Any]:
    """One entry for the API and the page."""
    return {
        "id": row.id,
        "at": canonical_time(row.at),
        "user_id": row.user_id,
        "user_email": email,
        "role": row.role,
        "action": row.action,
        "target": row.target,
        "client": row.client,
        "user_agent": row.user_agent,
        "detail": row.detail,
        "hash": row.hash,
    }


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def audit_refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refused access (403, from any route) is in the audit trail, once.

    Routes that refuse through ``server.routes.access`` record the refusal themselves (with the
    action); this catches any other 403 so that none goes unrecorded.
    """
    try:
        resp = await handler(request)
    except web.HTTPForbidden:
        if not request.get(REFUSAL_AUDITED):
            await _refused(request)
        raise
    if resp.status == 403 and not request.get(REFUSAL_AUDITED):
        await _refused(request)
    return resp


async def _refused(request: web.Request) -> None:
    from server.routes.common import principal
    from server.services import services

    try:
        who = principal(request)
        user_id: str | None = who.user_id
        role: str | None = who.role
    except Exception:  # not signed in, or an invalid session: still refused, still recorded
        user_id, role = None, ""
    actor = Actor.of_request(request, user_id, role)
    await services(request).audit.append(
        actor, "access_refused", detail=f"{request.method} {_route_of(request)}"[:400]
    )


def _route_of(request: web.Request) -> str:
    """The route pattern (no ids or tokens), or the path when no route matched."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "-"
