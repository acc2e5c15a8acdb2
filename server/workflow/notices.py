"""Rendering outbound messages: invitations with calendar entries, reminders, notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from server.storage.models import Application, Candidate, Invite, Job, JobMember, User
from server.workflow.ics import CalendarEntry, Method, build_ics
from server.workflow.messages import load_template, render
from server.workflow.outbox import enqueue


def base_url(settings: Settings, fallback: str | None = None) -> str:
    """The public base URL links are built on."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return (fallback or f"http://{settings.host}:{settings.port}").rstrip("/")


def job_workflow(job: Job) -> dict[str, Any]:
    """The job's workflow options (invite validity, reminder, slots), never None."""
    return dict(job.workflow or {})


def invite_ttl(settings: Settings, job: Job) -> timedelta:
    """How long the job's invite links stay valid."""
    hours = job_workflow(job).get("invite_ttl_hours") or settings.invite_ttl_hours
    return timedelta(hours=float(hours))


def reminder_before(settings: Settings, job: Job) -> timedelta:
    """How long before the deadline non-starters are reminded."""
    hours = job_workflow(job).get("reminder_hours")
    return timedelta(hours=float(settings.reminder_hours if hours is None else hours))


def interview_minutes(job: Job) -> int:
    """The interview's target length in minutes."""
    return int(float((job.plan_settings or {}).get("duration_minutes", 25)))


def local_time(settings: Settings, at: datetime, language: str) -> str:
    """A date and time in the configured time zone, as a person reads it."""
    tz = ZoneInfo(settings.timezone)
    value = at.astimezone(tz)
    if language == "zh":
        return value.strftime("%Y年%m月%d日 %H:%M") + f" ({settings.timezone})"
    return value.strftime("%d %b %Y, %H:%M") + f" ({settings.timezone})"


def invite_entry(
    settings: Settings,
    job: Job,
    cand: Candidate,
    invite: Invite,
    url: str,
    now: datetime,
    slot: dict[str, Any] | None,
) -> CalendarEntry:
    """The invitation's calendar entry: the chosen slot, or the window up to the deadline."""
    deadline = _aware(invite.expires_at)
    if slot:
        start = datetime.fromisoformat(str(slot["start"]))
        end = datetime.fromisoformat(str(slot["end"]))
    else:
        end = deadline
        start = max(now, end - timedelta(minutes=interview_minutes(job)))
    before = reminder_before(settings, job)
    alarm = deadline - before if deadline - before > now else None
    zh = (cand.language or job.language) == "zh"
    return CalendarEntry(
        uid=f"invite-{invite.id}@candor",
        sequence=invite.sequence,
        summary=f"{job.title}: AI 面试" if zh else f"{job.title}: AI interview",
        description=(f"面试链接：{url}\n截止时间：" if zh else f"Interview link: {url}\nDeadline: ")
        + local_time(settings, deadline, "zh" if zh else "en"),
        start=start,
        end=end,
        timezone=settings.timezone,
        organizer=_address(settings.smtp_from or "candor@localhost"),
        attendees=(cand.email,),
        url=url,
        alarm_at=alarm,
    )


def _address(sender: str) -> str:
    from email.utils import parseaddr

    return parseaddr(sender)[1] or sender


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def enqueue_candidate_email(
    session: AsyncSession,
    sessions: async_sessionmaker[Any],
    settings: Settings,
    *,
    key: str,
    job: Job,
    cand: Candidate,
    app: Application,
    now: datetime,
    values: dict[str, str],
    calendar: tuple[CalendarEntry, Method] | None = None,
) -> None:
    """Render template ``key`` in the candidate's language and queue it (with a calendar)."""
    if not cand.email or cand.deleted_at is not None:
        return
    language = cand.language or job.language
    template = await load_template(sessions, key, language)
    message = render(template, {"name": cand.name, "job": job.title, **values})
    payload: dict[str, Any] = {
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "language": language,
    }
    if calendar is not None:
        entry, method = calendar
        payload["ics"] = build_ics(entry, method, now)
        payload["ics_method"] = method
        payload["ics_uid"] = entry.uid
    enqueue(
        session,
        channel="email",
        template=key,
        recipient=cand.email,
        payload=payload,
        now=now,
        job_id=job.id,
        application_id=app.id,
        candidate_id=cand.id,
    )


async def enqueue_hr_notice(
    session: AsyncSession,
    sessions: async_sessionmaker[Any],
    settings: Settings,
    *,
    key: str,
    job: Job,
    now: datetime,
    values: dict[str, str],
    application_id: str | None = None,
) -> None:
    """Tell the job's owners: WeCom when configured (a link, no names or scores), else email."""
    owners = (
        await session.scalars(
            select(User)
            .join(JobMember, JobMember.user_id == User.id)
            .where(JobMember.job_id == job.id, JobMember.role == "owner")
        )
    ).all()
    wecom_ids = [settings.wecom_users[u.email] for u in owners if u.email in settings.wecom_users]
    app_ready = bool(
        settings.wecom_corp_id and settings.wecom_corp_secret and settings.wecom_agent_id
    )
    by_email = list(owners)
    common = {"job_id": job.id, "application_id": application_id, "now": now}
    template = await load_template(sessions, key, job.language)
    message = render(template, {"job": job.title, "name": "", **values})
    if app_ready and wecom_ids:
        by_email = [u for u in owners if u.email not in settings.wecom_users]
        enqueue(
            session,
            channel="wecom_app",
            template=key,
            recipient="|".join(wecom_ids),
            payload={"markdown": markdown(message.subject, values)},
            **common,  # type: ignore[arg-type]
        )
    elif settings.wecom_robot_key is not None:
        by_email = []
        enqueue(
            session,
            channel="wecom_robot",
            template=key,
            recipient="robot",
            payload={"markdown": markdown(message.subject, values)},
            **common,  # type: ignore[arg-type]
        )
    for user in by_email:
        enqueue(
            session,
            channel="email",
            template=key,
            recipient=user.email,
            payload={"subject": message.subject, "text": message.text, "html": message.html},
            **common,  # type: ignore[arg-type]
        )


def markdown(subject: str, values: dict[str, str]) -> str:
    """A chat message: the subject and a sign-in link, never a name or a score."""
    link = values.get("review_url") or values.get("board_url") or ""
    return f"**{subject}**\n> [{link}]({link})" if link else f"**{subject}**"
