"""Scorer versions: the weights and thresholds one score was computed with.

A version is immutable and dated. Calibration creates a new version; rescoring with it
produces new result objects tagged with the new id, so a past score never changes.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from analysis.events import utcnow
from analysis.scoring.agreement import CompetencyAgreement

# Content features, each in [0, 1]; definitions in docs/scoring.md.
FEATURES: tuple[str, ...] = (
    "story",
    "specificity",
    "ownership",
    "relevance",
    "indicators",
    "length",
    "vagueness",
    "actions",
)
DELIVERY_FEATURE = "delivery"
# Not weighted: a multiplier on the content score (structure.py), shown as its own line.
NARRATIVE = "narrative"

DEFAULT_WEIGHTS: dict[str, float] = {
    "story": 0.20,
    "specificity": 0.20,
    "ownership": 0.05,
    "relevance": 0.05,
    "indicators": 0.10,
    "length": 0.15,
    "vagueness": -0.30,
    "actions": 0.25,
}


class ScoringSettings(BaseModel):
    """Thresholds that decide when an answer is scored at all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_words: int = Field(20, ge=0, description="English answers below this are too short.")
    min_chars: int = Field(30, ge=0, description="Mandarin answers below this are too short.")
    min_relevant_terms: int = Field(
        2, ge=0, description="Distinct content terms shared with the question or competency."
    )
    min_asr_confidence: float = Field(
        0.4, ge=0, le=1, description="Mean word probability below this: transcript unreliable."
    )
    target_words: int = Field(150, gt=0, description="English length at which 'length' is 1.")
    target_chars: int = Field(250, gt=0, description="Mandarin length at which 'length' is 1.")
    specificity_items: int = Field(5, gt=0, description="Specific items at which it is 1.")
    delivery_weight: float = Field(
        0.05, ge=0, le=0.1, description="Share of the score from delivery, when enabled."
    )
    semantic: bool = Field(
        True, description="Measure relevance by meaning with the bundled sentence encoder."
    )
    narrative_floor: float = Field(
        0.35, ge=0, le=1, description="Share of the score kept by an answer with no narrative."
    )


class VersionMetrics(BaseModel):
    """How a calibrated version was chosen and how well it agrees with human ratings."""

    model_config = ConfigDict(frozen=True)

    interviews: int
    samples: int
    ridge_lambda: float
    cv_folds: int
    cv_rmse: float
    agreement: list[CompetencyAgreement] = Field(default_factory=list)


class ScorerVersion(BaseModel):
    """One immutable, dated set of scoring weights."""

    model_config = ConfigDict(frozen=True)

    id: str
    created_at: datetime = Field(default_factory=utcnow)
    job_id: str | None = None
    parent_id: str | None = None
    intercept: float = 0.0
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    settings: ScoringSettings = Field(default_factory=ScoringSettings)
    metrics: VersionMetrics | None = None
    note: str = ""


DEFAULT_VERSION_ID = "default-2"


def default_version() -> ScorerVersion:
    """The documented hand-set scorer used before any calibration."""
    return ScorerVersion(
        id=DEFAULT_VERSION_ID,
        created_at=datetime(2025, 1, 1, tzinfo=utcnow().tzinfo),
        note="hand-set default weights, relevance by meaning (docs/scoring.md)",
    )
