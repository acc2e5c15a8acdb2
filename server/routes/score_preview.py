"""Score preview: score a sample answer against a job's competency model before using it.

``POST /api/jobs/{job_id}/score-preview`` with ``question_id``, ``text`` and ``language``
answers with the per-competency result the report would show for that answer (the job's
current scorer version and options). Nothing is stored.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from analysis.competency.model import CompetencyModel
from analysis.scoring.scorer import CompetencyScore, score_interview
from analysis.scoring.transcript import answer_from_text
from server.errors import BadInput
from server.reports import store
from server.routes.access import require_job
from server.routes.common import read_json

routes = web.RouteTableDef()

MAX_PREVIEW_CHARS = 8000


class ScorePreviewIn(BaseModel):
    """A sample answer to one question of the job's model."""

    model_config = ConfigDict(extra="forbid")

    question_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_PREVIEW_CHARS)
    language: Literal["zh", "en"] | None = None


class ScorePreviewOut(BaseModel):
    """What the report would show for this answer, competency by competency."""

    question_id: str
    question_text: str
    language: Literal["zh", "en"]
    scorer_version: str
    competencies: list[CompetencyScore]


def _competency_of(model: CompetencyModel, question_id: str) -> tuple[str, str]:
    for competency in model.competencies:
        for question in competency.questions:
            if question.id == question_id:
                return competency.id, question.text
    known = ", ".join(q.id for c in model.competencies for q in c.questions)
    raise BadInput(
        f"The job's competency model has no question {question_id!r}; pick one of: {known}.",
        code="unknown_question",
    )


@routes.post("/api/jobs/{jid}/score-preview")
async def score_preview(request: web.Request) -> web.Response:
    """Score a sample answer with the job's model, version and options (not stored)."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.edit")
    body = await read_json(request, ScorePreviewIn)
    model = store.competency_model(job)
    competency_id, question_text = _competency_of(model, body.question_id)
    language = body.language or model.language
    version = await store.current_version(svc.sessions, job.id)
    options = await store.job_options(svc.sessions, job.id)
    answer = answer_from_text(
        body.question_id,
        body.text,
        language,
        question_text=question_text,
        competency_ids=[competency_id],
    )
    # Measuring meaning is CPU work: off the event loop.
    score = await asyncio.to_thread(
        score_interview, "preview", [answer], model, version, options.job_scoring()
    )
    out = ScorePreviewOut(
        question_id=body.question_id,
        question_text=question_text,
        language=language,
        scorer_version=version.id,
        competencies=[c for c in score.competencies if c.answers],
    )
    return web.json_response(text=out.model_dump_json())
