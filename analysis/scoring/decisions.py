"""Recommendations and human decisions: the AI recommends, a person decides.

The scorer can only produce a Recommendation. A candidate's status moves past
"awaiting_review" only through :func:`status_from_decision`, which needs a
HumanDecision (who, when, what); CandidateStatus refuses any other combination, so no
code path can reject a candidate without a recorded human decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analysis.competency.model import Language
from analysis.events import utcnow

RecommendationKind = Literal["advance", "no_recommendation", "insufficient_evidence"]
DecisionKind = Literal["advance", "reject", "hold"]
StatusKind = Literal["awaiting_review", "advanced", "on_hold", "rejected"]

_STATUS_OF: dict[DecisionKind, StatusKind] = {
    "advance": "advanced",
    "hold": "on_hold",
    "reject": "rejected",
}

_TEXTS: dict[RecommendationKind, dict[Language, str]] = {
    "advance": {
        "en": "Recommendation: advance to the human interview (score {total:.0f}, threshold "
        "{threshold:.0f}). This is a recommendation; a person decides.",
        "zh": "建议：进入人工面试（得分 {total:.0f}，阈值 {threshold:.0f}）。"
        "这只是建议，由人来决定。",
    },
    "no_recommendation": {
        "en": "No recommendation to advance (score {total:.0f}, threshold {threshold:.0f}). "
        "A person reviews the evidence and decides.",
        "zh": "未达到推荐阈值（得分 {total:.0f}，阈值 {threshold:.0f}）。请由人查看证据后决定。",
    },
    "insufficient_evidence": {
        "en": "Not enough evidence for a recommendation; "
        "a person reviews the interview and decides.",
        "zh": "证据不足，无法给出建议；请由人查看面试后决定。",
    },
}


class Recommendation(BaseModel):
    """What the scorer suggests; never a decision."""

    model_config = ConfigDict(frozen=True)

    kind: RecommendationKind
    text: str
    total: float | None = None
    threshold: float


def recommend(
    total: float | None, threshold: float, language: Language, enough_evidence: bool = True
) -> Recommendation:
    """Recommend the human interview when the total reaches the job's threshold."""
    if total is None or not enough_evidence:
        kind: RecommendationKind = "insufficient_evidence"
    elif total >= threshold:
        kind = "advance"
    else:
        kind = "no_recommendation"
    text = _TEXTS[kind][language].format(total=total or 0.0, threshold=threshold)
    return Recommendation(kind=kind, text=text, total=total, threshold=threshold)


class HumanDecision(BaseModel):
    """A recorded decision by a named person at a given time."""

    model_config = ConfigDict(frozen=True)

    interview_id: str
    person: str = Field(min_length=1)
    at: datetime = Field(default_factory=utcnow)
    decision: DecisionKind
    note: str = ""


class CandidateStatus(BaseModel):
    """Where a candidate stands; any status but awaiting_review carries its HumanDecision."""

    model_config = ConfigDict(frozen=True)

    interview_id: str
    status: StatusKind = "awaiting_review"
    decision: HumanDecision | None = None
    recommendation: Recommendation | None = None

    @model_validator(mode="after")
    def _decided_by_a_person(self) -> CandidateStatus:
        if self.decision is None:
            if self.status != "awaiting_review":
                raise ValueError(
                    f"status {self.status!r} needs a recorded human decision (person and time)"
                )
        elif _STATUS_OF[self.decision.decision] != self.status:
            raise ValueError(
                f"status {self.status!r} does not match the decision {self.decision.decision!r}"
            )
        elif self.decision.interview_id != self.interview_id:
            raise ValueError("the decision belongs to another interview")
        return self


def awaiting_review(interview_id: str, recommendation: Recommendation | None) -> CandidateStatus:
    """The status after scoring: waiting for a person, with the AI's recommendation attached."""
    return CandidateStatus(interview_id=interview_id, recommendation=recommendation)


def status_from_decision(
    decision: HumanDecision, recommendation: Recommendation | None = None
) -> CandidateStatus:
    """The only way to move a candidate on (or to reject them): a human decision."""
    if not isinstance(decision, HumanDecision):
        raise TypeError("a HumanDecision (person, time, decision) is required")
    return CandidateStatus(
        interview_id=decision.interview_id,
        status=_STATUS_OF[decision.decision],
        decision=decision,
        recommendation=recommendation,
    )
