"""Applications in a job's pipeline: moving between stages, importing, listing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.encryption.bulk import keep_pending, seal_new_records
from server.encryption.keyring import KeyRing
from server.errors import BadInput, Conflict
from server.integrations.webhooks.hooks import interview_links
from server.integrations.webhooks.outbox import emit_webhook
from server.storage.models import Application, Candidate, DataKey, StageChangeRow, new_id
from server.workflow.importer import CandidateRow, ParsedFile, RowError
from server.workflow.stages import STAGES, Actor, TransitionError, check_move

CHUNK = 500


def aware(at: datetime | None) -> datetime | None:
    """A stored time with its UTC zone (SQLite hands back naive times)."""
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def move(
    session: AsyncSession,
    app: Application,
    to: str,
    actor: Actor,
    now: datetime,
    by_user_id: str | None = None,
    note: str = "",
) -> None:
    """Move ``app`` to ``to`` (409 when not allowed) and record who and when."""
    try:
        stage = check_move(app.stage, to, actor)
    except TransitionError as exc:
        raise Conflict(str(exc), code="stage_not_allowed") from exc
    session.add(
        StageChangeRow(
            application_id=app.id,
            from_stage=app.stage,
            to_stage=stage,
            actor=actor,
            by_user_id=by_user_id,
            note=note[:500],
            at=now,
        )
    )
    previous = app.stage
    app.stage = stage
    app.stage_at = now
    # In the same transaction: receivers hear of every move exactly when it is stored.
    await emit_webhook(
        session,
        "candidate.stage_changed",
        await stage_payload(session, app, previous, actor, now),
        # One lane with the interview's own events, so a receiver sees "started" before
        # the card moves to interview_started; before there is an interview, the application.
        ordering_key=app.interview_id or app.id,
    )


async def stage_payload(
    session: AsyncSession, app: Application, previous: str, actor: Actor, now: datetime
) -> dict[str, Any]:
    """``candidate.stage_changed``: ids, links, and the scoped parts (person, recommendation)."""
    cand = await session.get(Candidate, app.candidate_id)
    payload: dict[str, Any] = {
        "application_id": app.id,
        "external_id": app.external_id or None,
        "candidate_id": app.candidate_id,
        "job_id": app.job_id,
        "interview_id": app.interview_id,
        "from_stage": previous,
        "to_stage": app.stage,
        "actor": actor,
        "at": now.isoformat(),
        "links": interview_links(app.interview_id) if app.interview_id else {},
    }
    if cand is not None and cand.deleted_at is None:
        payload["candidate"] = {"name": cand.name, "email": cand.email, "phone": cand.phone}
    if app.recommendation:
        # The shape of interview.scored's ``recommendation`` (its ``kind``).
        payload["recommendation"] = {"kind": app.recommendation}
    return payload


async def try_move(
    session: AsyncSession, app: Application, to: str, actor: Actor, now: datetime
) -> bool:
    """Move if the table allows it (automatic moves skip silently otherwise)."""
    try:
        check_move(app.stage, to, actor)
    except TransitionError:
        return False
    await move(session, app, to, actor, now)
    return True


async def find_person(
    session: AsyncSession, ring: KeyRing, email: str, phone: str
) -> Candidate | None:
    """The existing person with this (normalized) email, else with this phone, else None.

    The email decides when the two point at different people: it is the identity an ATS
    sends (the board's import refuses such a row instead; an ATS cannot fix it by hand).
    """
    by_email, by_phone = await _existing(
        session, ring, [email] if email else [], [phone] if phone else []
    )
    found = by_email.get(email) or by_phone.get(phone)
    return await session.get(Candidate, found) if found else None


def _phone_forms(phone: str) -> list[str]:
    """A Chinese mobile is matched with and without +86 (both forms get stored)."""
    return [phone, phone[3:]] if phone.startswith("+86") else [phone]


Progress = Callable[[int, int], Awaitable[None]]


def _search_index(
    ring: KeyRing, emails: Sequence[str], phones: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Keyed hash -> normalized email, and -> phone (both forms of a Chinese mobile)."""
    email_of = {h: e for e in emails if (h := ring.search_hash("email", e))}
    phone_of = {
        h: p for p in phones for f in _phone_forms(p) if (h := ring.search_hash("phone", f))
    }
    return email_of, phone_of


async def _existing(
    session: AsyncSession, ring: KeyRing, emails: Sequence[str], phones: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Ids of existing people by normalized email and phone, found by their keyed hashes.

    Only ids and hashes are read: nothing is decrypted to match a file against the database.
    """
    email_of, phone_of = await asyncio.to_thread(_search_index, ring, emails, phones)
    by_email: dict[str, str] = {}
    by_phone: dict[str, str] = {}
    for column, index, found in (
        (Candidate.email_hmac, email_of, by_email),
        (Candidate.phone_hmac, phone_of, by_phone),
    ):
        hashes = list(index)
        for i in range(0, len(hashes), CHUNK):
            rows = await session.execute(
                select(Candidate.id, column)
                .where(column.in_(hashes[i : i + CHUNK]), Candidate.deleted_at.is_(None))
                .order_by(Candidate.created_at)
            )
            for cand_id, digest in rows:
                if digest is not None:
                    found.setdefault(index[digest], cand_id)
    return by_email, by_phone


async def import_rows(
    session: AsyncSession,
    job_id: str,
    parsed: ParsedFile,
    ring: KeyRing,
    who: str,
    language: str,
    now: datetime,
    *,
    write: bool,
    progress: Progress | None = None,
) -> tuple[int, list[RowError], list[dict[str, Any]]]:
    """Match rows to existing people, find duplicates in the job; write all or nothing.

    New people are sealed in a worker thread, each with their own data key, and written with
    bulk inserts in chunks of ``WRITE_CHUNK`` rows (``progress(done, total)`` after each), all
    in the caller's transaction: a failure anywhere leaves nothing behind.
    """
    errors = list(parsed.errors)
    by_email, by_phone = await _existing(
        session,
        ring,
        [r.email for r in parsed.rows if r.email],
        [r.phone for r in parsed.rows if r.phone],
    )
    applied = set(
        (
            await session.scalars(
                select(Application.candidate_id).where(Application.job_id == job_id)
            )
        ).all()
    )
    plan: list[tuple[CandidateRow, str | None]] = []
    preview: list[dict[str, Any]] = []
    planned: dict[str, int] = {}  # an existing person's id -> the row that applies them
    for row in parsed.rows:
        a = by_email.get(row.email) if row.email else None
        b = by_phone.get(row.phone) if row.phone else None
        if a is not None and b is not None and a != b:
            errors.append(
                RowError(
                    row.row,
                    "phone",
                    "conflict",
                    "The email and the phone belong to two different people already.",
                )
            )
            continue
        person = a or b
        field = "email" if a is not None else "phone"
        if person is not None and person in applied:
            errors.append(
                RowError(
                    row.row,
                    field,
                    f"duplicate_{field}",
                    "This person has already applied to this job.",
                )
            )
            continue
        if person is not None and person in planned:
            errors.append(
                RowError(
                    row.row,
                    field,
                    f"duplicate_{field}",
                    f"The same person as row {planned[person]}.",
                )
            )
            continue
        if person is not None:
            planned[person] = row.row
        plan.append((row, person))
        preview.append({"row": row.row, "existing_candidate": person is not None})
    errors.sort(key=lambda e: (e.row, e.field))
    if errors or not write:
        return len(plan), errors, preview
    return len(plan), [], await _write(session, job_id, plan, ring, who, language, now, progress)


# Rows per statement: the event loop prepares each statement's parameters itself; 250 rows keep
# that under 0.1 s (1,000 stalled it for up to 0.8 s on the shared machine).
WRITE_CHUNK = 250


def _table(model: type[Any]) -> Table:
    """The model's table, for Core bulk inserts that bypass the ORM's per-row hooks."""
    return cast(Table, model.__table__)


async def _write(
    session: AsyncSession,
    job_id: str,
    plan: list[tuple[CandidateRow, str | None]],
    ring: KeyRing,
    who: str,
    language: str,
    now: datetime,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    """Insert the new people, their data keys, applications and first stage changes."""
    created: list[dict[str, Any]] = []
    total = len(plan)
    for start in range(0, total, WRITE_CHUNK):
        part = plan[start : start + WRITE_CHUNK]
        people = [
            {
                "id": new_id(),
                "name": row.name,
                "email": row.email,
                "phone": row.phone,
                "language": language,
                "created_by": who,
                "created_at": now,
            }
            for row, person in part
            if person is None
        ]
        # Key generation, wrapping and sealing are CPU work: off the event loop.
        sealed = await asyncio.to_thread(seal_new_records, ring, Candidate, people)
        new_ids = iter(p["id"] for p in people)
        apps = [
            {
                "id": new_id(),
                "job_id": job_id,
                "candidate_id": person if person is not None else next(new_ids),
                "stage": "screened",
                "stage_at": now,
                "tags": list(row.tags),
                "external_id": row.external_id,
                "created_by": who,
                # One microsecond apart: the board lists a file's people in the file's order.
                "created_at": now + timedelta(microseconds=start + i),
                "surveyed": False,
            }
            for i, (row, person) in enumerate(part)
        ]
        if sealed.rows:
            await session.execute(insert(_table(DataKey)), sealed.keys)
            await session.execute(insert(_table(Candidate)), sealed.rows)
            keep_pending(session, sealed.aeads)
        await session.execute(insert(_table(Application)), apps)
        await session.execute(
            insert(_table(StageChangeRow)),
            [
                {
                    "application_id": app["id"],
                    "from_stage": None,
                    "to_stage": "screened",
                    "actor": "person",
                    "by_user_id": who,
                    "note": "imported",
                    "at": now,
                }
                for app in apps
            ],
        )
        created += [
            {"row": row.row, "application_id": app["id"]}
            for (row, _), app in zip(part, apps, strict=True)
        ]
        if progress is not None:
            await progress(start + len(part), total)
    return created


def card(app: Application, cand: Candidate, failed: int = 0) -> dict[str, Any]:
    """One application as the board shows it."""

    def iso(at: datetime | None) -> str | None:
        value = aware(at)
        return value.isoformat() if value else None

    return {
        "id": app.id,
        "candidate_id": cand.id,
        "name": cand.name,
        "email": cand.email,
        "phone": cand.phone,
        "language": cand.language,
        "stage": app.stage,
        "stage_at": iso(app.stage_at),
        "tags": app.tags or [],
        "external_id": app.external_id,
        "recommendation": app.recommendation,
        "interview_id": app.interview_id,
        "tracking": {
            "invited_at": iso(app.invited_at),
            "delivered_at": iso(app.delivered_at),
            "opened_at": iso(app.opened_at),
            "consent_at": iso(app.consent_at),
            "started_at": iso(app.started_at),
            "finished_at": iso(app.finished_at),
            "reminded_at": iso(app.reminded_at),
        },
        "failed_messages": failed,
        "created_at": iso(app.created_at),
    }


def check_stage_filter(stage: str | None) -> None:
    """400 for an unknown stage in a filter."""
    if stage and stage not in STAGES:
        raise BadInput(f"Unknown stage '{stage}'. Stages: {', '.join(STAGES)}.")
