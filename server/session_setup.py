"""What a session loads when it starts: the interview's machine, clock and status."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analysis.competency import CompetencyModelError, parse_competency_model
from analysis.competency.model import LANGUAGES, Language
from analysis.interview import InterviewMachine, PlanSettings, build_plan
from analysis.interview.plan import InterviewPlan, observer_plan
from server.services import Services
from server.storage.models import Interview, Job

log = logging.getLogger(__name__)


class InterviewGone(LookupError):
    """The interview was deleted before its session could load it."""


@dataclass
class Loaded:
    """An interview as its session starts from it."""

    machine: InterviewMachine
    status: str
    started_at: datetime | None
    deadline: datetime | None
    language: str
    vocabulary: list[str] = field(default_factory=list)  # the job's transcription terms


def aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def load(services: Services, interview_id: str) -> Loaded:
    """Read the interview and build (or restore) its machine."""
    async with services.sessions() as session:
        interview = await session.get(Interview, interview_id)
        job = await session.get(Job, interview.job_id) if interview is not None else None
    if interview is None or job is None:
        raise InterviewGone(interview_id)
    return Loaded(
        machine=machine_for(interview, job),
        status=interview.status,
        started_at=aware(interview.started_at),
        deadline=aware(interview.reconnect_deadline),
        language=job.language,
        vocabulary=job_terms(job),
    )


def job_terms(job: Job) -> list[str]:
    """What the transcriber is told to expect: the job's own list, then its competency names.

    Indicators and questions are sentences, not terms: the question being answered is given
    to the record pass as context on its own (``record_prompt``).
    """
    terms = [t.strip() for t in job.vocabulary or [] if t.strip()]
    if job.competency_model:
        try:
            model = parse_competency_model(job.competency_model)
        except CompetencyModelError:
            model = None
        if model is not None:
            terms.extend(c.name.strip() for c in model.competencies)
    unique: dict[str, str] = {}
    for term in terms:
        unique.setdefault(term.casefold(), term)
    return list(unique.values())


def machine_for(interview: Interview, job: Job) -> InterviewMachine:
    """The saved machine, or a new one planned from the job (observer-led without a model)."""
    if interview.state and "plan" in interview.state:
        return InterviewMachine.from_dict(interview.state)
    return InterviewMachine.new(interview.id, plan_for(interview, job))


def plan_for(interview: Interview, job: Job) -> InterviewPlan:
    """Questions from the job's competency model; with none (or a broken one), no AI questions."""
    language: Language = "zh" if job.language == "zh" else "en"
    assert language in LANGUAGES
    if not job.competency_model:
        return observer_plan(job.title, language)
    try:
        model = parse_competency_model(job.competency_model)
    except CompetencyModelError:
        log.warning("job competency model is invalid; running observer-led", extra={"job": job.id})
        return observer_plan(job.title, language)
    settings_data: dict[str, Any] = dict(job.plan_settings or {})
    settings_data.setdefault("seed", int(interview.id[:8], 16) % 100_000)
    extra = (interview.state or {}).get("extra_time_factor")
    if extra:
        settings_data["extra_time_factor"] = float(extra)
    return build_plan(model, PlanSettings(**settings_data))
