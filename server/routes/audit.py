"""The audit log for admins and auditors: list with filters, CSV export, chain verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from server.audit import AuditFilter, entry_json, to_csv
from server.auth import Principal
from server.errors import BadInput
from server.pages import page
from server.routes.access import require
from server.routes.api import audit
from server.services import services
from server.storage.models import User

routes = web.RouteTableDef()

MAX_ROWS = 10_000


async def _reader(request: web.Request) -> Principal:
    """The signed-in admin or auditor (403, audited, for anyone else)."""
    return await require(request, "audit.read")


def _day(text: str, name: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise BadInput(f"'{name}' must be a date like 2026-11-28.") from exc


async def _filter(request: web.Request, default_limit: int) -> AuditFilter:
    """Filters from the query: user (id or email), action, from/to (dates, inclusive), limit."""
    q = request.query
    user_id = q.get("user", "").strip() or None
    if user_id and "@" in user_id:
        async with services(request).sessions() as session:
            found = await session.scalar(select(User.id).where(User.email == user_id.lower()))
        user_id = found or "-"  # an unknown email matches nothing
    raw_limit = q.get("limit", str(default_limit))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_ROWS:
        raise BadInput(f"'limit' must be a whole number from 1 to {MAX_ROWS}.")
    return AuditFilter(
        user_id=user_id,
        action=q.get("action", "").strip() or None,
        since=_day(q["from"], "from") if q.get("from") else None,
        until=_day(q["to"], "to") + timedelta(days=1) if q.get("to") else None,
        limit=int(raw_limit),
    )


@routes.get("/api/audit")
async def audit_log(request: web.Request) -> web.Response:
    """The newest matching entries (who did what to which record, from where)."""
    await _reader(request)
    rows = await services(request).audit.entries(await _filter(request, 200))
    return web.json_response([entry_json(r, e) for r, e in rows])


@routes.get("/api/audit.csv")
async def audit_csv(request: web.Request) -> web.Response:
    """The matching entries as CSV (the export is itself audited)."""
    who = await _reader(request)
    flt = await _filter(request, MAX_ROWS)
    rows = await services(request).audit.entries(flt)
    await audit(request, who.user_id, "export_audit", detail=f"{len(rows)} rows")
    return web.Response(
        text=to_csv(rows),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="audit.csv"',
            "Cache-Control": "private, no-store",
        },
    )


@routes.get("/api/audit/verify")
async def audit_verify(request: web.Request) -> web.Response:
    """Recompute the hash chain: ``{"ok": true}`` or the id of the first broken entry."""
    who = await _reader(request)
    result = await services(request).audit.verify()
    await audit(request, who.user_id, "verify_audit", detail="ok" if result.ok else "broken")
    return web.json_response(result.as_json())


@routes.get("/audit")
async def audit_page(request: web.Request) -> web.StreamResponse:
    """The audit page with filters and CSV export (admins and auditors)."""
    await _reader(request)
    return page("audit.html")
