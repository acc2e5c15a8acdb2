"""Calibration: fit a job's feature weights to human ratings, as a new dated scorer version.

One sample is one competency of one interview: the competency's mean content features
(the scorer's own ``CompetencyScore.features``) and the mean human rating on 0-100.
The fit is ridge regression that shrinks toward the base version's weights (not toward
zero), so a small or noisy sample stays close to the documented default:

    minimise  sum (y - b - X w)^2 + lambda * n * |w - w_base|^2

with an unpenalised intercept ``b``. Lambda is chosen by k-fold cross-validation with
folds by interview, so an interview's competencies never sit on both sides of a split.
Agreement "after" is measured on the out-of-fold predictions, not on the fitted data.
Delivery signals are never calibrated: they keep their fixed low weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from analysis.events import utcnow
from analysis.scoring.agreement import CompetencyAgreement, agreement
from analysis.scoring.report import HumanRating, human_scores
from analysis.scoring.scorer import InterviewScore
from analysis.scoring.version import FEATURES, ScorerVersion, VersionMetrics

MIN_INTERVIEWS = 8
LAMBDAS: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)


class CalibrationError(ValueError):
    """Calibration cannot run on these samples (the message says why)."""


class CalibrationSample(BaseModel):
    """One competency of one interview with its features and its human score (0-100)."""

    model_config = ConfigDict(frozen=True)

    interview_id: str
    competency_id: str
    features: dict[str, float]
    human: float = Field(ge=0, le=100)
    ai: float | None = Field(None, description="The score the base version gave, if known.")


class CalibrationReport(BaseModel):
    """What calibration did and how well AI and human scores agree, before and after."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    version_id: str
    base_version_id: str
    created_at: datetime
    interviews: int
    samples: int
    ridge_lambda: float
    cv_folds: int
    cv_rmse: dict[str, float] = Field(description="Cross-validated RMSE (0-100) per lambda.")
    weights_before: dict[str, float]
    weights_after: dict[str, float]
    intercept_before: float
    intercept_after: float
    agreement: list[CompetencyAgreement] = Field(
        description="Per competency and 'all'; 'after' uses out-of-fold predictions."
    )


class CalibrationResult(BaseModel):
    """The new scorer version and its report."""

    model_config = ConfigDict(frozen=True)

    version: ScorerVersion
    report: CalibrationReport


def samples_from_score(
    score: InterviewScore, ratings: Sequence[HumanRating]
) -> list[CalibrationSample]:
    """Calibration samples from one scored interview and its human ratings."""
    humans = human_scores(ratings)
    return [
        CalibrationSample(
            interview_id=score.interview_id,
            competency_id=c.competency_id,
            features={k: c.features[k] for k in FEATURES if k in c.features},
            human=humans[c.competency_id][0],
            ai=c.score,
        )
        for c in score.competencies
        if c.score is not None and c.competency_id in humans
    ]


def predict(version: ScorerVersion, features: dict[str, float]) -> float:
    """The content score (0-100) a version gives these features."""
    weights = version.weights
    raw = version.intercept + sum(weights.get(k, 0.0) * features.get(k, 0.0) for k in FEATURES)
    return float(min(100.0, max(0.0, 100 * raw)))


def ridge(x: np.ndarray, y: np.ndarray, lam: float, prior: np.ndarray) -> tuple[float, np.ndarray]:
    """Closed-form ridge toward ``prior`` with an unpenalised intercept."""
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    n, p = x.shape
    penalty = lam * n * np.eye(p)
    w = np.linalg.solve(xc.T @ xc + penalty, xc.T @ yc + penalty @ prior)
    return float(y_mean - x_mean @ w), w


def _folds(interviews: list[str], k: int, seed: int) -> dict[str, int]:
    order = np.random.default_rng(seed).permutation(len(interviews))
    return {interviews[i]: rank % k for rank, i in enumerate(order)}


def _matrix(samples: Sequence[CalibrationSample]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[s.features.get(f, 0.0) for f in FEATURES] for s in samples], dtype=float)
    y = np.array([s.human / 100 for s in samples], dtype=float)
    return x, y


def _agreements(
    samples: Sequence[CalibrationSample], before: list[float], after: list[float]
) -> list[CompetencyAgreement]:
    human = [s.human for s in samples]
    groups = sorted({s.competency_id for s in samples})
    result = []
    for cid in [*groups, "all"]:
        idx = [i for i, s in enumerate(samples) if cid in ("all", s.competency_id)]
        result.append(
            CompetencyAgreement(
                competency_id=cid,
                before=agreement([before[i] for i in idx], [human[i] for i in idx]),
                after=agreement([after[i] for i in idx], [human[i] for i in idx]),
            )
        )
    return result


def calibrate(
    samples: Sequence[CalibrationSample],
    base: ScorerVersion,
    job_id: str,
    *,
    version_id: str | None = None,
    now: datetime | None = None,
    folds: int = 5,
    lambdas: Sequence[float] = LAMBDAS,
    min_interviews: int = MIN_INTERVIEWS,
    seed: int = 0,
) -> CalibrationResult:
    """Fit new weights; raise CalibrationError with fewer than ``min_interviews`` interviews."""
    interviews = sorted({s.interview_id for s in samples})
    if len(interviews) < min_interviews:
        raise CalibrationError(
            f"calibration needs human ratings from at least {min_interviews} interviews for "
            f"job {job_id!r}; it has {len(interviews)}. Keep rating interviews and try again."
        )
    if not lambdas:
        raise CalibrationError("no regularisation strengths to choose from")
    created = now or utcnow()
    k = max(2, min(folds, len(interviews)))
    fold_of = _folds(interviews, k, seed)
    fold = np.array([fold_of[s.interview_id] for s in samples])
    x, y = _matrix(samples)
    prior = np.array([base.weights.get(f, 0.0) for f in FEATURES])
    rmse: dict[str, float] = {}
    out_of_fold: dict[float, np.ndarray] = {}
    for lam in lambdas:
        pred = np.empty_like(y)
        for f in range(k):
            train, test = fold != f, fold == f
            b, w = ridge(x[train], y[train], lam, prior)
            pred[test] = np.clip(b + x[test] @ w, 0.0, 1.0)
        out_of_fold[lam] = pred
        rmse[repr(lam)] = round(float(np.sqrt(np.mean((pred - y) ** 2))) * 100, 4)
    best = min(lambdas, key=lambda lam: (rmse[repr(lam)], -lam))
    intercept, weights = ridge(x, y, best, prior)
    new_weights = {f: round(float(v), 6) for f, v in zip(FEATURES, weights, strict=True)}
    version_id = version_id or f"{job_id}-{created:%Y%m%dT%H%M%SZ}"
    before = [s.ai if s.ai is not None else predict(base, s.features) for s in samples]
    after = [float(v) * 100 for v in out_of_fold[best]]
    agreements = _agreements(samples, before, after)
    report = CalibrationReport(
        job_id=job_id,
        version_id=version_id,
        base_version_id=base.id,
        created_at=created,
        interviews=len(interviews),
        samples=len(samples),
        ridge_lambda=best,
        cv_folds=k,
        cv_rmse=rmse,
        weights_before=dict(base.weights),
        weights_after=new_weights,
        intercept_before=base.intercept,
        intercept_after=round(intercept, 6),
        agreement=agreements,
    )
    version = ScorerVersion(
        id=version_id,
        created_at=created,
        job_id=job_id,
        parent_id=base.id,
        intercept=round(intercept, 6),
        weights=new_weights,
        settings=base.settings,
        metrics=VersionMetrics(
            interviews=len(interviews),
            samples=len(samples),
            ridge_lambda=best,
            cv_folds=k,
            cv_rmse=rmse[repr(best)],
            agreement=agreements,
        ),
        note=f"calibrated on {len(interviews)} interviews from {base.id}",
    )
    return CalibrationResult(version=version, report=report)
