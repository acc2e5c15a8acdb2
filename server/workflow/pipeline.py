"""Applications in a job's pipeline: moving between stages, importing, listing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.encryption.keyring import KeyRing
from server.errors import BadInput, Conflict
from server.integrations.webhooks.hooks import interview_links
from server.integrations.webhooks.outbox import emit_webhook
from server.storage.models import Application, Candidate, StageChangeRow, new_id
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
    return by_email.get(email) or by_phone.get(phone)


def _phone_forms(phone: str) -> list[str]:
    """A Chinese mobile is matched with and without +86 (both forms get stored)."""
    return [phone, phone[3:]] if phone.startswith("+86") else [phone]


async def _existing(
    session: AsyncSession, ring: KeyRing, emails: Sequence[str], phones: Sequence[str]
) -> tuple[dict[str, Candidate], dict[str, Candidate]]:
    """Existing people by normalized email and phone, found by their keyed hashes."""
    email_of = {h: e for e in emails if (h := ring.search_hash("email", e))}
    phone_of = {
        h: p for p in phones for f in _phone_forms(p) if (h := ring.search_hash("phone", f))
    }
    by_email: dict[str, Candidate] = {}
    by_phone: dict[str, Candidate] = {}
    for column, index, found in (
        (Candidate.email_hmac, email_of, by_email),
        (Candidate.phone_hmac, phone_of, by_phone),
    ):
        hashes = list(index)
        for i in range(0, len(hashes), CHUNK):
            rows = await session.scalars(
                select(Candidate).where(
                    column.in_(hashes[i : i + CHUNK]), Candidate.deleted_at.is_(None)
                )
            )
            for cand in rows:
                digest = cand.email_hmac if found is by_email else cand.phone_hmac
                if digest is not None:
                    found.setdefault(index[digest], cand)
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
) -> tuple[int, list[RowError], list[dict[str, Any]]]:
    """Match rows to existing people, find duplicates in the job; write all or nothing."""
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
    plan: list[tuple[CandidateRow, Candidate | None]] = []
    preview: list[dict[str, Any]] = []
    for row in parsed.rows:
        a = by_email.get(row.email) if row.email else None
        b = by_phone.get(row.phone) if row.phone else None
        if a is not None and b is not None and a.id != b.id:
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
        if person is not None and person.id in applied:
            field = "email" if a is not None else "phone"
            errors.append(
                RowError(
                    row.row,
                    field,
                    f"duplicate_{field}",
                    "This person has already applied to this job.",
                )
            )
            continue
        plan.append((row, person))
        preview.append({"row": row.row, "existing_candidate": person is not None})
    errors.sort(key=lambda e: (e.row, e.field))
    if errors or not write:
        return len(plan), errors, preview
    created: list[dict[str, Any]] = []
    people: list[Candidate] = []
    for row, person in plan:
        if person is None:
            person = Candidate(
                id=new_id(),
                name=row.name,
                email=row.email,
                phone=row.phone,
                language=language,
                created_by=who,
                created_at=now,
            )
            session.add(person)
        people.append(person)
    await session.flush()  # one flush per table: no relationships tell the ORM their order
    apps = []
    for (row, _), person in zip(plan, people, strict=True):
        app = Application(
            id=new_id(),
            job_id=job_id,
            candidate_id=person.id,
            stage="screened",
            stage_at=now,
            tags=list(row.tags),
            external_id=row.external_id,
            created_by=who,
            created_at=now,
        )
        session.add(app)
        apps.append(app)
        created.append({"row": row.row, "application_id": app.id})
    await session.flush()
    for app in apps:
        session.add(
            StageChangeRow(
                application_id=app.id,
                from_stage=None,
                to_stage="screened",
                actor="person",
                by_user_id=who,
                at=now,
                note="imported",
            )
        )
    await session.flush()
    return len(plan), [], created


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
