"""Analytics functions: funnel, agreement intervals, four-fifths impact ratios by group,
suppression of small groups, satisfaction and review minutes."""

from __future__ import annotations

from analysis.scoring.analytics import (
    InterviewFacts,
    Touch,
    agreement_with_ci,
    funnel,
    impact_ratios,
    pipeline_funnel,
    review_sittings,
    satisfaction,
)
from analysis.scoring.fairness import FairnessFacts, group_fairness


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


def _person(gender: str, age: str, kind: str, conf: float = 0.9, aside: int = 0,
            off: int = 0) -> FairnessFacts:
    return FairnessFacts(
        groups={"gender": gender, "age_band": age},
        recommendation=kind,
        confidences=[conf, conf],
        judgements=3,
        set_aside=aside,
        off_topic=off,
    )


CATS = {"gender": ("female", "male", "another", "prefer_not_to_say"),
        "age_band": ("under_25", "25_34", "prefer_not_to_say")}


def test_impact_ratio_is_each_groups_rate_over_the_best_and_flags_below_four_fifths() -> None:
    # female: 4 of 5 compared advance (0.8); male: 2 of 6 (0.333); ratio 0.4167 -> flagged
    people = [_person("female", "25_34", "advance") for _ in range(4)]
    people += [_person("female", "25_34", "no_recommendation")]
    people += [_person("female", "25_34", "insufficient_evidence", aside=3)]
    people += [_person("male", "25_34", "advance", conf=0.7) for _ in range(2)]
    people += [_person("male", "25_34", "no_recommendation", conf=0.7, aside=1, off=1)
               for _ in range(4)]
    gender = {a.attribute: a for a in group_fairness(people, CATS)}["gender"]
    rows = {g.group: g for g in gender.groups}
    assert rows["female"].n == 6 and rows["female"].compared == 5
    assert rows["female"].rate == 0.8 and rows["female"].impact_ratio == 1.0
    assert not rows["female"].flagged
    assert rows["male"].rate == round(2 / 6, 4)
    assert rows["male"].impact_ratio == round((2 / 6) / 0.8, 4) and rows["male"].flagged
    # set-asides: female 3 of 18 judgements, none off-topic; male 4 of 18, all off-topic
    assert rows["female"].set_aside_share == round(3 / 18, 4)
    assert rows["female"].off_topic_share == 0.0
    assert rows["male"].set_aside_share == rows["male"].off_topic_share == round(4 / 18, 4)
    assert rows["female"].asr_confidence == 0.9 and rows["male"].asr_confidence == 0.7


def test_small_and_empty_groups_are_suppressed_and_every_option_is_listed() -> None:
    people = [_person("female", "under_25", "advance") for _ in range(5)]
    people += [_person("another", "under_25", "no_recommendation") for _ in range(4)]
    people += [_person("prefer_not_to_say", "prefer_not_to_say", "advance") for _ in range(2)]
    result = {a.attribute: a for a in group_fairness(people, CATS)}
    rows = {g.group: g for g in result["gender"].groups}
    assert list(rows) == ["female", "male", "another"]  # prefer-not-to-say is no group
    assert result["gender"].not_disclosed == 2 and result["age_band"].not_disclosed == 2
    for name in ("male", "another"):  # 0 and 4 people: nothing is shown, not even n
        assert rows[name].suppressed and rows[name].n is None and rows[name].rate is None
        assert rows[name].asr_confidence is None and rows[name].set_aside_share is None
    # the only shown group is the best one: ratio 1, nothing to flag
    assert rows["female"].impact_ratio == 1.0 and not rows["female"].flagged
    ages = {g.group: g for g in result["age_band"].groups}
    assert ages["under_25"].n == 9 and ages["25_34"].suppressed


def test_a_rate_on_fewer_than_five_compared_interviews_is_suppressed() -> None:
    people = [_person("female", "25_34", "insufficient_evidence") for _ in range(3)]
    people += [_person("female", "25_34", "advance") for _ in range(2)]
    rows = {g.group: g for g in group_fairness(people, CATS)[0].groups}
    assert rows["female"].n == 5 and rows["female"].compared is not None
    assert rows["female"].rate is None and rows["female"].impact_ratio is None
    assert not rows["female"].flagged


def test_satisfaction_counts_each_rating() -> None:
    s = satisfaction([5, 4, 4, 2])
    assert s.responses == 4 and s.mean == 3.75
    assert s.distribution == {"1": 0, "2": 1, "3": 0, "4": 2, "5": 1}
    assert satisfaction([]).mean is None


def test_review_minutes_run_from_opening_to_the_last_submit_of_each_sitting() -> None:
    m = 60.0
    touches = [
        Touch("u1", "i1", 0, "open"), Touch("u1", "i1", 4 * m, "submit"),
        Touch("u1", "i1", 9 * m, "submit"),  # sitting 1: 9 minutes
        Touch("u1", "i1", 500 * m, "open"), Touch("u1", "i1", 503 * m, "submit"),  # 3 more
        Touch("u2", "i1", 10 * m, "open"),  # opened, never rated: not counted
        Touch("u2", "i2", 0, "open"), Touch("u2", "i2", 200 * m, "submit"),  # left open
        Touch("u3", "i2", 5 * m, "submit"),  # rated through the API: no opening
    ]
    minutes, unmeasured = review_sittings(touches)
    assert minutes == {"i1": 12.0}
    assert unmeasured == 2


def test_the_pipeline_funnel_counts_how_far_each_application_got() -> None:
    histories = [
        {"screened"},
        {"screened", "invited"},  # moved back to screened later: it still was invited
        {"screened", "invited", "interview_started", "interview_done", "below_threshold",
         "human_interview", "decided"},
        {"screened", "invited", "interview_started", "interview_done", "recommended",
         "decided"},
    ]
    stages = {s.stage: s for s in pipeline_funnel(histories)}
    assert [s.count for s in stages.values()] == [4, 3, 2, 2, 1, 1, 2]
    assert stages["invited"].conversion == 0.75 and stages["interview_started"].conversion == 0.6667
    assert stages["recommended"].conversion == 0.5  # of those whose interview was done
    assert stages["screened"].conversion is None
