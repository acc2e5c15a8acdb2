"""A job's results for HRMS imports, as CSV or JSON, honouring the caller's scopes."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from analysis.competency import parse_competency_model
from analysis.scoring import InterviewScore
from server.auth import Principal
from server.integrations.described import describe
from server.reports import store
from server.routes.access import require_job
from server.routes.api import audit
from server.services import Services
from server.storage.models import Application, Candidate, Interview, Job, PartnerOrder

routes = web.RouteTableDef()


class ResultRow(BaseModel):
    """One interview's result."""

    external_id: str = Field(
        description="The ATS's application id (a partner order's, else the external id the "
        "application was imported with), else Candor's candidate id."
    )
    candidate_id: str
    interview_id: str
    candidate_name: str | None = Field(None, description="Only with candidates:read (keys).")
    candidate_email: str | None = Field(None, description="Only with candidates:read (keys).")
    stage: str = Field(description="The interview's: scheduled, live, paused, finished, abandoned.")
    pipeline_stage: str | None = Field(
        None, description="The application's stage in the job's pipeline (docs/workflow.md)."
    )
    recommendation: str | None
    total: float | None
    scores: dict[str, float | None] = Field(description="Per competency id, 0-100.")
    decision: str | None = Field(description="The newest recorded human decision.")
    decided_at: str | None


def _personal(who: Principal) -> bool:
    return not who.is_key or (who.scopes is not None and "candidates:read" in who.scopes)


async def job_results(svc: Services, who: Principal, job: Job) -> list[ResultRow]:
    """Every interview of ``job`` with its newest stored score and human decision."""
    async with svc.sessions() as session:
        rows = (
            await session.execute(
                select(
                    Interview,
                    Candidate,
                    PartnerOrder.external_application_id,
                    Application.external_id,
                    Application.stage,
                )
                .join(Candidate, Candidate.id == Interview.candidate_id)
                .outerjoin(PartnerOrder, PartnerOrder.interview_id == Interview.id)
                .outerjoin(Application, Application.interview_id == Interview.id)
                .where(Interview.job_id == job.id)
                .order_by(Interview.created_at)
            )
        ).all()
    personal = _personal(who)
    out = []
    for interview, cand, ordered, imported, pipeline_stage in rows:
        scores = await store.score_rows(svc.sessions, interview.id)
        score = InterviewScore.model_validate(scores[-1].score) if scores else None
        summary = store.score_summary(score) if score else None
        decisions = await store.decisions(svc.sessions, interview.id)
        out.append(
            ResultRow(
                external_id=ordered or imported or cand.id,
                candidate_id=cand.id,
                interview_id=interview.id,
                candidate_name=cand.name if personal else None,
                candidate_email=cand.email if personal else None,
                stage=interview.status,
                pipeline_stage=pipeline_stage,
                recommendation=score.recommendation.kind if score else None,
                total=score.total if score else None,
                scores=summary["scores"] if summary else {},
                decision=decisions[-1].decision if decisions else None,
                decided_at=decisions[-1].at.isoformat() if decisions else None,
            )
        )
    return out


def _competencies(job: Job) -> list[str]:
    if job.competency_model is None:
        return []
    return [c.id for c in parse_competency_model(job.competency_model).competencies]


def to_csv(rows: list[ResultRow], competencies: list[str], personal: bool) -> str:
    """One line per interview, one column per competency."""
    buf = io.StringIO()
    head = ["external_id", "candidate_id", "interview_id"]
    head += ["candidate_name", "candidate_email"] if personal else []
    head += ["stage", "pipeline_stage", "recommendation", "total", *competencies]
    head += ["decision", "decided_at"]
    writer = csv.writer(buf)
    writer.writerow(head)
    for r in rows:
        line: list[Any] = [r.external_id, r.candidate_id, r.interview_id]
        line += [r.candidate_name, r.candidate_email] if personal else []
        line += [r.stage, r.pipeline_stage or "", r.recommendation or ""]
        line += ["" if r.total is None else r.total]
        line += ["" if r.scores.get(c) is None else r.scores[c] for c in competencies]
        line += [r.decision or "", r.decided_at or ""]
        writer.writerow(line)
    return buf.getvalue()


@routes.get("/api/jobs/{jid}/results.json")
@describe(response=list[ResultRow], auth=("bearer", "cookie"))
async def results_json(request: web.Request) -> web.Response:
    """The job's results as JSON (scores as stored; personal data only if the scope allows)."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.results.export")
    rows = await job_results(svc, who, job)
    await audit(request, who.actor_id, "export_results", job.id)
    return web.json_response([r.model_dump(mode="json") for r in rows])


@routes.get("/api/jobs/{jid}/results.csv")
@describe(content_type="text/csv")
async def results_csv(request: web.Request) -> web.Response:
    """The job's results as CSV (UTF-8 with a BOM so spreadsheet programs read Chinese)."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.results.export")
    rows = await job_results(svc, who, job)
    await audit(request, who.actor_id, "export_results", job.id)
    text = "\ufeff" + to_csv(rows, _competencies(job), _personal(who))
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="results-{job.id}.csv"'},
    )
