"""Inviting candidates: one live link per application; re-invite revokes the old one at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.services import Services
from server.storage.models import Application, Candidate, Interview, Invite, Job
from server.workflow.notices import (
    enqueue_candidate_email,
    interview_minutes,
    invite_entry,
    invite_ttl,
    local_time,
)
from server.workflow.pipeline import aware, move
from server.workflow.stages import Actor


async def find_application(session: AsyncSession, job_id: str, ref: str) -> Application | None:
    """The job's application by its id or by the candidate's id."""
    return await session.scalar(
        select(Application).where(
            Application.job_id == job_id,
            or_(Application.id == ref, Application.candidate_id == ref),
        )
    )


async def live_invite(session: AsyncSession, interview_id: str, now: datetime) -> Invite | None:
    """The interview's unrevoked, unexpired invite, if any."""
    rows = await session.scalars(
        select(Invite)
        .where(Invite.interview_id == interview_id, Invite.revoked.is_(False))
        .order_by(Invite.created_at.desc())
    )
    for inv in rows:
        expires = aware(inv.expires_at)
        if expires is not None and expires > now:
            return inv
    return None


async def enqueue_invite_email(
    session: AsyncSession,
    svc: Services,
    job: Job,
    cand: Candidate,
    app: Application,
    inv: Invite,
    url: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    """Queue the invitation email with its calendar entry (``METHOD:REQUEST``)."""
    entry = invite_entry(svc.settings, job, cand, inv, url, now, app.slot)
    await enqueue_candidate_email(
        session,
        svc.sessions,
        svc.settings,
        key="invite",
        job=job,
        cand=cand,
        app=app,
        now=now,
        values={
            "url": url,
            "deadline": local_time(svc.settings, expires_at, cand.language or job.language),
            "minutes": str(interview_minutes(job)),
            "privacy_url": f"{url}#notice",
        },
        calendar=(entry, "REQUEST"),
    )


async def invite_one(
    svc: Services, job: Job, ref: str, who: str, base: str, *, reinvite: bool
) -> dict[str, Any]:
    """Invite one candidate of ``job``; the result says what happened to them."""
    async with svc.sessions() as session, session.begin():
        app = await find_application(session, job.id, ref)
        if app is None:
            return {
                "candidate_id": ref,
                "status": "error",
                "error": "not_in_job",
                "message": "This candidate has not applied to this job; import them first.",
            }
        return await invite_application(session, svc, job, app, who, base, reinvite=reinvite)


async def invite_application(
    session: AsyncSession,
    svc: Services,
    job: Job,
    app: Application,
    who: str,
    base: str,
    *,
    reinvite: bool,
    actor: Actor = "person",
) -> dict[str, Any]:
    """Invite ``app``'s candidate in the caller's transaction (the board and the partner API).

    Creates the interview when there is none, queues the email with its calendar entry in the
    outbox and moves the card to ``invited``; a live link is kept unless ``reinvite``. ``who``
    is a user id (the interview's creator); an API key acts for the admin who made it.
    """
    now = svc.now()
    out: dict[str, Any] = {"candidate_id": app.candidate_id, "application_id": app.id}
    cand = await session.get(Candidate, app.candidate_id)
    if cand is None or cand.deleted_at is not None:
        return {
            **out,
            "status": "error",
            "error": "deleted",
            "message": "This candidate was deleted and is not messaged.",
        }
    if not cand.email:
        return {
            **out,
            "status": "error",
            "error": "no_email",
            "message": "This candidate has no email address; add one to invite them.",
        }
    interview = await session.get(Interview, app.interview_id) if app.interview_id else None
    if interview is not None and interview.status != "scheduled":
        return {
            **out,
            "status": "error",
            "error": "already_started",
            "message": "This candidate has already started the interview.",
        }
    if app.stage not in ("screened", "invited"):
        return {
            **out,
            "status": "error",
            "error": "stage",
            "message": f"Candidates in '{app.stage}' cannot be invited.",
        }
    old = await live_invite(session, interview.id, now) if interview is not None else None
    if old is not None and not reinvite:
        return {
            **out,
            "status": "already_invited",
            "expires_at": aware(old.expires_at).isoformat(),  # type: ignore[union-attr]
            "message": "Already invited; the link is still valid. Use re-invite to "
            "send a new link (the old one stops working).",
        }
    if interview is None:
        interview = Interview(job_id=job.id, candidate_id=cand.id, created_by=who)
        session.add(interview)
        await session.flush()
        app.interview_id = interview.id
    ttl = invite_ttl(svc.settings, job)
    if old is not None:
        old.revoked = True
        old.sequence += 1
        old_url = f"{base}/i/{svc.invites.issue(old.id, interview.id, ttl, now)}"
        entry = invite_entry(svc.settings, job, cand, old, old_url, now, app.slot)
        await enqueue_candidate_email(
            session,
            svc.sessions,
            svc.settings,
            key="cancel",
            job=job,
            cand=cand,
            app=app,
            now=now,
            values={},
            calendar=(entry, "CANCEL"),
        )
    inv = Invite(interview_id=interview.id, expires_at=now + ttl, sequence=0, created_at=now)
    session.add(inv)
    await session.flush()
    token = svc.invites.issue(inv.id, interview.id, ttl, now)
    url = f"{base}/i/{token}"
    await enqueue_invite_email(session, svc, job, cand, app, inv, url, now + ttl, now)
    await move(session, app, "invited", actor, now, who, "re-invited" if old else "invited")
    app.invited_at = now
    app.delivered_at = app.opened_at = None
    app.reminded_at = app.expiry_noticed_at = None
    return {
        **out,
        "status": "reinvited" if old is not None else "invited",
        "interview_id": interview.id,
        "invite_url": url,
        "expires_at": (now + ttl).isoformat(),
    }
