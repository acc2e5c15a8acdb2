"""The plan of one interview: which questions, in what order, with which time limits."""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from analysis.competency.model import CompetencyModel, Language
from analysis.interview import texts

PlanKind = Literal["practice", "main"]


class PlanError(ValueError):
    """The settings cannot produce a plan for this competency model."""


class PlanSettings(BaseModel):
    """Knobs an admin sets per job or per interview; defaults suit a 20-30 minute interview."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question_count: int = Field(
        default=7,
        ge=1,
        le=30,
        description="Main questions (typical 7-10); capped at the size of the question bank.",
    )
    duration_minutes: float = Field(
        default=25.0, gt=0, description="Target length; follow-ups stop once it is used up."
    )
    answer_time_limit: float = Field(default=180.0, gt=0, description="Seconds per answer.")
    followup_time_limit: float = Field(
        default=120.0, gt=0, description="Seconds per follow-up answer."
    )
    thinking_time: float = Field(
        default=30.0,
        ge=0,
        description="Seconds before the answer clock starts if the candidate is silent.",
    )
    practice_time_limit: float = Field(default=90.0, gt=0)
    extra_time_factor: float = Field(
        default=1.0,
        ge=1.0,
        le=4.0,
        description="Accommodation: multiplies every time limit and pause.",
    )
    min_answer_seconds: float = Field(
        default=8.0, ge=0, description="Speech shorter than this never ends an answer by silence."
    )
    end_of_answer_pause: float = Field(
        default=4.0, gt=0, description="Silence after the minimum length that ends an answer."
    )
    max_followups_per_question: int = Field(default=2, ge=0, le=5, description="K.")
    transcript_grace: float = Field(
        default=1.0,
        ge=0,
        description="Wait for the last transcript this long after an answer ends.",
    )
    followup_decision_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Give up waiting for a follow-up decision after this many seconds.",
    )
    approval_window: float = Field(
        default=0.0,
        ge=0,
        description="With observers present, wait this long for approve/skip before asking "
        "a suggested follow-up anyway (0: ask at once).",
    )
    include_practice: bool = True
    seed: int = 0


class PlannedQuestion(BaseModel):
    """One question of the plan, with time limits already scaled for accommodations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: PlanKind
    text: str
    competency_id: str | None = None
    competency_name: str | None = None
    indicators: list[str] = Field(default_factory=list)
    anchors: dict[int, str] = Field(
        default_factory=dict, description="Rating anchors of the competency (levels 1, 3, 5)."
    )
    probes: list[str] = Field(default_factory=list)
    time_limit: float
    thinking_time: float


class InterviewPlan(BaseModel):
    """Greeting, an unscored practice question, main questions, closing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str
    job_title: str
    language: Language
    settings: PlanSettings
    greeting: str
    practice: PlannedQuestion | None
    questions: list[PlannedQuestion]
    closing: str
    next_steps: str
    # Added later; defaults keep plans saved before them loadable.
    requested_count: int | None = Field(
        default=None, description="Main questions asked for (settings.question_count)."
    )
    bank_size: int | None = Field(
        default=None, description="Main questions in the model's bank when the plan was built."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Things the admin should know, e.g. the count was capped at the bank size.",
    )
    observer_led: bool = Field(
        default=False,
        description="No AI questions: the interview waits for observers' questions until ended.",
    )

    @property
    def total(self) -> int:
        """Number of main questions (what "3 of N" counts)."""
        return len(self.questions)

    @property
    def capped(self) -> bool:
        """True when fewer main questions were planned than asked for (the bank is too small)."""
        requested = self.requested_count
        if requested is None:  # a plan saved before requested_count existed
            requested = self.settings.question_count
        return requested > self.total

    def estimated_minutes(self) -> float:
        """Upper bound on length without follow-ups: every answer uses its full time."""
        items = [*self.questions, *([self.practice] if self.practice else [])]
        return sum(q.time_limit + q.thinking_time for q in items) / 60.0


def bank_size(model: CompetencyModel) -> int:
    """Main questions in the model's bank, all competencies together."""
    return sum(len(c.questions) for c in model.competencies)


def cap_note(requested: int, bank: int) -> str:
    """The admin-facing note when the requested count exceeds the bank."""
    return (
        f"Asked for {requested} main questions, but the question bank has {bank}; "
        f"the plan asks all {bank}. Add questions to the competency model to ask more."
    )


def allocate(model: CompetencyModel, count: int) -> dict[str, int]:
    """Main questions per competency: at least one each, the rest by weight.

    A count larger than the bank is capped at the bank's size (every main question once).
    """
    comps = model.competencies
    capacity = {c.id: len(c.questions) for c in comps}
    if count < len(comps):
        raise PlanError(
            f"{count} questions cannot cover {len(comps)} competencies; ask at least {len(comps)}"
        )
    count = min(count, bank_size(model))
    result = {c.id: 1 for c in comps}
    while sum(result.values()) < count:
        # Give the next question to whoever is furthest below their weighted share.
        open_ = [c for c in comps if result[c.id] < capacity[c.id]]
        best = max(open_, key=lambda c: (count * c.weight / 100 - result[c.id], c.weight))
        result[best.id] += 1
    return result


def build_plan(model: CompetencyModel, settings: PlanSettings | None = None) -> InterviewPlan:
    """Choose questions covering every competency, deterministic for a given seed."""
    settings = settings or PlanSettings()
    rng = random.Random(settings.seed)
    factor = settings.extra_time_factor
    quota = allocate(model, settings.question_count)
    chosen: dict[str, list[PlannedQuestion]] = {}
    for comp in model.competencies:
        bank = list(comp.questions)
        rng.shuffle(bank)
        chosen[comp.id] = [
            PlannedQuestion(
                id=q.id,
                kind="main",
                text=q.text,
                competency_id=comp.id,
                competency_name=comp.name,
                indicators=list(comp.indicators),
                anchors=dict(comp.anchors),
                probes=list(q.probes),
                time_limit=settings.answer_time_limit * factor,
                thinking_time=settings.thinking_time * factor,
            )
            for q in bank[: quota[comp.id]]
        ]
    # Round-robin in the model's order, so every competency comes up early.
    ordered: list[PlannedQuestion] = []
    while any(chosen.values()):
        for comp in model.competencies:
            if chosen[comp.id]:
                ordered.append(chosen[comp.id].pop(0))
    language = model.language
    available = bank_size(model)
    requested = settings.question_count
    notes = [cap_note(requested, available)] if requested > available else []
    practice = (
        PlannedQuestion(
            id="practice",
            kind="practice",
            text=texts.PRACTICE_QUESTION[language],
            time_limit=settings.practice_time_limit * factor,
            thinking_time=settings.thinking_time * factor,
        )
        if settings.include_practice
        else None
    )
    return InterviewPlan(
        model_id=model.id,
        job_title=model.job_title,
        language=language,
        settings=settings,
        greeting=texts.GREETING[language].format(job_title=model.job_title, count=len(ordered)),
        practice=practice,
        questions=ordered,
        closing=texts.COMPLETION[language],
        next_steps=texts.NEXT_STEPS[language],
        requested_count=requested,
        bank_size=available,
        notes=notes,
    )


def observer_plan(job_title: str, language: Language) -> InterviewPlan:
    """A plan with no AI questions: observers ask everything (a job without a competency model)."""
    settings = PlanSettings(include_practice=False)
    return InterviewPlan(
        model_id="",
        job_title=job_title,
        language=language,
        settings=settings,
        greeting="",
        practice=None,
        questions=[],
        closing=texts.COMPLETION[language],
        next_steps=texts.NEXT_STEPS[language],
        requested_count=0,
        bank_size=0,
        observer_led=True,
    )
