"""Fairness by voluntarily self-identified group (gender, age band): pure functions.

Per group: the four-fifths impact ratio of the scorer's recommendation, the mean ASR
confidence of the answers (recognition that works worse for an accent feeds the scores) and
the share of answers set aside. Groups under ``MIN_GROUP`` interviews are suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from analysis.scoring.analytics import MIN_GROUP, impact_ratios

NOT_DISCLOSED = "prefer_not_to_say"
SET_ASIDE_OFF_TOPIC = frozenset({"off_topic", "off_competency"})


@dataclass(frozen=True)
class FairnessFacts:
    """One self-identified, scored interview: its groups and what the scorer made of it.

    ``recommendation`` is the scorer's kind (advance, no_recommendation,
    insufficient_evidence); ``confidences`` the ASR confidence of each answer that has one;
    ``judgements`` counts answer-by-competency judgements, ``set_aside`` those not scored
    and ``off_topic`` those set aside as off-topic or about another competency.
    """

    groups: Mapping[str, str]
    recommendation: str
    confidences: Sequence[float]
    judgements: int
    set_aside: int
    off_topic: int


class GroupFairness(BaseModel):
    """One group's figures; every figure is None when the group is suppressed (n < 5)."""

    model_config = ConfigDict(frozen=True)

    group: str
    suppressed: bool
    n: int | None = None
    compared: int | None = None
    recommended: int | None = None
    rate: float | None = None
    impact_ratio: float | None = None
    flagged: bool = False
    asr_confidence: float | None = None
    set_aside_share: float | None = None
    off_topic_share: float | None = None


class AttributeFairness(BaseModel):
    """The groups of one attribute (gender, age band) and how many preferred not to say."""

    model_config = ConfigDict(frozen=True)

    attribute: str
    not_disclosed: int
    groups: list[GroupFairness]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def group_fairness(
    facts: Sequence[FairnessFacts], categories: Mapping[str, Sequence[str]]
) -> list[AttributeFairness]:
    """Per attribute and group: four-fifths impact ratio, ASR confidence, answers set aside.

    Every category is listed whether or not anyone chose it, so a suppressed row does not
    reveal that someone of a small group applied. The rate compares ``advance`` with
    ``no_recommendation`` (below the threshold); interviews with insufficient evidence count
    in ``n`` and in the answers set aside, not in the rate.
    """
    out: list[AttributeFairness] = []
    for attribute, options in categories.items():
        members: dict[str, list[FairnessFacts]] = {g: [] for g in options if g != NOT_DISCLOSED}
        not_disclosed = 0
        for f in facts:
            group = f.groups.get(attribute)
            if group == NOT_DISCLOSED:
                not_disclosed += 1
            elif group in members:
                members[group].append(f)
        counts = {
            g: (
                sum(f.recommendation == "advance" for f in fs),
                sum(f.recommendation in ("advance", "no_recommendation") for f in fs),
            )
            for g, fs in members.items()
        }
        rates = {r.group: r for r in impact_ratios(counts)}
        groups: list[GroupFairness] = []
        for g, fs in members.items():
            if len(fs) < MIN_GROUP:
                groups.append(GroupFairness(group=g, suppressed=True))
                continue
            confidences = [c for f in fs for c in f.confidences]
            judgements = sum(f.judgements for f in fs)
            rate = rates[g]
            groups.append(
                GroupFairness(
                    group=g,
                    suppressed=False,
                    n=len(fs),
                    compared=counts[g][1],
                    recommended=counts[g][0],
                    rate=rate.rate,
                    impact_ratio=rate.impact_ratio,
                    flagged=rate.flagged,
                    asr_confidence=round(sum(confidences) / len(confidences), 4)
                    if confidences
                    else None,
                    set_aside_share=_share(sum(f.set_aside for f in fs), judgements),
                    off_topic_share=_share(sum(f.off_topic for f in fs), judgements),
                )
            )
        out.append(AttributeFairness(attribute=attribute, not_disclosed=not_disclosed,
                                     groups=groups))
    return out
