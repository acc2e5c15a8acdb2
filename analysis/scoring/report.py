"""Report data for one interview: scores with evidence, human ratings beside them, focus points.

The server renders this as a page, a PDF and JSON (``InterviewReport.model_dump_json()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analysis.competency.model import Language
from analysis.events import utcnow
from analysis.scoring.decisions import CandidateStatus, awaiting_review
from analysis.scoring.llm_judge import LlmJudgement
from analysis.scoring.scorer import InterviewScore

FocusKind = Literal["low_score", "insufficient_evidence", "ai_human_gap"]

_FOCUS: dict[FocusKind, dict[Language, str]] = {
    "low_score": {
        "en": "{name} scored {ai:.0f}: probe it.",
        "zh": "{name}得分 {ai:.0f}：请重点追问。",
    },
    "insufficient_evidence": {
        "en": "{name}: not enough evidence in this interview; ask about it.",
        "zh": "{name}：本次面试证据不足，请在人工面试中考察。",
    },
    "ai_human_gap": {
        "en": "{name}: AI {ai:.0f} vs human {human:.0f}; discuss the difference.",
        "zh": "{name}：AI 评分 {ai:.0f}，人工评分 {human:.0f}，请讨论差异。",
    },
}
_UNADDRESSED: dict[Language, str] = {
    "en": ' Not addressed: "{indicator}"',
    "zh": "未涉及：“{indicator}”",
}


class HumanRating(BaseModel):
    """One person's rating of one competency, on a 1-5 or 0-100 scale."""

    model_config = ConfigDict(frozen=True)

    competency_id: str
    value: float
    scale: Literal["1-5", "0-100"] = "1-5"
    rater: str = ""
    at: datetime = Field(default_factory=utcnow)
    note: str = ""

    @model_validator(mode="after")
    def _in_range(self) -> HumanRating:
        low, high = (1, 5) if self.scale == "1-5" else (0, 100)
        if not low <= self.value <= high:
            raise ValueError(f"rating {self.value} is outside the {self.scale} scale")
        return self

    def to_100(self) -> float:
        """The rating on the AI's 0-100 scale (1-5 maps 1→0, 3→50, 5→100)."""
        return (self.value - 1) * 25 if self.scale == "1-5" else self.value


def human_scores(ratings: Sequence[HumanRating]) -> dict[str, tuple[float, int]]:
    """Mean 0-100 human score and rater count per competency."""
    grouped: dict[str, list[float]] = {}
    for rating in ratings:
        grouped.setdefault(rating.competency_id, []).append(rating.to_100())
    return {cid: (sum(v) / len(v), len(v)) for cid, v in grouped.items()}


class RatingDifference(BaseModel):
    """The AI score beside the human ratings of one competency."""

    model_config = ConfigDict(frozen=True)

    competency_id: str
    name: str
    ai: float | None = None
    human: float | None = None
    raters: int = 0
    difference: float | None = Field(None, description="AI minus human, on 0-100.")
    highlighted: bool = False


class FocusPoint(BaseModel):
    """Something the human interview should look at, with the reason."""

    model_config = ConfigDict(frozen=True)

    competency_id: str
    kind: FocusKind
    text: str


class InterviewReport(BaseModel):
    """Everything the report page, PDF and JSON export show for one interview."""

    model_config = ConfigDict(frozen=True)

    interview_id: str
    created_at: datetime = Field(default_factory=utcnow)
    score: InterviewScore
    rating_differences: list[RatingDifference]
    focus_points: list[FocusPoint]
    status: CandidateStatus
    llm: list[LlmJudgement] = Field(
        default_factory=list, description="The optional LLM judge, beside the scorer's result."
    )
    llm_differences: int = Field(
        0, description="Answer x competency pairs where the two judges differ by 2+ levels."
    )
    llm_dropped_quotes: int = Field(0, description="LLM quotes not found verbatim, dropped.")


def build_report(
    score: InterviewScore,
    ratings: Sequence[HumanRating] = (),
    status: CandidateStatus | None = None,
    *,
    focus_below: float = 65.0,
    gap: float = 20.0,
    llm: Sequence[LlmJudgement] = (),
) -> InterviewReport:
    """Report data: differences of at least ``gap`` points are highlighted."""
    language = score.language
    humans = human_scores(ratings)
    differences: list[RatingDifference] = []
    focus: list[FocusPoint] = []
    for c in score.competencies:
        human, raters = humans.get(c.competency_id, (None, 0))
        diff = round(c.score - human, 2) if c.score is not None and human is not None else None
        highlighted = diff is not None and abs(diff) >= gap
        differences.append(
            RatingDifference(
                competency_id=c.competency_id,
                name=c.name,
                ai=c.score,
                human=None if human is None else round(human, 2),
                raters=raters,
                difference=diff,
                highlighted=highlighted,
            )
        )
        values = {"name": c.name, "ai": c.score or 0.0, "human": human or 0.0}
        if c.score is None:
            kind: FocusKind = "insufficient_evidence"
            focus.append(_focus(c.competency_id, kind, language, values))
        elif c.score < focus_below:
            text = _FOCUS["low_score"][language].format(**values)
            missing = [ev.indicator for ev in c.indicators if ev.status == "not_addressed"]
            if missing:
                text += _UNADDRESSED[language].format(indicator=missing[0])
            focus.append(FocusPoint(competency_id=c.competency_id, kind="low_score", text=text))
        if highlighted:
            focus.append(_focus(c.competency_id, "ai_human_gap", language, values))
    return InterviewReport(
        interview_id=score.interview_id,
        score=score,
        rating_differences=differences,
        focus_points=focus,
        status=status or awaiting_review(score.interview_id, score.recommendation),
        llm=list(llm),
        llm_differences=sum(v.differs for j in llm for v in j.verdicts),
        llm_dropped_quotes=sum(j.dropped_quotes for j in llm),
    )


def _focus(
    competency_id: str, kind: FocusKind, language: Language, values: dict[str, object]
) -> FocusPoint:
    return FocusPoint(
        competency_id=competency_id, kind=kind, text=_FOCUS[kind][language].format(**values)
    )
