"""REST API for HR: sign-in, users, jobs, candidates, interviews, invites, events."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from analysis.competency import list_templates, load_template
from analysis.interview import PlanSettings
from server.audit import REFUSAL_AUDITED, Actor
from server.erasure import erase_interview_and_orphan
from server.errors import BadInput, Conflict
from server.policy import ACTIONS
from server.rights import rights_url
from server.routes.access import (
    member_jobs,
    require,
    require_candidate,
    require_interview,
    require_job,
    visible_candidates,
    visible_interviews,
)
from server.routes.common import after_seq, as_json, now, plan_notes, principal, read_json
from server.services import services
from server.session_inputs import EndRequested
from server.storage.models import (
    Candidate,
    Interview,
    InterviewAccess,
    Invite,
    Job,
    JobMember,
    User,
)

routes = web.RouteTableDef()


class JobIn(BaseModel):
    title: str = Field(min_length=1, max_length=255)
    language: Literal["zh", "en"] = "en"
    facial_analysis: Literal["off", "integrity_only", "full"] | None = None
    template: str | None = Field(None, description="Built-in competency model to start from.")
    plan_settings: dict[str, Any] | None = None
    vocabulary: list[str] = Field(
        default_factory=list, max_length=100,
        description="Terms transcription should know: names, products, jargon (zh or en).",
    )


class CandidateIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    email: str = Field("", max_length=255)
    phone: str = Field("", max_length=40)


def candidate_json(cand: Candidate) -> dict[str, Any]:
    """A candidate for the API (without the search hashes)."""
    return {k: v for k, v in as_json(cand).items() if not k.endswith("_hmac")}


class InterviewIn(BaseModel):
    job_id: str
    candidate_id: str
    extra_time_factor: float | None = Field(
        None, ge=1.0, le=4.0, description="Accommodation: more time for every answer."
    )


class AccessIn(BaseModel):
    user_id: str


async def audit(
    request: web.Request,
    user_id: str | None,
    action: str,
    target: str = "",
    *,
    role: str | None = None,
    detail: str = "",
) -> None:
    """Append to the chained audit trail (server/audit.py) with the client's address and agent."""
    actor = Actor.of_request(request, user_id, role)
    await services(request).audit.append(actor, action, target, detail)
    if action == "access_refused":
        request[REFUSAL_AUDITED] = True  # the refusal middleware need not record it again


@routes.post("/api/jobs")
async def create_job(request: web.Request) -> web.Response:
    """Create a job; its creator becomes its owner."""
    who = await require(request, "jobs.create")
    body = await read_json(request, JobIn)
    model = None
    if body.template:
        try:
            model = load_template(body.template, body.language).model_dump(mode="json")
        except KeyError as exc:
            keys = ", ".join(t.key for t in list_templates())
            raise BadInput(f"Unknown template '{body.template}'. Choose one of: {keys}.") from exc
    if body.plan_settings is not None:
        try:
            PlanSettings(**body.plan_settings)
        except ValidationError as exc:
            raise BadInput(f"Invalid plan settings: {exc.errors()[0]['msg']}.") from exc
    warnings = plan_notes(model, body.plan_settings)  # before anything is written
    async with services(request).sessions() as session, session.begin():
        job = Job(
            title=body.title,
            language=body.language,
            facial_analysis=body.facial_analysis,
            created_by=who.user_id,
            competency_model=model,
            plan_settings=body.plan_settings,
            vocabulary=[" ".join(t.split()) for t in body.vocabulary if t.strip()][:100],
        )
        session.add(job)
        await session.flush()
        session.add(
            JobMember(job_id=job.id, user_id=who.user_id, role="owner", added_by=who.user_id)
        )
    return web.json_response({**as_json(job), "warnings": warnings}, status=201)


@routes.get("/api/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    """The jobs the signed-in user is a member of (every job for admins), with their role in it."""
    who = await require(request, "jobs.list")
    async with services(request).sessions() as session:
        rows = (
            await session.execute(
                select(Job, JobMember.role)
                .outerjoin(
                    JobMember, (JobMember.job_id == Job.id) & (JobMember.user_id == who.user_id)
                )
                .where(member_jobs(who))
                .order_by(Job.created_at)
            )
        ).all()
    return web.json_response([{**as_json(j), "my_role": r} for j, r in rows])


@routes.post("/api/candidates")
async def create_candidate(request: web.Request) -> web.Response:
    """Create a candidate record (attachable to interviews of the creator's jobs)."""
    who = await require(request, "candidates.create")
    body = await read_json(request, CandidateIn)
    async with services(request).sessions() as session, session.begin():
        cand = Candidate(
            name=body.name, email=body.email, phone=body.phone, created_by=who.actor_id
        )
        session.add(cand)
    return web.json_response(candidate_json(cand), status=201)


@routes.get("/api/candidates")
async def find_candidates(request: web.Request) -> web.Response:
    """Candidates the user may see with exactly this ``email`` or ``phone`` (by keyed hash)."""
    who = await require(request, "candidates.find")
    svc = services(request)
    email, phone = request.query.get("email", ""), request.query.get("phone", "")
    if not (email or phone) or (email and phone):
        raise BadInput("Search by one of ?email= or ?phone=.")
    kind, value = ("email", email) if email else ("phone", phone)
    digest = svc.keyring.search_hash(kind, value)
    if digest is None:
        return web.json_response([])
    column = Candidate.email_hmac if kind == "email" else Candidate.phone_hmac
    async with svc.sessions() as session:
        query = select(Candidate).where(column == digest, visible_candidates(who))
        rows = (await session.scalars(query)).all()
    return web.json_response([candidate_json(c) for c in rows])


def invite_url(request: web.Request, token: str) -> str:
    """The link sent to the candidate."""
    base = services(request).settings.public_url or f"{request.scheme}://{request.host}"
    return f"{base.rstrip('/')}/i/{token}"


async def _issue_invite(request: web.Request, interview_id: str) -> dict[str, str]:
    svc = services(request)
    async with svc.sessions() as session, session.begin():
        for old in await session.scalars(
            select(Invite).where(Invite.interview_id == interview_id, Invite.revoked.is_(False))
        ):
            old.revoked = True
        inv = Invite(interview_id=interview_id, expires_at=now() + svc.invite_ttl)
        session.add(inv)
    token = svc.invites.issue(inv.id, interview_id, svc.invite_ttl, now())
    return {
        "invite_token": token,
        "invite_url": invite_url(request, token),
        "expires_at": inv.expires_at.isoformat(),
    }


@routes.post("/api/interviews")
async def create_interview(request: web.Request) -> web.Response:
    """Schedule an interview on one of your jobs and return its one-time invite link."""
    principal(request)
    body = await read_json(request, InterviewIn)
    who, _job, _svc = await require_job(request, body.job_id, "job.interview.create")
    await require_candidate(request, who, body.candidate_id, "candidate.attach")
    async with services(request).sessions() as session, session.begin():
        interview = Interview(
            job_id=body.job_id,
            candidate_id=body.candidate_id,
            created_by=who.user_id,
            state={"extra_time_factor": body.extra_time_factor} if body.extra_time_factor else None,
        )
        session.add(interview)
    invite = await _issue_invite(request, interview.id)
    await audit(request, who.user_id, "create_interview", interview.id)
    # The self-service link goes into every message to the candidate, beside the invite.
    rights = rights_url(request, interview.candidate_id)
    return web.json_response({**as_json(interview), **invite, "rights_url": rights}, status=201)


@routes.post("/api/interviews/{iid}/invite")
async def reissue_invite(request: web.Request) -> web.Response:
    """A fresh invite link (the old one stops working)."""
    interview = (
        await require_interview(request, request.match_info["iid"], "interview.manage")
    ).interview
    if interview.status in ("finished", "abandoned"):
        raise Conflict("This interview is over; schedule a new one instead.")
    return web.json_response(await _issue_invite(request, interview.id), status=201)


@routes.get("/api/interviews")
async def list_interviews(request: web.Request) -> web.Response:
    """Interviews the signed-in user may see."""
    who = await require(request, "interviews.list")
    async with services(request).sessions() as session:
        query = (
            select(Interview, Candidate, Job.title)  # the entity: names decrypt on load
            .join(Candidate, Candidate.id == Interview.candidate_id)
            .join(Job, Job.id == Interview.job_id)
            .where(visible_interviews(who))
        )
        rows = (await session.execute(query.order_by(Interview.created_at.desc()))).all()
    await audit(request, who.user_id, "list_interviews", detail=f"{len(rows)} interviews")
    return web.json_response(
        [{**as_json(i), "candidate_name": c.name, "job_title": t} for i, c, t in rows]
    )


@routes.get("/api/interviews/{iid}")
async def get_interview(request: web.Request) -> web.Response:
    """One interview with its job and candidate."""
    grant = await require_interview(request, request.match_info["iid"], "interview.view")
    who, interview = grant.who, grant.interview
    async with services(request).sessions() as session:
        job = await session.get(Job, interview.job_id)
        cand = await session.get(Candidate, interview.candidate_id)
    # The review page says so (?page=review): its openings start the review-time measure.
    page = "review" if request.query.get("page") == "review" else ""
    await audit(request, who.user_id, "view_interview", interview.id, detail=page)
    can = [a for a in ACTIONS if a.startswith("interview.") and grant.can(a)]
    return web.json_response(
        {
            **as_json(interview),
            "can": can,
            "job": as_json(job) if job else None,
            "candidate": candidate_json(cand) if cand else None,
        }
    )


@routes.post("/api/interviews/{iid}/access")
async def share_interview(request: web.Request) -> web.Response:
    """Assign this interview to a user (an interviewer, or someone outside the job)."""
    grant = await require_interview(request, request.match_info["iid"], "interview.assign")
    who, interview = grant.who, grant.interview
    body = await read_json(request, AccessIn)
    async with services(request).sessions() as session, session.begin():
        if await session.get(User, body.user_id) is None:
            raise BadInput("No such user.")
        if await session.get(InterviewAccess, (interview.id, body.user_id)) is None:
            session.add(InterviewAccess(interview_id=interview.id, user_id=body.user_id))
    await audit(request, who.user_id, "share_interview", interview.id)
    return web.json_response({"ok": True})


@routes.get("/api/interviews/{iid}/events")
async def interview_events(request: web.Request) -> web.Response:
    """The interview's event log in order; ``?after=N``: only events with ``seq`` above N."""
    grant = await require_interview(request, request.match_info["iid"], "interview.view")
    interview = grant.interview
    events = await services(request).events.history(interview.id, after=after_seq(request))
    await audit(request, grant.who.user_id, "view_transcript", interview.id)
    return web.json_response([e.model_dump(mode="json") for e in events])


@routes.post("/api/interviews/{iid}/end")
async def end_interview(request: web.Request) -> web.Response:
    """HR ends a running interview."""
    grant = await require_interview(request, request.match_info["iid"], "interview.manage")
    who, interview = grant.who, grant.interview
    ended = EndRequested("ended by recruiter")
    async with services(request).live.attach(interview.id) as session:
        session.submit(ended)
        await ended.reply
    await audit(request, who.user_id, "end_interview", interview.id)
    return web.json_response({"ok": True})


@routes.delete("/api/interviews/{iid}")
async def delete_interview(request: web.Request) -> web.Response:
    """Erase an interview's recordings, events and consents (right to deletion)."""
    grant = await require_interview(request, request.match_info["iid"], "interview.delete")
    who, interview = grant.who, grant.interview
    gone = await erase_interview_and_orphan(
        services(request), interview.id, by=who.user_id, reason="interview_deleted"
    )
    await audit(request, who.user_id, "delete_interview", interview.id)
    if gone:
        await audit(request, who.user_id, "erase_candidate", interview.candidate_id)
    return web.json_response({"ok": True, "candidate_erased": gone})


@routes.get("/api/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Live rooms and transcription counters (backlog, skipped partials); admins only."""
    await require(request, "metrics.read")
    svc = services(request)
    sessions = svc.live.running()
    counts = [s.recorder_counts() for s in sessions]
    return web.json_response(
        {
            "live_rooms": sum(1 for s in sessions if s.candidate_connected),
            "recorder_frames": sum(frames for frames, _ in counts),
            "recorder_dropped_frames": sum(dropped for _, dropped in counts),
            "transcription": svc.transcribers.metrics() if svc.transcribers is not None else None,
            "bus": svc.bus.metrics.snapshot(),
        }
    )
