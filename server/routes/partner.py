"""ATS assessment-partner API, in the shape of Greenhouse's assessment-partner contract.

``list_tests`` lists the jobs a key may order interviews for (a job is a "test");
``send_test`` creates the candidate and the interview and issues the invitation, once per
external application id; ``test_status`` reports progress, the report link, per-competency
scores (only with ``results:read``) and the human decision. Besides ``Bearer cnd_...``, HTTP
Basic with the API key as user name is accepted here, because that is what those ATSs send.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from analysis.scoring import InterviewScore
from server.errors import BadInput, NotFound
from server.integrations.described import describe
from server.reports import store
from server.routes.access import member_jobs, require, require_interview, require_job
from server.routes.api import _issue_invite, audit
from server.routes.common import read_json
from server.services import services
from server.storage.models import Candidate, Interview, Job, PartnerOrder

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
        None, description="The candidate's link (only when this call created the interview)."
    )
    created: bool


class StatusQuery(BaseModel):
    """Which order."""

    partner_interview_id: str = Field(description="From send_test.")


class TestStatusOut(BaseModel):
    """How far the candidate got and what came of it."""

    partner_interview_id: str
    partner_status: Literal["sent", "started", "complete"]
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


_STATUS: dict[str, Literal["sent", "started", "complete"]] = {
    "scheduled": "sent",
    "live": "started",
    "finished": "complete",
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
    """Create the candidate and the interview and issue the invitation (once per application)."""
    body = await read_json(request, SendTestIn)
    who, job, svc = await require_job(request, body.partner_test_id, "job.interview.create")
    await require(request, "candidates.create")
    async with svc.sessions() as session:
        existing = await session.scalar(
            select(PartnerOrder).where(PartnerOrder.external_application_id == body.application_id)
        )
    if existing is not None:
        return await _existing(request, existing, job.id)
    if job.competency_model is None:
        raise BadInput(
            "This job has no competency model yet; choose a test from list_tests.",
            details={"fields": [{"field": "partner_test_id", "message": "not orderable"}]},
        )
    person = body.candidate
    try:
        async with svc.sessions() as session, session.begin():
            cand = Candidate(
                name=f"{person.first_name} {person.last_name}".strip(),
                email=person.email,
                phone=person.phone_number,
                created_by=who.actor_id,
            )
            session.add(cand)
            await session.flush()
            interview = Interview(job_id=job.id, candidate_id=cand.id, created_by=who.user_id)
            session.add(interview)
            await session.flush()
            order = PartnerOrder(
                external_application_id=body.application_id,
                interview_id=interview.id,
                key_id=who.actor_id,
            )
            session.add(order)
    except IntegrityError:
        # The same order at the same moment from a retrying ATS: answer with the first one.
        async with svc.sessions() as session:
            first = await session.scalar(
                select(PartnerOrder).where(
                    PartnerOrder.external_application_id == body.application_id
                )
            )
        if first is None:
            raise
        return await _existing(request, first, job.id)
    invite = await _issue_invite(request, interview.id)
    await audit(request, who.actor_id, "partner_send_test", interview.id)
    out = SendTestOut(partner_interview_id=order.id, invite_url=invite["invite_url"], created=True)
    return web.json_response(out.model_dump(), status=201)


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
    base = (svc.settings.public_url or f"{request.scheme}://{request.host}").rstrip("/")
    out = TestStatusOut(
        partner_interview_id=order.id,
        partner_status=_STATUS.get(interview.status, "sent"),
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
