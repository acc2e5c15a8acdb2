"""Analytics functions: funnel, agreement intervals, four-fifths impact ratios."""

from __future__ import annotations

from analysis.scoring.analytics import (
    InterviewFacts,
    agreement_with_ci,
    funnel,
    impact_ratios,
)


def test_funnel_counts_each_stage_and_converts_from_the_previous() -> None:
    facts = [
        InterviewFacts(started=True, finished=True, reviewed=True, decision="advance"),
        InterviewFacts(started=True, finished=True, reviewed=True, decision="reject"),
        InterviewFacts(started=True, finished=True, reviewed=False, decision=None),
        InterviewFacts(started=False, finished=False, reviewed=False, decision=None),
    ]
    stages = {s.stage: s for s in funnel(facts)}
    assert [stages[k].count for k in stages] == [4, 3, 3, 2, 2, 1]
    assert stages["invited"].conversion is None
    assert stages["started"].conversion == 0.75 and stages["advanced"].conversion == 0.5


def test_agreement_has_a_95_percent_interval_around_the_correlation() -> None:
    ai = [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
    human = [0, 25, 25, 50, 50, 50, 75, 75, 100, 100]
    a = agreement_with_ci(ai, human)
    assert a.n == 10 and a.pearson.value is not None and a.pearson.value > 0.9
    assert a.pearson.low is not None and a.pearson.high is not None
    assert a.pearson.low < a.pearson.value < a.pearson.high <= 1
    assert agreement_with_ci([1, 2], [1, 2]).pearson.value is None


def test_four_fifths_flags_low_ratios_and_suppresses_small_groups() -> None:
    rows = {r.group: r for r in impact_ratios({"a": (8, 10), "b": (5, 10), "c": (2, 4)})}
    assert rows["a"].impact_ratio == 1.0 and not rows["a"].flagged
    assert rows["b"].impact_ratio == 0.625 and rows["b"].flagged
    assert rows["c"].suppressed and rows["c"].rate is None and rows["c"].n is None
