"""Scores with evidence, reports (page, PDF, JSON), human ratings, decisions, calibration.

Every endpoint needs a signed-in user (401) with access to the interview or the job (403).
The AI only recommends: the candidate's status moves only through POST .../decision,
which records the person and the time. See docs/review.md.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from analysis.events import Event
from analysis.scoring import (
    CalibrationError,
    HumanDecision,
    InterviewScore,
    build_report,
    calibrate,
    samples_from_score,
)
from analysis.scoring.calibration import MIN_INTERVIEWS
from server.auth import Principal
from server.errors import BadInput, Conflict
from server.pages import page
from server.policy import Action
from server.reports import store
from server.reports.pdf import render_pdf
from server.reports.view import (
    CompetencyItem,
    InterviewInfo,
    ReportView,
    ScoreVersionItem,
    delivery_of,
    followups_of,
    injected_of,
    live_of,
    questions_of,
)
from server.routes.access import interview_and_job, require_interview, require_job
from server.routes.api import audit
from server.routes.common import read_json
from server.services import Services
from server.storage.models import Candidate, HumanRatingRow, Interview, Job

routes = web.RouteTableDef()

RECORD_POLL_S = 5.0  # how long one request waits for a pending transcript of record


class RatingIn(BaseModel):
    competency_id: str = Field(min_length=1, max_length=80)
    score: int = Field(ge=1, le=5, description="1 (weak) to 5 (strong).")
    note: str = Field("", max_length=4000)


class DecisionIn(BaseModel):
    decision: Literal["advance", "hold", "reject"]
    note: str = Field("", max_length=4000)


# -- lookups ----------------------------------------------------------------------------


async def _score(
    svc: Services, interview: Interview, job: Job, events: list[Event] | None = None
) -> InterviewScore:
    history = events if events is not None else await svc.events.history(interview.id)
    # a record pass about to finish: wait a little here rather than answer "not ready"
    for _ in range(int(RECORD_POLL_S / 0.5)):
        if store.records_outstanding(history, svc.now()) <= 0:
            break
        await asyncio.sleep(0.5)
        history = await svc.events.history(interview.id)
    if events is not None:
        events[:] = history
    return await store.ensure_score(
        svc.sessions, interview, job, history, svc.now(), svc.settings.scoring_llm
    )


async def _score_if_allowed(
    svc: Services, interview: Interview, job: Job, events: list[Event]
) -> InterviewScore | None:
    """The AI score, or None when the candidate declined or withdrew AI analysis."""
    try:
        return await _score(svc, interview, job, events)
    except Conflict as exc:
        if exc.code == "no_ai_consent":
            return None
        raise


async def _view(request: web.Request, action: Action) -> tuple[Principal, ReportView]:
    grant, job, svc = await interview_and_job(request, action)
    interview = grant.interview
    events = await svc.events.history(interview.id)
    score = await _score_if_allowed(svc, interview, job, events)
    rating_rows = await store.ratings(svc.sessions, interview.id)
    current = store.current_ratings(rating_rows)
    history = await store.decisions(svc.sessions, interview.id)
    status = store.candidate_status(interview.id, history, score.recommendation if score else None)
    async with svc.sessions() as session:
        candidate = await session.get(Candidate, interview.candidate_id)
    rows = await store.score_rows(svc.sessions, interview.id)
    by_row = {r.id: r.score["id"] for r in rows}
    return grant.who, ReportView(
        interview=InterviewInfo(
            id=interview.id,
            candidate=candidate.name if candidate else "",
            job_id=job.id,
            job_title=job.title,
            language=job.language,
            started_at=interview.started_at,
            ended_at=interview.ended_at,
        ),
        report=(
            build_report(
                score,
                current,
                status,
                llm=await store.stored_llm(svc.sessions, interview.id, score.scorer_version),
            )
            if score
            else None
        ),
        ai_scores=score is not None,
        competencies=[
            CompetencyItem(competency_id=c.id, name=c.name, anchors=c.anchors)
            for c in store.competency_model(job).competencies
        ],
        status=status,
        score_versions=[
            ScoreVersionItem(
                id=r.score["id"],
                scorer_version=r.scorer_version,
                created_at=r.created_at,
                total=r.total,
                supersedes=by_row.get(r.supersedes) if r.supersedes else None,
            )
            for r in rows
        ],
        questions=questions_of(events),
        followups=followups_of(events),
        injected=injected_of(events),
        delivery=delivery_of(events),
        delivery_used_in_score=bool(score and score.delivery_enabled),
        ratings=current,
        decisions=history,
        live=live_of(events, current),
    )


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


# -- scores and reports ----------------------------------------------------------------


@routes.get("/api/interviews/{iid}/score")
async def get_score(request: web.Request) -> web.Response:
    """The score with the job's current scorer version (computed and stored on first use)."""
    grant, job, svc = await interview_and_job(request, "interview.read")
    score = await _score(svc, grant.interview, job)
    await audit(request, grant.who.user_id, "view_score", grant.interview.id)
    return _json(score)


@routes.get("/api/interviews/{iid}/scores")
async def list_scores(request: web.Request) -> web.Response:
    """Every stored, dated score of the interview, oldest first (never changed in place)."""
    grant, _job, svc = await interview_and_job(request, "interview.read")
    rows = await store.score_rows(svc.sessions, grant.interview.id)
    await audit(request, grant.who.user_id, "view_score", grant.interview.id)
    return web.json_response([r.score for r in rows])


@routes.get("/api/interviews/{iid}/report")
@routes.get("/api/interviews/{iid}/report.json")
async def get_report(request: web.Request) -> web.Response:
    """The report as JSON."""
    who, view = await _view(request, "interview.read")
    await audit(request, who.user_id, "view_report", view.interview.id)
    return _json(view)


@routes.get("/api/interviews/{iid}/report.pdf")
async def get_report_pdf(request: web.Request) -> web.Response:
    """The printable report."""
    who, view = await _view(request, "interview.export")
    data = await asyncio.to_thread(render_pdf, view)
    await audit(request, who.user_id, "download_report", view.interview.id)
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="report-{view.interview.id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


@routes.get("/report/{iid}")
async def report_page(request: web.Request) -> web.StreamResponse:
    """The report page (signed-in users with access only)."""
    await require_interview(request, request.match_info["iid"], "interview.read")
    return page("report.html")


# -- human ratings and decisions -------------------------------------------------------


@routes.get("/api/interviews/{iid}/ratings")
async def list_ratings(request: web.Request) -> web.Response:
    """Every rating given on this interview (with reviewer and time), oldest first."""
    grant, _job, svc = await interview_and_job(request, "interview.read")
    rows = await store.ratings(svc.sessions, grant.interview.id)
    return web.json_response(
        [
            {
                "id": r.id,
                "competency_id": r.competency_id,
                "score": r.value,
                "rater": r.rater,
                "note": r.note,
                "at": r.at.isoformat(),
            }
            for r in rows
        ]
    )


@routes.post("/api/interviews/{iid}/ratings")
async def add_rating(request: web.Request) -> web.Response:
    """A reviewer rates one competency (1-5) with an optional note."""
    grant, job, svc = await interview_and_job(request, "interview.rate")
    who, interview = grant.who, grant.interview
    body = await read_json(request, RatingIn)
    model = store.competency_model(job)
    known = [c.id for c in model.competencies]
    if body.competency_id not in known:
        raise BadInput(
            f"Unknown competency '{body.competency_id}'. This job rates: {', '.join(known)}."
        )
    row = HumanRatingRow(
        interview_id=interview.id,
        competency_id=body.competency_id,
        rater_id=who.user_id,
        rater=who.email,
        value=float(body.score),
        note=body.note,
        at=svc.now(),
    )
    await store.add_rating(svc.sessions, row)
    await audit(request, who.user_id, "rate_interview", interview.id)
    return web.json_response(
        {
            "id": row.id,
            "competency_id": row.competency_id,
            "score": row.value,
            "rater": row.rater,
            "note": row.note,
            "at": row.at.isoformat(),
        },
        status=201,
    )


@routes.get("/api/interviews/{iid}/decision")
async def get_decision(request: web.Request) -> web.Response:
    """The candidate's status and every recorded decision."""
    grant, _job, svc = await interview_and_job(request, "interview.read")
    history = await store.decisions(svc.sessions, grant.interview.id)
    status = store.candidate_status(grant.interview.id, history)
    return web.json_response(
        {
            "status": status.model_dump(mode="json"),
            "history": [d.model_dump(mode="json") for d in history],
        }
    )


@routes.post("/api/interviews/{iid}/decision")
async def decide(request: web.Request) -> web.Response:
    """A person advances, holds or rejects the candidate; recorded with person and time."""
    grant, _job, svc = await interview_and_job(request, "interview.decide")
    who, interview = grant.who, grant.interview
    body = await read_json(request, DecisionIn)
    if interview.status != "finished":
        raise Conflict("Decide after the interview has finished.", code="not_finished")
    decision = HumanDecision(
        interview_id=interview.id,
        person=who.email,
        at=svc.now(),
        decision=body.decision,
        note=body.note,
    )
    await store.record_decision(svc.sessions, decision, who.user_id)
    from server.workflow.service import record_decided

    await record_decided(svc, interview.id, who.user_id, decision.decision)
    await audit(request, who.user_id, f"decision_{body.decision}", interview.id)
    history = await store.decisions(svc.sessions, interview.id)
    status = store.candidate_status(interview.id, history)
    return web.json_response(
        {
            "status": status.model_dump(mode="json"),
            "history": [d.model_dump(mode="json") for d in history],
        },
        status=201,
    )


# -- job scoring options and calibration -----------------------------------------------


@routes.get("/api/jobs/{jid}/scoring")
async def get_job_scoring(request: web.Request) -> web.Response:
    """The job's scoring options (threshold, delivery signals)."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.settings")
    return _json(await store.job_options(svc.sessions, job.id))


@routes.put("/api/jobs/{jid}/scoring")
async def put_job_scoring(request: web.Request) -> web.Response:
    """Change the job's scoring options; stored scores stay as they were."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.edit")
    options = await read_json(request, store.JobScoringOptions)
    await store.save_job_options(svc.sessions, job.id, options)
    await audit(request, who.user_id, "edit_job_scoring", job.id)
    return _json(options)


@routes.post("/api/jobs/{jid}/calibrate")
async def calibrate_job(request: web.Request) -> web.Response:
    """Fit the job's weights to human ratings; stores a new, dated scorer version."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.calibrate")
    base = await store.current_version(svc.sessions, job.id)
    samples = []
    async with svc.sessions() as session:
        interviews = (
            await session.scalars(
                select(Interview).where(Interview.job_id == job.id, Interview.status == "finished")
            )
        ).all()
    for interview in interviews:
        current = store.current_ratings(await store.ratings(svc.sessions, interview.id))
        if not current or not await store.ai_analysis_allowed(svc.sessions, interview.id):
            continue  # nothing to fit, or no AI score may exist for it
        score = await _score(svc, interview, job)
        samples += samples_from_score(score, current)
    try:
        result = await asyncio.to_thread(calibrate, samples, base, job.id, now=svc.now())
    except CalibrationError as exc:
        raise BadInput(str(exc), code="not_enough_ratings") from exc
    version = await store.save_version(
        svc.sessions, result.version, result.report.model_dump(mode="json"), who.user_id
    )
    await audit(request, who.user_id, "calibrate_job", job.id)
    report = result.report.model_dump(mode="json")
    report["version_id"] = version.id
    return web.json_response(
        {"version": version.model_dump(mode="json"), "report": report}, status=201
    )


@routes.get("/api/jobs/{jid}/calibration")
@routes.get("/api/jobs/{jid}/calibration.json")
async def get_calibration(request: web.Request) -> web.Response:
    """The job's scorer versions with their calibration reports, newest first."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.settings")
    rows = await store.job_versions(svc.sessions, job.id)
    current = await store.current_version(svc.sessions, job.id)
    return web.json_response(
        {
            "job_id": job.id,
            "job_title": job.title,
            "current_version": current.id,
            "min_interviews": MIN_INTERVIEWS,
            "versions": [
                {"version": r.version, "report": r.report, "created_by": r.created_by} for r in rows
            ],
        }
    )


@routes.get("/calibration/{jid}")
async def calibration_page(request: web.Request) -> web.StreamResponse:
    """The calibration page (admins and the job's recruiters)."""
    await require_job(request, request.match_info["jid"], "job.settings")
    return page("calibration.html")
