"""The human interview round: scheduling with calendar entries for the candidate and the panel.

Interviewers get the AI report's focus points (what to probe) and a link that needs sign-in;
they are assigned the interview so they can open its report. A change bumps ``SEQUENCE`` of the
same ``UID``; cancelling sends ``METHOD:CANCEL``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.errors import BadInput, Conflict, InterviewError, NotFound
from server.services import Services
from server.storage.models import (
    Candidate,
    HumanInterviewRow,
    Interview,
    InterviewAccess,
    Job,
    User,
)
from server.workflow.ics import CalendarEntry, Method, build_ics
from server.workflow.messages import load_template, render
from server.workflow.notices import base_url, enqueue_candidate_email, local_time
from server.workflow.outbox import enqueue
from server.workflow.pipeline import aware, move

SCHEDULABLE = ("interview_done", "recommended", "below_threshold", "human_interview", "decided")


async def focus_points(svc: Services, interview_id: str | None) -> list[str]:
    """The AI report's focus points for the panel (empty when there is no score)."""
    from analysis.scoring.report import build_report
    from server.reports import store

    if interview_id is None:
        return []
    async with svc.sessions() as session:
        interview = await session.get(Interview, interview_id)
        job = await session.get(Job, interview.job_id) if interview else None
    if interview is None or job is None:
        return []
    try:
        history = await svc.events.history(interview_id)
        score = await store.ensure_score(svc.sessions, interview, job, history, svc.now())
    except InterviewError:
        return []
    return [p.text for p in build_report(score).focus_points]


def _entry(
    row: HumanInterviewRow, job: Job, attendees: tuple[str, ...], organizer: str, text: str
) -> CalendarEntry:
    start = aware(row.starts_at)
    assert start is not None
    return CalendarEntry(
        uid=f"human-{row.id}@candor",
        sequence=row.sequence,
        summary=f"{job.title}: interview",
        description=text,
        start=start,
        end=start + timedelta(minutes=row.minutes),
        timezone=row.timezone,
        organizer=organizer,
        attendees=attendees,
        location=row.location,
    )


async def schedule(
    svc: Services,
    job: Job,
    ref: str,
    who: str,
    *,
    interviewer_ids: list[str],
    starts_at: datetime,
    minutes: int,
    location: str,
    timezone: str | None,
    cancel: bool = False,
) -> dict[str, Any]:
    """Schedule (or change, or cancel) the human round and queue the calendar entries."""
    from email.utils import parseaddr

    from server.workflow.invitations import find_application

    now = svc.now()
    s = svc.settings
    organizer = parseaddr(s.smtp_from or "candor@localhost")[1] or "candor@localhost"
    async with svc.sessions() as session, session.begin():
        app = await find_application(session, job.id, ref)
        if app is None:
            raise NotFound("This candidate has not applied to this job.")
        if app.stage not in SCHEDULABLE:
            raise Conflict(
                "Schedule the human interview after the AI interview is done.",
                code="stage_not_allowed",
            )
        cand = await session.get(Candidate, app.candidate_id)
        assert cand is not None
        row = await session.scalar(
            select(HumanInterviewRow).where(
                HumanInterviewRow.application_id == app.id, HumanInterviewRow.cancelled.is_(False)
            )
        )
        if cancel:
            if row is None:
                raise NotFound("No human interview is scheduled for this candidate.")
            row.cancelled = True
            row.sequence += 1
        else:
            if starts_at.tzinfo is None:
                raise BadInput("starts_at needs a time zone, e.g. 2026-12-01T10:00:00+08:00.")
            users = list(
                (await session.scalars(select(User).where(User.id.in_(interviewer_ids)))).all()
            )
            if len(users) != len(set(interviewer_ids)):
                raise BadInput("Some interviewers are not users of Candor; add them first.")
            if row is None:
                row = HumanInterviewRow(application_id=app.id, created_by=who, sequence=0)
                session.add(row)
            else:
                row.sequence += 1
            row.interviewer_ids = [u.id for u in users]
            row.starts_at = starts_at
            row.minutes = minutes
            row.location = location
            row.timezone = timezone or s.timezone
            await session.flush()
            if app.stage != "human_interview":
                await move(session, app, "human_interview", "person", now, who, "scheduled")
            if app.interview_id:
                for user in users:
                    if await session.get(InterviewAccess, (app.interview_id, user.id)) is None:
                        session.add(InterviewAccess(interview_id=app.interview_id, user_id=user.id))
        panel = list(
            (await session.scalars(select(User).where(User.id.in_(row.interviewer_ids)))).all()
        )
        method: Method = "CANCEL" if cancel else "REQUEST"
        start = aware(row.starts_at)
        assert start is not None
        language = cand.language or job.language
        when = local_time(s, start, language)
        values = {"when": when, "where": row.location or "-"}
        entry = _entry(row, job, (cand.email,), organizer, f"{when}\n{row.location}")
        await enqueue_candidate_email(
            session,
            svc.sessions,
            s,
            key="human_interview",
            job=job,
            cand=cand,
            app=app,
            now=now,
            values=values,
            calendar=(entry, method),
        )
        review = f"{base_url(s)}/review/{app.interview_id}" if app.interview_id else ""
        row_id, sequence, app_id, interview_id = row.id, row.sequence, app.id, app.interview_id
    focus = "\n".join(f"- {p}" for p in await focus_points(svc, interview_id))
    async with svc.sessions() as session, session.begin():
        template = await load_template(svc.sessions, "human_interview_panel", job.language)
        msg = render(template, {**values, "job": job.title, "review_url": review, "focus": focus})
        text = f"{msg.text}"
        for user in panel:
            panel_entry = _entry(row, job, (user.email,), organizer, f"{review}\n{focus}")
            enqueue(
                session,
                channel="email",
                template="human_interview_panel",
                recipient=user.email,
                payload={
                    "subject": msg.subject,
                    "text": text,
                    "html": msg.html,
                    "ics": build_ics(panel_entry, method, now),
                    "ics_method": method,
                },
                now=now,
                job_id=job.id,
                application_id=app_id,
            )
    return {
        "id": row_id,
        "application_id": app_id,
        "sequence": sequence,
        "cancelled": cancel,
        "starts_at": start.isoformat(),
        "interviewers": [u.id for u in panel],
        "focus_points": focus.splitlines(),
    }
