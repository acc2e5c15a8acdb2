"""Agreement between AI scores and human ratings: Pearson and Spearman with n."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats


class Agreement(BaseModel):
    """Correlation of paired AI and human scores; None when undefined (n < 3 or constant)."""

    model_config = ConfigDict(frozen=True)

    n: int
    pearson: float | None = None
    spearman: float | None = None
    mean_abs_difference: float | None = None


class CompetencyAgreement(BaseModel):
    """Agreement on one competency (``competency_id`` "all" pools every competency)."""

    model_config = ConfigDict(frozen=True)

    competency_id: str
    before: Agreement
    after: Agreement | None = None


def _finite(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None


def agreement(ai: Sequence[float], human: Sequence[float]) -> Agreement:
    """Pearson and Spearman correlation of two equally long score lists."""
    if len(ai) != len(human):
        raise ValueError("ai and human score lists must have the same length")
    n = len(ai)
    if n == 0:
        return Agreement(n=0)
    x = np.asarray(ai, dtype=float)
    y = np.asarray(human, dtype=float)
    mad = _finite(float(np.mean(np.abs(x - y))))
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Agreement(n=n, mean_abs_difference=mad)
    pearson = float(stats.pearsonr(x, y).statistic)
    spearman = float(stats.spearmanr(x, y).statistic)
    return Agreement(
        n=n, pearson=_finite(pearson), spearman=_finite(spearman), mean_abs_difference=mad
    )
