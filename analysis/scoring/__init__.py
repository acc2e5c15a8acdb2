"""Evidence-citing, deterministic, offline scoring; calibration against human ratings.

See docs/scoring.md. The server builds AnswerInput objects (answer_from_events), calls
score_interview, builds a report with build_report, and records human decisions with
status_from_decision. Calibration (calibrate) produces a new ScorerVersion.
"""

from analysis.scoring.agreement import Agreement, CompetencyAgreement, agreement
from analysis.scoring.calibration import (
    CalibrationError,
    CalibrationReport,
    CalibrationResult,
    CalibrationSample,
    calibrate,
    predict,
    samples_from_score,
)
from analysis.scoring.decisions import (
    CandidateStatus,
    HumanDecision,
    Recommendation,
    awaiting_review,
    recommend,
    status_from_decision,
)
from analysis.scoring.report import (
    FocusPoint,
    HumanRating,
    InterviewReport,
    RatingDifference,
    build_report,
)
from analysis.scoring.scorer import (
    AnswerScore,
    CompetencyScore,
    Contribution,
    IndicatorEvidence,
    InterviewScore,
    JobScoring,
    Quote,
    Reason,
    rescore,
    score_answer,
    score_interview,
)
from analysis.scoring.transcript import (
    AnswerInput,
    Sentence,
    answer_from_events,
    answer_from_finals,
    answer_from_text,
)
from analysis.scoring.version import (
    DEFAULT_WEIGHTS,
    FEATURES,
    ScorerVersion,
    ScoringSettings,
    VersionMetrics,
    default_version,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "FEATURES",
    "Agreement",
    "AnswerInput",
    "AnswerScore",
    "CalibrationError",
    "CalibrationReport",
    "CalibrationResult",
    "CalibrationSample",
    "CandidateStatus",
    "CompetencyAgreement",
    "CompetencyScore",
    "Contribution",
    "FocusPoint",
    "HumanDecision",
    "HumanRating",
    "IndicatorEvidence",
    "InterviewReport",
    "InterviewScore",
    "JobScoring",
    "Quote",
    "RatingDifference",
    "Reason",
    "Recommendation",
    "ScorerVersion",
    "ScoringSettings",
    "Sentence",
    "VersionMetrics",
    "agreement",
    "answer_from_events",
    "answer_from_finals",
    "answer_from_text",
    "awaiting_review",
    "build_report",
    "calibrate",
    "default_version",
    "predict",
    "recommend",
    "rescore",
    "samples_from_score",
    "score_answer",
    "score_interview",
    "status_from_decision",
]
