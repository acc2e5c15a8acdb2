"""Hiring analytics from stored interviews, scores, ratings and decisions (pure functions).

- ``funnel``: how many interviews reached each stage, with conversion from the previous
  stage; ``pipeline_funnel`` the same for the job pipeline's applications.
- ``agreement_with_ci``: Pearson and Spearman between AI scores and human ratings with 95 %
  intervals (Fisher z, n > 3).
- ``impact_ratios``: the four-fifths rule: each group's rate of a positive recommendation
  over the highest group's; below 0.8 is flagged; groups under 5 people are suppressed
  (``analysis/scoring/fairness.py`` applies it per self-identified group).
- ``satisfaction``: candidates' 1-5 ratings of the experience.
- ``review_sittings``: human review minutes from review openings and ratings/decisions.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping, Sequence
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
    return _converted([(stage, reached[stage]) for stage in FUNNEL_STAGES])


def _converted(counts: Sequence[tuple[str, int]]) -> list[FunnelStage]:
    out: list[FunnelStage] = []
    previous: int | None = None
    for stage, count in counts:
        conversion = round(count / previous, 4) if previous else None
        out.append(FunnelStage(stage=stage, count=count, conversion=conversion))
        previous = count
    return out


# The job pipeline's stages in order (server/workflow/stages.py); the two recommendations
# share a rank. Linear stages count every application that got that far; the branches
# (recommended, human interview, decided) count those that were ever in them.
PIPELINE_RANK = {
    "screened": 0,
    "invited": 1,
    "interview_started": 2,
    "interview_done": 3,
    "recommended": 4,
    "below_threshold": 4,
    "human_interview": 5,
    "decided": 6,
}
PIPELINE_FUNNEL = (
    "screened",
    "invited",
    "interview_started",
    "interview_done",
    "recommended",
    "human_interview",
    "decided",
)
_BRANCHES = frozenset({"recommended", "human_interview", "decided"})


def pipeline_funnel(histories: Sequence[Collection[str]]) -> list[FunnelStage]:
    """Applications per pipeline stage; ``histories``: every stage each one has been in."""

    def reached(stages: Collection[str], stage: str) -> bool:
        if stage in _BRANCHES:
            return stage in stages
        top = max((PIPELINE_RANK.get(s, 0) for s in stages), default=0)
        return top >= PIPELINE_RANK[stage]

    return _converted(
        [(stage, sum(reached(h, stage) for h in histories)) for stage in PIPELINE_FUNNEL]
    )


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


# -- satisfaction and time --------------------------------------------------------------------


class Satisfaction(BaseModel):
    """Candidates' ratings of the experience (1-5)."""

    model_config = ConfigDict(frozen=True)

    responses: int
    mean: float | None
    distribution: dict[str, int]


def satisfaction(ratings: Sequence[int]) -> Satisfaction:
    """Count, mean and how many gave each rating 1-5."""
    return Satisfaction(
        responses=len(ratings),
        mean=round(sum(ratings) / len(ratings), 2) if ratings else None,
        distribution={str(k): sum(r == k for r in ratings) for k in range(1, 6)},
    )


@dataclass(frozen=True)
class Touch:
    """A reviewer opening an interview's review (``open``) or rating/deciding it (``submit``)."""

    user_id: str
    interview_id: str
    at: float  # seconds (any epoch)
    kind: str


MAX_SITTING_MINUTES = 120.0


def _sittings(items: Sequence[Touch]) -> Iterator[tuple[float | None, float]]:
    """(opened, last submit) of each sitting with a submit; opened None before any opening."""
    opened: float | None = None
    last: float | None = None
    for t in items:
        if t.kind == "open":
            if last is not None:
                yield opened, last
            opened, last = t.at, None
        else:
            last = t.at
    if last is not None:
        yield opened, last


def review_sittings(
    touches: Sequence[Touch], max_minutes: float = MAX_SITTING_MINUTES
) -> tuple[dict[str, float], int]:
    """Human review minutes per interview, and how many sittings could not be measured.

    A sitting starts when a reviewer opens the interview's review and lasts until their last
    rating or decision before they open it again. Sittings with no rating or decision are not
    counted (nothing shows the page was worked on); ratings with no opening before them (the
    API used directly) and sittings longer than ``max_minutes`` (the page left open) are
    counted as unmeasured.
    """
    by_pair: dict[tuple[str, str], list[Touch]] = {}
    for t in sorted(touches, key=lambda t: (t.at, t.kind != "open")):
        by_pair.setdefault((t.user_id, t.interview_id), []).append(t)
    minutes: dict[str, float] = {}
    unmeasured = 0
    for (_user, interview), items in by_pair.items():
        for opened, last in _sittings(items):
            span = None if opened is None else (last - opened) / 60
            if span is None or span > max_minutes:
                unmeasured += 1
            else:
                minutes[interview] = minutes.get(interview, 0.0) + span
    return {k: round(v, 2) for k, v in minutes.items()}, unmeasured
