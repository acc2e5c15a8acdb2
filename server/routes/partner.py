"""ATS assessment-partner API, in the shape of Greenhouse's assessment-partner contract.

``list_tests`` lists the jobs a key may order interviews for (a job is a "test");
``send_test`` puts the person in the job's pipeline (found as the workflow finds people: one
person, one candidate, an application per job) and sends the board's invitation through the
workflow outbox, once per external application id; ``test_status`` reports progress, the
pipeline stage, the report link, per-competency scores (only with ``results:read``) and the
human decision. Besides ``Bearer cnd_...``, HTTP Basic with the API key as user name is
accepted here, because that is what those ATSs send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from analysis.scoring import InterviewScore
from server.auth import Principal
from server.errors import BadInput, Conflict, NotFound
from server.integrations.described import describe
from server.integrations.webhooks.outbox import RESULT_STAGES, SCORED
from server.reports import store
from server.routes.access import member_jobs, require, require_interview, require_job
from server.routes.api import audit
from server.routes.common import read_json
from server.services import Services, services
from server.storage.models import (
    Application,
    Candidate,
    Job,
    PartnerOrder,
    StageChangeRow,
)
from server.workflow.importer import normalize_email, normalize_phone, valid_phone
from server.workflow.invitations import invite_application, live_invite
from server.workflow.notices import base_url
from server.workflow.pipeline import aware, find_person
from server.workflow.service import WORKFLOW

routes = web.RouteTableDef()
PARTNER_AUTH = ("bearer", "basic")


class PartnerTest(BaseModel):
    """A job an ATS may order an interview for."""

    partner_test_id: str
    partner_test_name: str
    language: str


class PartnerCandidate(BaseModel):
    """Who to invite."""

    model_config = ConfigDict(extra="ignore")

    first_name: str = Field(min_length=1, max_length=120)
    last_name: str = Field("", max_length=120)
    email: str = Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone_number: str = Field("", max_length=40)


class SendTestIn(BaseModel):
    """An order: which test (job), for whom, and the ATS's own application id."""

    model_config = ConfigDict(extra="ignore")

    partner_test_id: str = Field(min_length=1, max_length=32, description="A job id.")
    candidate: PartnerCandidate
    application_id: str = Field(
        min_length=1, max_length=120, description="The ATS's application id (idempotency key)."
    )


class SendTestOut(BaseModel):
    """The partner interview id to ask ``test_status`` about, and the invitation link."""

    partner_interview_id: str
    invite_url: str | None = Field(
        None,
        description="The candidate's link (only when this call placed the order; when the "
        "board had invited the person already, their live link and no second email).",
    )
    created: bool


class StatusQuery(BaseModel):
    """Which order."""

    partner_interview_id: str = Field(description="From send_test.")


PartnerStatus = Literal["sent", "started", "complete", "abandoned", "expired"]


class TestStatusOut(BaseModel):
    """How far the candidate got and what came of it."""

    partner_interview_id: str
    partner_status: PartnerStatus = Field(
        description="sent (invited), started, complete, abandoned (left and never came back) "
        "or expired (the link ran out before the candidate started)."
    )
    stage: str | None = Field(
        None,
        description="Where the application stands in the job's pipeline (screened, invited, "
        "interview_started, interview_done, recommended, below_threshold, human_interview, "
        "decided); without results:read the scorer's two stages read 'scored'.",
    )
    completed_at: datetime | None
    partner_profile_url: str = Field(description="The report page (sign-in required).")
    partner_score: float | None = Field(None, description="Total 0-100 (results:read only).")
    competency_scores: dict[str, float | None] | None = Field(
        None, description="Per competency, 0-100 (results:read only)."
    )
    recommendation: str | None = Field(None, description="The scorer's (results:read only).")
    decision: Literal["advance", "hold", "reject"] | None = Field(
        None, description="The newest recorded human decision."
    )


_STATUS: dict[str, PartnerStatus] = {
    "scheduled": "sent",
    "live": "started",
    "paused": "started",
    "finished": "complete",
    "abandoned": "abandoned",
}


@routes.get("/api/partner/list_tests")
@describe(response=list[PartnerTest], auth=PARTNER_AUTH)
async def list_tests(request: web.Request) -> web.Response:
    """The jobs (with a competency model) this key may order interviews for."""
    who = await require(request, "jobs.list")
    async with services(request).sessions() as session:
        jobs = (
            await session.scalars(
                select(Job)
                .where(member_jobs(who), Job.competency_model.is_not(None))
                .order_by(Job.created_at)
            )
        ).all()
    out = [
        PartnerTest(partner_test_id=j.id, partner_test_name=j.title, language=j.language)
        for j in jobs
    ]
    return web.json_response([t.model_dump() for t in out])


@routes.post("/api/partner/send_test")
@describe(request=SendTestIn, response=SendTestOut, errors=(409,), auth=PARTNER_AUTH)
async def send_test(request: web.Request) -> web.Response:
    """Create the candidate and the application and send the invitation (once per order)."""
    body = await read_json(request, SendTestIn)
    who, job, svc = await require_job(request, body.partner_test_id, "job.interview.create")
    await require(request, "candidates.create")
    existing = await _order(svc, body.application_id)
    if existing is not None:
        return await _existing(request, existing, job.id)
    if job.competency_model is None:
        raise BadInput(
            "This job has no competency model yet; choose a test from list_tests.",
            details={"fields": [{"field": "partner_test_id", "message": "not orderable"}]},
        )
    email, phone = _contact(body.candidate)
    base = base_url(svc.settings, f"{request.scheme}://{request.host}")
    for attempt in range(2):
        try:
            order_id, interview_id, url = await _place(svc, job, who, body, email, phone, base)
            break
        except IntegrityError:
            # The same order at the same moment from a retrying ATS (or the same person
            # ordered twice at once): nothing was kept; answer with, or build on, the first.
            first = await _order(svc, body.application_id)
            if first is not None:
                return await _existing(request, first, job.id)
            if attempt:
                raise
    request.app[WORKFLOW].wake()  # the invitation goes out now, not at the next poll
    await audit(request, who.actor_id, "partner_send_test", interview_id)
    out = SendTestOut(partner_interview_id=order_id, invite_url=url, created=True)
    return web.json_response(out.model_dump(), status=201)


async def _order(svc: Services, application_id: str) -> PartnerOrder | None:
    async with svc.sessions() as session:
        return await session.scalar(
            select(PartnerOrder).where(PartnerOrder.external_application_id == application_id)
        )


def _contact(person: PartnerCandidate) -> tuple[str, str]:
    """The email and phone in the form the workflow compares them in (400 for a bad phone)."""
    phone = normalize_phone(person.phone_number) if person.phone_number else ""
    if phone and not valid_phone(phone):
        raise BadInput(
            "The phone number is not valid; send it with its country code, e.g. +8613912345678.",
            details={"fields": [{"field": "candidate.phone_number", "message": "not a phone"}]},
        )
    return normalize_email(person.email), phone


async def _place(
    svc: Services,
    job: Job,
    who: Principal,
    body: SendTestIn,
    email: str,
    phone: str,
    base: str,
) -> tuple[str, str, str]:
    """One transaction: the person (found as the workflow finds them, else created), their
    application in the job's pipeline, the invitation (email with a calendar entry in the
    outbox; stage ``invited``) and the order. Returns (order id, interview id, link)."""
    now = svc.now()
    async with svc.sessions() as session, session.begin():
        person = await find_person(session, svc.keyring, email, phone)
        app = None
        if person is not None:
            app = await session.scalar(
                select(Application).where(
                    Application.job_id == job.id, Application.candidate_id == person.id
                )
            )
        if app is not None and app.interview_id is not None:
            taken = await session.scalar(
                select(PartnerOrder.id).where(PartnerOrder.interview_id == app.interview_id)
            )
            if taken is not None:
                raise Conflict(
                    "This person was already ordered for this job under another application "
                    "id; ask test_status about that order.",
                    code="already_ordered",
                    details={"partner_interview_id": taken},
                )
        if person is None:
            person = Candidate(
                name=f"{body.candidate.first_name} {body.candidate.last_name}".strip(),
                email=email,
                phone=phone,
                language=job.language,
                created_by=who.actor_id,
                created_at=now,
            )
            session.add(person)
            await session.flush()
        if app is None:
            app = Application(
                job_id=job.id,
                candidate_id=person.id,
                stage="screened",
                stage_at=now,
                tags=[],
                external_id=body.application_id,
                created_by=who.actor_id,
                created_at=now,
            )
            session.add(app)
            await session.flush()
            session.add(
                StageChangeRow(
                    application_id=app.id,
                    from_stage=None,
                    to_stage="screened",
                    actor="system",
                    by_user_id=who.user_id,
                    at=now,
                    note="ordered by an ATS",
                )
            )
        elif not app.external_id:
            app.external_id = body.application_id
        result = await invite_application(
            session, svc, job, app, who.user_id, base, reinvite=False, actor="system"
        )
        url = result.get("invite_url", "")
        if result["status"] == "already_invited" and app.interview_id is not None:
            # Invited from the board already: the live link stands and no second email goes.
            inv = await live_invite(session, app.interview_id, now)
            assert inv is not None
            left = (aware(inv.expires_at) or now) - now
            url = f"{base}/i/{svc.invites.issue(inv.id, app.interview_id, left, now)}"
        elif result["status"] == "error":
            raise Conflict(str(result["message"]), code=str(result["error"]))
        assert app.interview_id is not None
        order = PartnerOrder(
            external_application_id=body.application_id,
            interview_id=app.interview_id,
            key_id=who.actor_id,
            created_at=now,
        )
        session.add(order)
        await session.flush()
        return order.id, app.interview_id, str(url)


async def _existing(request: web.Request, order: PartnerOrder, job_id: str) -> web.Response:
    grant = await require_interview(request, order.interview_id, "interview.view")
    if grant.interview.job_id != job_id:
        raise BadInput(
            "This application id was already ordered for another job.",
            details={"fields": [{"field": "application_id", "message": "already used"}]},
        )
    return web.json_response(SendTestOut(partner_interview_id=order.id, created=False).model_dump())


@routes.get("/api/partner/test_status")
@describe(query=StatusQuery, response=TestStatusOut, auth=PARTNER_AUTH)
async def test_status(request: web.Request) -> web.Response:
    """Status, completion time, report link; scores with results:read; the human decision."""
    await require(request, "interviews.list")
    order_id = request.query.get("partner_interview_id", "")
    if not order_id:
        raise BadInput(
            "Give ?partner_interview_id= (from send_test).",
            details={"fields": [{"field": "partner_interview_id", "message": "required"}]},
        )
    svc = services(request)
    async with svc.sessions() as session:
        order = await session.get(PartnerOrder, order_id)
    if order is None:
        raise NotFound("No such partner interview.")
    grant = await require_interview(request, order.interview_id, "interview.view")
    interview = grant.interview
    async with svc.sessions() as session:
        app = await session.scalar(
            select(Application).where(Application.interview_id == interview.id)
        )
    status = _STATUS.get(interview.status, "sent")
    if status == "sent" and app is not None and app.expiry_noticed_at is not None:
        status = "expired"
    stage = app.stage if app is not None else None
    if stage in RESULT_STAGES and not grant.can("interview.read"):
        stage = SCORED  # the stage is the scorer's recommendation: a result
    base = (svc.settings.public_url or f"{request.scheme}://{request.host}").rstrip("/")
    out = TestStatusOut(
        partner_interview_id=order.id,
        partner_status=status,
        stage=stage,
        completed_at=interview.ended_at if interview.status == "finished" else None,
        partner_profile_url=f"{base}/report/{interview.id}",
    )
    history = await store.decisions(svc.sessions, interview.id)
    if history:
        out.decision = history[-1].decision
    if interview.status == "finished" and grant.can("interview.read"):
        rows = await store.score_rows(svc.sessions, interview.id)
        if not rows:
            async with svc.sessions() as session:
                job = await session.get(Job, interview.job_id)
            if job is not None and job.competency_model is not None:
                events = await svc.events.history(interview.id)
                await store.ensure_score(svc.sessions, interview, job, events, svc.now())
                rows = await store.score_rows(svc.sessions, interview.id)
        if rows:
            score = InterviewScore.model_validate(rows[-1].score)
            summary = store.score_summary(score)
            out.partner_score = summary["total"]
            out.competency_scores = summary["scores"]
            out.recommendation = score.recommendation.kind
    return web.json_response(out.model_dump(mode="json"))
