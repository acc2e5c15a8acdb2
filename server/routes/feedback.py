"""The optional short, non-score message to the candidate: drafted here, sent by a person.

Only for jobs whose scoring settings enable ``candidate_feedback`` (else 409). GET gives a
draft composed from the score's evidence (nothing is stored or sent); POST with the text,
possibly edited, and ``"send": true`` records who approved it and when, and emails it.
Nothing is ever sent automatically. See docs/feedback.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from analysis.competency.model import Language
from analysis.events import FeedbackSent
from analysis.scoring.feedback import CandidateFeedback, compose_feedback, non_score_problems
from server.auth import Principal
from server.errors import BadInput, Conflict
from server.notify import EmailDeliveryError, EmailSender, SmtpConfig, not_configured_hint
from server.reports import store
from server.rights import rights_url
from server.routes.access import interview_and_job
from server.routes.api import audit
from server.routes.common import read_json
from server.services import Services
from server.storage.models import Candidate, CandidateFeedbackRow, Interview, Job

routes = web.RouteTableDef()

MAX_TEXT = 2000


class FeedbackIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    send: bool = False


async def _enabled(request: web.Request) -> tuple[Principal, Interview, Job, Services]:
    """The interview (401/403/404 first), if its job enables candidate feedback (else 409)."""
    grant, job, svc = await interview_and_job(request, "interview.feedback")
    interview = grant.interview
    options = await store.job_options(svc.sessions, job.id)
    if not options.candidate_feedback:
        raise Conflict(
            "Candidate feedback is turned off for this job, so no message can be drafted or "
            "sent. An administrator or a recruiter on the job can turn it on in the job's scoring "
            'settings (PUT /api/jobs/{id}/scoring with "candidate_feedback": true).',
            code="feedback_disabled",
        )
    return grant.who, interview, job, svc


async def _draft(svc: Services, interview: Interview, job: Job) -> CandidateFeedback:
    history = await svc.events.history(interview.id)
    score = await store.ensure_score(svc.sessions, interview, job, history, svc.now())
    return compose_feedback(score)


async def _messages(svc: Services, interview_id: str) -> list[CandidateFeedbackRow]:
    async with svc.sessions() as session:
        rows = await session.scalars(
            select(CandidateFeedbackRow)
            .where(CandidateFeedbackRow.interview_id == interview_id)
            .order_by(CandidateFeedbackRow.id)
        )
        return list(rows.all())


def _iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def _message_json(row: CandidateFeedbackRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "language": row.language,
        "text": row.text,
        "edited": row.text != row.draft,
        "approved_by": row.approved_by,
        "approved_at": _iso(row.approved_at),
        "status": row.status,
        "detail": row.detail,
        "sent_at": _iso(row.sent_at),
    }


def email_text(
    text: str, language: Language, candidate_name: str, job_title: str, rights: str = ""
) -> tuple[str, str]:
    """Subject and body around the approved text (and the candidate's self-service link)."""
    name = candidate_name.strip()
    if language == "zh":
        subject = f"感谢你参加{job_title}的面试"
        greeting = f"{name}，你好：" if name else "你好："
        body = f"{greeting}\n\n感谢你参加{job_title}职位的面试。\n\n{text}\n\n此致\n招聘团队\n"
        if rights:
            body += f"\n查看、下载或删除我们保存的关于你的数据：{rights}\n"
    else:
        subject = f"Thank you for your interview: {job_title}"
        greeting = f"Dear {name}," if name else "Hello,"
        body = (
            f"{greeting}\n\nThank you for interviewing for the {job_title} position.\n\n"
            f"{text}\n\nKind regards,\nThe hiring team\n"
        )
        if rights:
            body += f"\nSee, download or delete the data we hold about you: {rights}\n"
    return subject, body


@routes.get("/api/interviews/{iid}/feedback")
async def get_feedback(request: web.Request) -> web.Response:
    """A fresh draft (not stored, not sent), email readiness and the messages approved so far."""
    who, interview, job, svc = await _enabled(request)
    draft = await _draft(svc, interview, job)
    async with svc.sessions() as session:
        candidate = await session.get(Candidate, interview.candidate_id)
    configured = SmtpConfig.from_settings(svc.settings) is not None
    rows = await _messages(svc, interview.id)
    await audit(request, who.user_id, "view_feedback", interview.id)
    return web.json_response(
        {
            "enabled": True,
            "draft": draft.model_dump(mode="json"),
            "max_length": MAX_TEXT,
            "email": {
                "configured": configured,
                "candidate_has_email": bool(candidate and candidate.email.strip()),
                "hint": None if configured else not_configured_hint(),
            },
            "sent": any(r.status == "sent" for r in rows),
            "messages": [_message_json(r) for r in rows],
        }
    )


async def _deliver(
    svc: Services,
    candidate: Candidate | None,
    job: Job,
    text: str,
    language: Language,
    rights: str = "",
) -> tuple[str, str, datetime | None]:
    """(status, detail, sent_at): sent, not_sent (nothing to send with/to), or failed."""
    address = candidate.email.strip() if candidate else ""
    if not address:
        return (
            "not_sent",
            "Not sent: the candidate has no email address. Add it to the candidate's record, "
            "then send again.",
            None,
        )
    config = SmtpConfig.from_settings(svc.settings)
    if config is None:
        return "not_sent", "Not sent: email not configured. " + not_configured_hint(), None
    name = candidate.name if candidate else ""
    subject, body = email_text(text, language, name, job.title, rights)
    try:
        await EmailSender(config).send(address, subject, body)
    except EmailDeliveryError as exc:
        return "failed", f"Not sent: {exc}. Check the SMTP settings, then send again.", None
    return "sent", "", svc.now()


@routes.post("/api/interviews/{iid}/feedback")
async def send_feedback(request: web.Request) -> web.Response:
    """A person approves the (edited) message and sends it; stored with who and when."""
    who, interview, job, svc = await _enabled(request)
    body = await read_json(request, FeedbackIn)
    if not body.send:
        raise BadInput(
            'Nothing was stored or sent: set "send": true to approve and send the message. '
            "GET this address for a fresh draft."
        )
    text = body.text.strip()
    problems = non_score_problems(text)
    if problems:
        raise BadInput(
            "The message must stay encouraging and free of scores, numbers and any hint of "
            f"the decision, but {' and '.join(problems)}. Edit it and send again.",
            code="not_non_score",
        )
    draft = await _draft(svc, interview, job)  # also 409 while the interview runs
    if any(r.status == "sent" for r in await _messages(svc, interview.id)):
        raise Conflict("A message was already sent to this candidate.", code="already_sent")
    async with svc.sessions() as session:
        candidate = await session.get(Candidate, interview.candidate_id)
    rights = rights_url(request, interview.candidate_id)
    status, detail, sent_at = await _deliver(svc, candidate, job, text, draft.language, rights)
    row = CandidateFeedbackRow(
        interview_id=interview.id,
        language=draft.language,
        text=text,
        draft=draft.text,
        approved_by_id=who.user_id,
        approved_by=who.email,
        approved_at=svc.now(),
        status=status,
        detail=detail,
        sent_at=sent_at,
    )
    async with svc.sessions() as session, session.begin():
        session.add(row)
    if status == "sent":
        history = await svc.events.history(interview.id)
        await svc.events.append(
            FeedbackSent(
                interview_id=interview.id,
                at=svc.now(),
                t=max((e.t for e in history), default=0.0),
                feedback_id=row.id,
                approved_by=who.email,
                language=draft.language,
            )
        )
    await audit(request, who.user_id, f"feedback_{status}", interview.id)
    return web.json_response(_message_json(row), status=201)
