"""Hiring analytics from stored interviews, scores, ratings and decisions (pure functions).

- ``funnel``: how many interviews reached each stage, with conversion from the previous
  stage. One function, so the stages can switch to the job pipeline's when it exists.
- ``agreement_with_ci``: Pearson and Spearman between AI scores and human ratings with 95 %
  intervals (Fisher z, n > 3).
- ``impact_ratios``: the four-fifths rule: each group's rate of a positive recommendation
  over the highest group's; below 0.8 is flagged; groups under 5 people are suppressed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats

MIN_GROUP = 5
FOUR_FIFTHS = 0.8
FUNNEL_STAGES = ("invited", "started", "finished", "reviewed", "decided", "advanced")


@dataclass(frozen=True)
class InterviewFacts:
    """What the funnel needs to know about one interview."""

    started: bool
    finished: bool
    reviewed: bool
    decision: str | None


class FunnelStage(BaseModel):
    """One stage of the funnel."""

    model_config = ConfigDict(frozen=True)

    stage: str
    count: int
    conversion: float | None


def funnel(interviews: Sequence[InterviewFacts]) -> list[FunnelStage]:
    """Counts per stage and the share of the previous stage that reached it."""
    reached = {
        "invited": len(interviews),
        "started": sum(i.started for i in interviews),
        "finished": sum(i.finished for i in interviews),
        "reviewed": sum(i.reviewed for i in interviews),
        "decided": sum(i.decision is not None for i in interviews),
        "advanced": sum(i.decision == "advance" for i in interviews),
    }
    out: list[FunnelStage] = []
    previous: int | None = None
    for stage in FUNNEL_STAGES:
        count = reached[stage]
        conversion = round(count / previous, 4) if previous else None
        out.append(FunnelStage(stage=stage, count=count, conversion=conversion))
        previous = count
    return out


class Correlation(BaseModel):
    """A correlation with its 95 % interval (None when undefined)."""

    model_config = ConfigDict(frozen=True)

    value: float | None = None
    low: float | None = None
    high: float | None = None


class AgreementCI(BaseModel):
    """AI-human agreement on n paired scores."""

    model_config = ConfigDict(frozen=True)

    n: int
    pearson: Correlation
    spearman: Correlation
    mean_abs_difference: float | None = None


def _interval(r: float, n: int) -> Correlation:
    if not math.isfinite(r):
        return Correlation()
    if n <= 3 or abs(r) >= 1:
        return Correlation(value=round(r, 4))
    z, se = math.atanh(r), 1 / math.sqrt(n - 3)
    return Correlation(
        value=round(r, 4),
        low=round(math.tanh(z - 1.96 * se), 4),
        high=round(math.tanh(z + 1.96 * se), 4),
    )


def agreement_with_ci(ai: Sequence[float], human: Sequence[float]) -> AgreementCI:
    """Pearson and Spearman of paired scores with Fisher-z 95 % intervals."""
    n = len(ai)
    if n != len(human):
        raise ValueError("ai and human score lists must have the same length")
    if n == 0:
        return AgreementCI(n=0, pearson=Correlation(), spearman=Correlation())
    x, y = np.asarray(ai, dtype=float), np.asarray(human, dtype=float)
    mad = round(float(np.mean(np.abs(x - y))), 2)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return AgreementCI(n=n, pearson=Correlation(), spearman=Correlation(),
                           mean_abs_difference=mad)
    return AgreementCI(
        n=n,
        pearson=_interval(float(stats.pearsonr(x, y).statistic), n),
        spearman=_interval(float(stats.spearmanr(x, y).statistic), n),
        mean_abs_difference=mad,
    )


class GroupRate(BaseModel):
    """One self-identified group's rate of a positive recommendation."""

    model_config = ConfigDict(frozen=True)

    group: str
    n: int | None
    rate: float | None
    impact_ratio: float | None
    flagged: bool = False
    suppressed: bool = False


def impact_ratios(groups: Mapping[str, tuple[int, int]]) -> list[GroupRate]:
    """``groups``: name -> (recommended, total). Groups under MIN_GROUP are suppressed."""
    shown = {g: (k, n) for g, (k, n) in groups.items() if n >= MIN_GROUP}
    best = max((k / n for k, n in shown.values()), default=0.0)
    out: list[GroupRate] = []
    for group in sorted(groups):
        k, n = groups[group]
        if n < MIN_GROUP:
            out.append(GroupRate(group=group, n=None, rate=None, impact_ratio=None,
                                 suppressed=True))
            continue
        rate = k / n
        ratio = rate / best if best > 0 else None
        out.append(
            GroupRate(
                group=group, n=n, rate=round(rate, 4),
                impact_ratio=None if ratio is None else round(ratio, 4),
                flagged=ratio is not None and ratio < FOUR_FIFTHS,
            )
        )
    return out
