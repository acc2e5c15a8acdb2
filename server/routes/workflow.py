"""REST API of the recruiting workflow: import, invite, pipeline, moves, messages, tracking."""

from __future__ import annotations

import asyncio
import json
import statistics
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from server.errors import BadInput, InterviewError, NotFound, TooLarge, error_body
from server.pages import page
from server.routes.access import require, require_job
from server.routes.api import audit
from server.routes.common import read_json
from server.services import services
from server.storage.models import (
    Application,
    Candidate,
    MessageTemplateRow,
    OutboxRow,
    StageChangeRow,
    SurveyResponseRow,
    User,
)
from server.workflow.importer import (
    CandidateRow,
    ImportFileError,
    ParsedFile,
    normalize_email,
    normalize_phone,
    parse_upload,
    valid_phone,
)
from server.workflow.invitations import (
    enqueue_invite_email,
    find_application,
    invite_one,
    live_invite,
)
from server.workflow.messages import (
    CHANNELS,
    LANGUAGES,
    PLACEHOLDERS,
    REQUIRED_IN_TEXT,
    TEMPLATE_KEYS,
    MessageTemplate,
    check_template,
    default_template,
    render,
    sample_values,
)
from server.workflow.notices import base_url, enqueue_candidate_email, local_time
from server.workflow.notices import markdown as wecom_markdown
from server.workflow.pipeline import aware, card, check_stage_filter, import_rows, move
from server.workflow.service import WORKFLOW
from server.workflow.stages import STAGES

routes = web.RouteTableDef()
MAX_IMPORT_BYTES = 8 * 1024 * 1024
MAX_IDS = 2000
MAX_COMMENTS = 200


class CandidateIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    email: str = Field("", max_length=255)
    phone: str = Field("", max_length=40)
    external_id: str = Field("", max_length=120)
    tags: list[str] = Field(default_factory=list, max_length=20)
    language: Literal["zh", "en"] | None = None


class IdsIn(BaseModel):
    candidate_ids: list[str] = Field(min_length=1, max_length=MAX_IDS)
    reinvite: bool = False


class MoveIn(BaseModel):
    candidate_ids: list[str] = Field(min_length=1, max_length=MAX_IDS)
    stage: str
    note: str = Field("", max_length=500)


class TemplateIn(BaseModel):
    # Lengths and emptiness are checked by check_template, with messages in zh and en.
    subject: str
    text: str
    html: str = ""


class SurveyIn(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=2000)


def _base(request: web.Request) -> str:
    return base_url(services(request).settings, f"{request.scheme}://{request.host}")


async def _upload(request: web.Request) -> tuple[bytes, str, str]:
    """The uploaded file: a raw CSV/XLSX body or a multipart ``file`` field."""
    if request.content_length is not None and request.content_length > MAX_IMPORT_BYTES:
        raise TooLarge("The file is larger than 8 MB; split it into parts.")
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if getattr(part, "name", None) == "file":
                data = await part.read()  # type: ignore[union-attr]
                return bytes(data), part.filename or "", part.headers.get("Content-Type", "")  # type: ignore[union-attr]
        raise BadInput("Send the file in a multipart field named 'file'.")
    return await request.read(), "", request.content_type


def _dry_run(request: web.Request) -> bool:
    return request.query.get("dry_run", request.query.get("preview", "0")) in ("1", "true", "yes")


@routes.post("/api/jobs/{jid}/candidates/import")
async def import_candidates(request: web.Request) -> web.StreamResponse:
    """Import a CSV/XLSX: all rows or none; ``?dry_run=1`` only reports what would happen.

    ``?progress=1`` answers with NDJSON instead: ``{"progress": {"done": n, "total": m}}``
    lines while the rows are written, then one line with the usual answer and its
    ``"status"`` (the page shows how far a long import has got).
    """
    who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.edit")
    data, filename, ctype = await _upload(request)
    try:
        # Reading and checking ten thousand rows is CPU work: off the event loop.
        parsed = await asyncio.to_thread(parse_upload, data, filename, ctype)
    except ImportFileError as exc:
        raise BadInput(str(exc), code="bad_file") from exc
    dry = _dry_run(request)
    stream: web.StreamResponse | None = None
    if request.query.get("progress") in ("1", "true", "yes"):
        stream = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await stream.prepare(request)

    async def progress(done: int, total: int) -> None:
        if stream is not None:
            line = {"progress": {"done": done, "total": total}}
            await stream.write(json.dumps(line).encode() + b"\n")

    try:
        async with svc.sessions() as session, session.begin():
            n, errors, preview = await import_rows(
                session,
                job.id,
                parsed,
                svc.keyring,
                who.user_id,
                job.language,
                svc.now(),
                write=not dry,
                progress=progress,
            )
    except InterviewError as exc:
        if stream is None:
            raise
        return await _last_line(stream, {"status": exc.status, **error_body(exc, request)})
    body: dict[str, Any] = {
        "imported": 0 if dry or errors else n,
        "valid": n,
        "errors": [e.as_json() for e in errors],
        "dry_run": dry,
    }
    if dry:
        body["rows"] = preview[:200]
    status = 200 if dry or not errors else 422
    if stream is not None:
        return await _last_line(stream, {"status": status, **body})
    return web.json_response(body, status=status)


async def _last_line(stream: web.StreamResponse, body: dict[str, Any]) -> web.StreamResponse:
    await stream.write(json.dumps(body, ensure_ascii=False).encode() + b"\n")
    await stream.write_eof()
    return stream


@routes.post("/api/jobs/{jid}/candidates")
async def add_candidate(request: web.Request) -> web.Response:
    """Add one candidate to the job (the same person found by email or phone is reused)."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.edit")
    body = await read_json(request, CandidateIn)
    email, phone = normalize_email(body.email), normalize_phone(body.phone)
    if phone and not valid_phone(phone):
        raise BadInput("The phone number is not valid.")
    parsed = ParsedFile(
        rows=[CandidateRow(1, body.name, email, phone, body.external_id, tuple(body.tags))]
    )
    if not email and not phone:
        raise BadInput("Give an email or a mobile number.")
    async with svc.sessions() as session, session.begin():
        _n, errors, created = await import_rows(
            session,
            job.id,
            parsed,
            svc.keyring,
            who.user_id,
            body.language or job.language,
            svc.now(),
            write=True,
        )
        if errors:
            raise BadInput(errors[0].message, code=errors[0].code)
        app = await session.get(Application, created[0]["application_id"])
        assert app is not None
        cand = await session.get(Candidate, app.candidate_id)
        assert cand is not None
    return web.json_response(card(app, cand), status=201)


@routes.post("/api/jobs/{jid}/invitations")
async def invite(request: web.Request) -> web.Response:
    """Invite candidates by email (with a calendar entry); one result per candidate."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.edit")
    body = await read_json(request, IdsIn)
    base = _base(request)
    results = [
        await invite_one(svc, job, ref, who.user_id, base, reinvite=body.reinvite)
        for ref in dict.fromkeys(body.candidate_ids)
    ]
    request.app[WORKFLOW].wake()
    return web.json_response({"results": results})


@routes.post("/api/jobs/{jid}/reminders")
async def remind(request: web.Request) -> web.Response:
    """Send a reminder now to invited candidates who have not started."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.edit")
    body = await read_json(request, IdsIn)
    results = []
    now = svc.now()
    async with svc.sessions() as session, session.begin():
        for ref in dict.fromkeys(body.candidate_ids):
            app = await find_application(session, job.id, ref)
            inv = None
            if app is not None and app.interview_id and app.started_at is None:
                inv = await live_invite(session, app.interview_id, now)
            if app is None or inv is None or app.stage != "invited":
                results.append(
                    {
                        "candidate_id": ref,
                        "status": "skipped",
                        "message": "Only invited candidates who have not started, "
                        "with a valid link, are reminded.",
                    }
                )
                continue
            cand = await session.get(Candidate, app.candidate_id)
            assert cand is not None and app.interview_id is not None
            deadline = aware(inv.expires_at)
            assert deadline is not None
            token = svc.invites.issue(inv.id, app.interview_id, deadline - now, now)
            await enqueue_candidate_email(
                session,
                svc.sessions,
                svc.settings,
                key="reminder",
                job=job,
                cand=cand,
                app=app,
                now=now,
                values={
                    "deadline": local_time(svc.settings, deadline, cand.language or job.language),
                    "url": f"{_base(request)}/i/{token}",
                },
            )
            app.reminded_at = now
            results.append({"candidate_id": app.candidate_id, "status": "reminded"})
    request.app[WORKFLOW].wake()
    return web.json_response({"results": results})


@routes.post("/api/jobs/{jid}/moves")
async def move_many(request: web.Request) -> web.Response:
    """A person moves candidates to a stage (only allowed moves; one result each)."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.edit")
    body = await read_json(request, MoveIn)
    check_stage_filter(body.stage)
    results = []
    for ref in dict.fromkeys(body.candidate_ids):
        try:
            async with svc.sessions() as session, session.begin():
                app = await find_application(session, job.id, ref)
                if app is None:
                    raise NotFound("This candidate has not applied to this job.")
                await move(session, app, body.stage, "person", svc.now(), who.user_id, body.note)
                results.append(
                    {"candidate_id": app.candidate_id, "status": "moved", "stage": app.stage}
                )
        except (NotFound, Exception) as exc:
            from server.errors import InterviewError

            if not isinstance(exc, InterviewError):
                raise
            results.append(
                {"candidate_id": ref, "status": "error", "error": exc.code, "message": exc.message}
            )
    return web.json_response({"results": results})


def _since(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"{name} must be a date like 2026-11-28.") from exc


@routes.get("/api/jobs/{jid}/pipeline")
async def pipeline(request: web.Request) -> web.Response:
    """The job's board: ``{"stages": {stage: [card...]}, "counts": {...}}``; filters in query.

    ``counts`` covers every match; each column lists at most ``limit`` cards (default 500),
    so a job with ten thousand candidates answers quickly (only listed cards are decrypted).
    """
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.read")
    q = request.query
    stage = q.get("stage")
    check_stage_filter(stage)
    since, until = _since(q.get("since"), "since"), _since(q.get("until"), "until")
    limit = q.get("limit", "500")
    if not limit.isdigit() or not 1 <= int(limit) <= 10_000:
        raise BadInput("limit must be a whole number from 1 to 10000.")
    query = (
        select(Application)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(Application.job_id == job.id, Candidate.deleted_at.is_(None))
    )
    if stage:
        query = query.where(Application.stage == stage)
    if q.get("recommendation"):
        query = query.where(Application.recommendation == q["recommendation"])
    if since:
        query = query.where(Application.stage_at >= since)
    if until:
        query = query.where(Application.stage_at <= until)
    tag = q.get("tag")
    counts: dict[str, int] = dict.fromkeys(STAGES, 0)
    shown: dict[str, list[Application]] = {s: [] for s in STAGES}
    async with svc.sessions() as session:
        if tag:
            # Tags are a JSON list: filtered here, over every match.
            for app in await session.scalars(query.order_by(Application.created_at)):
                if tag not in (app.tags or []):
                    continue
                counts[app.stage] += 1
                if len(shown[app.stage]) < int(limit):
                    shown[app.stage].append(app)
        else:
            # Counted by the database; only the listed cards are loaded (a 10,000-card job
            # would otherwise build every row as an object on the event loop).
            grouped = query.with_only_columns(Application.stage, func.count()).group_by(
                Application.stage
            )
            for column, n in (await session.execute(grouped)).all():
                counts[column] = n
            for column in [stage] if stage else [s for s in STAGES if counts[s]]:
                shown[column] = list(
                    await session.scalars(
                        query.where(Application.stage == column)
                        .order_by(Application.created_at)
                        .limit(int(limit))
                    )
                )
        wanted = [a.candidate_id for column in shown.values() for a in column]
        people: dict[str, Candidate] = {}
        for k in range(0, len(wanted), 500):
            for cand in await session.scalars(
                select(Candidate).where(Candidate.id.in_(wanted[k : k + 500]))
            ):
                people[cand.id] = cand
        failed = dict(
            (
                await session.execute(
                    select(OutboxRow.application_id, func.count())
                    .where(OutboxRow.job_id == job.id, OutboxRow.status == "failed")
                    .group_by(OutboxRow.application_id)
                )
            ).all()
        )
    stages = {
        s: [card(a, people[a.candidate_id], int(failed.get(a.id, 0))) for a in column]
        for s, column in shown.items()
    }
    return web.json_response({"job_id": job.id, "stages": stages, "counts": counts})


@routes.get("/api/jobs/{jid}/applications/{aid}")
async def application(request: web.Request) -> web.Response:
    """One card with its stage timeline (who, when) and its messages (no bodies)."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.read")
    async with svc.sessions() as session:
        app = await find_application(session, job.id, request.match_info["aid"])
        if app is None:
            raise NotFound("No such candidate in this job.")
        cand = await session.get(Candidate, app.candidate_id)
        assert cand is not None
        changes = (
            await session.scalars(
                select(StageChangeRow)
                .where(StageChangeRow.application_id == app.id)
                .order_by(StageChangeRow.id)
            )
        ).all()
        messages = (
            await session.execute(
                select(*MESSAGE_COLUMNS)
                .where(OutboxRow.application_id == app.id)
                .order_by(OutboxRow.id)
            )
        ).all()
        people = sorted({c.by_user_id for c in changes if c.by_user_id})
        emails = dict(
            (await session.execute(select(User.id, User.email).where(User.id.in_(people)))).all()
        )
    return web.json_response(
        {
            **card(app, cand),
            "timeline": [
                {
                    "from": c.from_stage,
                    "to": c.to_stage,
                    "actor": c.actor,
                    "by": c.by_user_id,
                    "by_email": emails.get(c.by_user_id) if c.by_user_id else None,
                    "note": c.note,
                    "at": (aware(c.at) or c.at).isoformat(),
                }
                for c in changes
            ],
            "messages": [_message(m) for m in messages],
        }
    )


# The message columns HR may see; the recipient and body stay sealed (never loaded here).
MESSAGE_COLUMNS = (
    OutboxRow.id,
    OutboxRow.channel,
    OutboxRow.template,
    OutboxRow.application_id,
    OutboxRow.status,
    OutboxRow.attempts,
    OutboxRow.last_error,
    OutboxRow.created_at,
    OutboxRow.sent_at,
)


def _message(m: Any) -> dict[str, Any]:
    created, sent = aware(m.created_at), aware(m.sent_at)
    return {
        "id": m.id,
        "channel": m.channel,
        "template": m.template,
        "application_id": m.application_id,
        "status": m.status,
        "attempts": m.attempts,
        "error": m.last_error,
        "created_at": created.isoformat() if created else None,
        "sent_at": sent.isoformat() if sent else None,
    }


@routes.get("/api/jobs/{jid}/messages")
async def messages(request: web.Request) -> web.Response:
    """Every outbound message of the job: channel, template, time, status, error (no body)."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.read")
    async with svc.sessions() as session:
        rows = (
            await session.execute(
                select(*MESSAGE_COLUMNS).where(OutboxRow.job_id == job.id).order_by(OutboxRow.id)
            )
        ).all()
    return web.json_response([_message(m) for m in rows])


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@routes.get("/api/jobs/{jid}/tracking")
async def tracking(request: web.Request) -> web.Response:
    """Job totals: sent, delivered, opened, consent, started, finished; rates; median time."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.read")
    async with svc.sessions() as session:
        apps = (
            await session.scalars(select(Application).where(Application.job_id == job.id))
        ).all()
        survey = (
            await session.execute(
                select(SurveyResponseRow.rating, SurveyResponseRow.comment).where(
                    SurveyResponseRow.job_id == job.id
                )
            )
        ).all()
    ratings = [r for r, _ in survey]
    sent = [a for a in apps if a.invited_at]
    n = {
        "candidates": len(apps),
        "sent": len(sent),
        "delivered": sum(1 for a in sent if a.delivered_at),
        "opened": sum(1 for a in sent if a.opened_at),
        "consent": sum(1 for a in sent if a.consent_at),
        "started": sum(1 for a in sent if a.started_at),
        "finished": sum(1 for a in sent if a.finished_at),
    }
    spans = [
        (aware(a.finished_at) - aware(a.invited_at)).total_seconds() / 3600  # type: ignore[operator]
        for a in sent
        if a.finished_at
    ]
    return web.json_response(
        {
            **n,
            "open_rate": _rate(n["opened"], n["sent"]),
            "participation_rate": _rate(n["started"], n["sent"]),
            "completion_rate": _rate(n["finished"], n["sent"]),
            "median_hours_invite_to_completion": round(statistics.median(spans), 2)
            if spans
            else None,
            "survey": {
                "responses": len(ratings),
                "mean_rating": round(statistics.mean(ratings), 2) if ratings else None,
                "ratings": {str(n): ratings.count(n) for n in range(1, 6)},
                # No times and no order of arrival: a comment cannot be matched to the
                # interview that just ended.
                "comments": sorted(
                    ({"rating": r, "comment": c} for r, c in survey if c.strip()),
                    key=lambda x: (x["rating"], x["comment"]),
                )[:MAX_COMMENTS],
            },
        }
    )


def _template_key(request: web.Request) -> tuple[str, str]:
    key, lang = request.match_info["key"], request.match_info["lang"]
    if key not in TEMPLATE_KEYS or lang not in LANGUAGES:
        raise NotFound(f"No template '{key}' in '{lang}'. Keys: {', '.join(TEMPLATE_KEYS)}.")
    return key, lang


async def _template_in(request: web.Request, key: str) -> MessageTemplate:
    body = await read_json(request, TemplateIn)
    template = MessageTemplate(body.subject.strip(), body.text, body.html)
    check_template(key, template)
    return template


@routes.get("/api/message-templates")
async def list_templates(request: web.Request) -> web.Response:
    """Every message template in zh and en (an admin's edit or the built-in text)."""
    await require(request, "users.manage")
    async with services(request).sessions() as session:
        edited = {(r.key, r.language): r for r in await session.scalars(select(MessageTemplateRow))}
    out = []
    for key in TEMPLATE_KEYS:
        for lang in LANGUAGES:
            row = edited.get((key, lang))
            t = (
                MessageTemplate(row.subject, row.text, row.html)
                if row
                else default_template(key, lang)
            )
            out.append(
                {
                    "key": key,
                    "language": lang,
                    "subject": t.subject,
                    "text": t.text,
                    "html": t.html,
                    "edited": row is not None,
                    "updated_at": aware(row.updated_at).isoformat() if row else None,  # type: ignore[union-attr]
                    "placeholders": list(PLACEHOLDERS[key]),
                    "required": list(REQUIRED_IN_TEXT.get(key, ())),
                    "channels": list(CHANNELS[key]),
                }
            )
    return web.json_response(out)


@routes.put("/api/message-templates/{key}/{lang}")
async def edit_template(request: web.Request) -> web.Response:
    """An admin replaces a template in one language (DELETE goes back to the built-in one).

    Refused with a 400 naming the field (``details.field``), in the caller's language, when
    a placeholder is unknown to the message, a required link is missing, or a part is empty.
    """
    who = await require(request, "users.manage")
    key, lang = _template_key(request)
    body = await _template_in(request, key)
    async with services(request).sessions() as session, session.begin():
        row = await session.get(MessageTemplateRow, (key, lang))
        if row is None:
            row = MessageTemplateRow(key=key, language=lang)
            session.add(row)
        row.subject, row.text, row.html = body.subject, body.text, body.html
        row.updated_by, row.updated_at = who.user_id, services(request).now()
    await audit(request, who.user_id, "edit_message_template", f"{key}/{lang}")
    return web.json_response({"key": key, "language": lang, **asdict(body)})


@routes.delete("/api/message-templates/{key}/{lang}")
async def reset_template(request: web.Request) -> web.Response:
    """Drop an admin's edit: the built-in template is used again (and returned)."""
    who = await require(request, "users.manage")
    key, lang = _template_key(request)
    async with services(request).sessions() as session, session.begin():
        row = await session.get(MessageTemplateRow, (key, lang))
        if row is not None:
            await session.delete(row)
    await audit(request, who.user_id, "reset_message_template", f"{key}/{lang}")
    t = default_template(key, lang)
    return web.json_response(
        {"key": key, "language": lang, "subject": t.subject, "text": t.text, "html": t.html}
    )


@routes.post("/api/message-templates/{key}/{lang}/preview")
async def preview_template(request: web.Request) -> web.Response:
    """Render a draft with sample values, checked as a save would check it; nothing is stored."""
    await require(request, "users.manage")
    key, lang = _template_key(request)
    draft = await _template_in(request, key)
    values = sample_values(key, lang)
    message = render(draft, values)
    return web.json_response(
        {
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "values": values,
            "wecom": wecom_markdown(message.subject, values) if "wecom" in CHANNELS[key] else None,
        }
    )


@routes.get("/message-templates")
async def templates_page(_request: web.Request) -> web.StreamResponse:
    """The admin page for editing message templates (its data needs an admin)."""
    return page("templates.html")


@routes.post("/api/join/{token}/survey")
async def survey(request: web.Request) -> web.Response:
    """The candidate rates the experience (1-5, optional comment); kept apart from scoring."""
    from server.routes.candidate import invite_claim_interview

    svc = services(request)
    interview_id = await invite_claim_interview(svc, request.match_info["token"])
    body = await read_json(request, SurveyIn)
    async with svc.sessions() as session, session.begin():
        app = await session.scalar(
            select(Application).where(Application.interview_id == interview_id)
        )
        if app is None:
            raise NotFound("No survey for this interview.")
        if app.surveyed:
            return web.json_response({"ok": True, "already": True})
        app.surveyed = True
        session.add(
            SurveyResponseRow(
                job_id=app.job_id, rating=body.rating, comment=body.comment, at=svc.now()
            )
        )
    return web.json_response({"ok": True})


@routes.get("/jobs/{jid}")
async def job_page(_request: web.Request) -> web.StreamResponse:
    """The job page shell (settings, import, board); its data comes from the API."""
    return page("job.html")


class HumanInterviewIn(BaseModel):
    interviewer_ids: list[str] = Field(default_factory=list, max_length=20)
    interviewer_emails: list[str] = Field(default_factory=list, max_length=20)
    starts_at: datetime
    minutes: int = Field(60, ge=10, le=480)
    location: str = Field("", max_length=500)
    timezone: str | None = Field(None, max_length=60)


@routes.post("/api/jobs/{jid}/applications/{aid}/human-interview")
async def schedule_human(request: web.Request) -> web.Response:
    """Schedule or change the human round; calendar entries go to the candidate and the panel."""
    from server.workflow.human import schedule

    who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.edit")
    body = await read_json(request, HumanInterviewIn)
    if body.timezone:
        _check_timezone(body.timezone)
    ids = list(body.interviewer_ids)
    if body.interviewer_emails:
        emails = [e.strip().lower() for e in body.interviewer_emails if e.strip()]
        async with svc.sessions() as session:
            users = (await session.scalars(select(User).where(User.email.in_(emails)))).all()
        unknown = sorted(set(emails) - {u.email for u in users})
        if unknown:
            raise BadInput(f"No Candor user has the email {unknown[0]}; add them as a user first.")
        ids += [u.id for u in users]
    result = await schedule(
        svc,
        job,
        request.match_info["aid"],
        who.user_id,
        interviewer_ids=list(dict.fromkeys(ids)),
        starts_at=body.starts_at,
        minutes=body.minutes,
        location=body.location,
        timezone=body.timezone,
    )
    request.app[WORKFLOW].wake()
    return web.json_response(result, status=201)


@routes.delete("/api/jobs/{jid}/applications/{aid}/human-interview")
async def cancel_human(request: web.Request) -> web.Response:
    """Cancel the human round (METHOD:CANCEL to everyone invited)."""
    from server.workflow.human import schedule

    who, job, svc = await require_job(request, request.match_info["jid"], "job.pipeline.edit")
    result = await schedule(
        svc,
        job,
        request.match_info["aid"],
        who.user_id,
        interviewer_ids=[],
        starts_at=svc.now(),
        minutes=60,
        location="",
        timezone=None,
        cancel=True,
    )
    request.app[WORKFLOW].wake()
    return web.json_response(result)


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadInput(f"Unknown time zone '{name}'; use a name like Asia/Shanghai.") from exc


class SlotChoiceIn(BaseModel):
    start: str = Field(max_length=40)


@routes.get("/api/join/{token}/slots")
async def slots(request: web.Request) -> web.Response:
    """The time windows the recruiter offers, and the one the candidate chose."""
    from server.routes.candidate import interview_from_invite

    svc = services(request)
    interview, job = await interview_from_invite(svc, request.match_info["token"])
    async with svc.sessions() as session:
        app = await session.scalar(
            select(Application).where(Application.interview_id == interview.id)
        )
    offered = (job.workflow or {}).get("slots", [])
    return web.json_response({"slots": offered, "chosen": app.slot if app else None})


@routes.post("/api/join/{token}/slot")
async def choose_slot(request: web.Request) -> web.Response:
    """The candidate picks a window; the calendar entry is updated (same UID, next SEQUENCE)."""
    from server.routes.candidate import interview_from_invite

    svc = services(request)
    token = request.match_info["token"]
    interview, job = await interview_from_invite(svc, token)
    body = await read_json(request, SlotChoiceIn)
    offered = [s for s in (job.workflow or {}).get("slots", []) if s.get("start") == body.start]
    if not offered:
        raise BadInput("This time is not offered; pick one of the listed times.")
    now = svc.now()
    claim = svc.invites.check(token, now)
    async with svc.sessions() as session, session.begin():
        app = await session.scalar(
            select(Application).where(Application.interview_id == interview.id)
        )
        from server.storage.models import Invite

        inv = await session.get(Invite, claim.invite_id)
        if app is None or inv is None:
            raise NotFound("This interview was not sent through a job's pipeline.")
        cand = await session.get(Candidate, app.candidate_id)
        assert cand is not None
        app.slot = offered[0]
        inv.sequence += 1
        url = f"{_base(request)}/i/{token}"
        await enqueue_invite_email(session, svc, job, cand, app, inv, url, claim.expires_at, now)
    request.app[WORKFLOW].wake()
    return web.json_response({"chosen": offered[0], "sequence": inv.sequence})
