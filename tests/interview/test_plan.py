"""Interview plans: coverage of every competency, allocation by weight, determinism."""

from __future__ import annotations

from collections import Counter

import pytest

from analysis.competency import list_templates, load_template, parse_competency_model
from analysis.competency.model import Language
from analysis.interview.plan import (
    InterviewPlan,
    PlanError,
    PlanSettings,
    allocate,
    build_plan,
)


@pytest.mark.parametrize("key", [t.key for t in list_templates()])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_competency_is_covered(key: str, language: Language) -> None:
    model = load_template(key, language)
    for count in (3, 5, 7, 10):
        plan = build_plan(model, PlanSettings(question_count=count, seed=count))
        covered = {q.competency_id for q in plan.questions}
        assert covered == {c.id for c in model.competencies}
        assert len({q.id for q in plan.questions}) == len(plan.questions)


def test_allocation_follows_weights() -> None:
    model = load_template("production_supervisor", "en")  # 40 / 30 / 30
    assert allocate(model, 3) == {
        "problem_solving": 1,
        "team_management": 1,
        "capacity_improvement": 1,
    }
    assert allocate(model, 4)["problem_solving"] == 2
    assert sum(allocate(model, 7).values()) == 7


def test_the_same_seed_gives_the_same_plan_and_others_may_differ() -> None:
    model = load_template("product_manager", "en")
    first = build_plan(model, PlanSettings(question_count=4, seed=7))
    again = build_plan(model, PlanSettings(question_count=4, seed=7))
    assert first == again
    variants = {
        tuple(q.id for q in build_plan(model, PlanSettings(question_count=4, seed=s)).questions)
        for s in range(10)
    }
    assert len(variants) > 1


def test_competencies_come_round_robin_so_each_appears_early() -> None:
    model = load_template("software_engineer", "zh")
    plan = build_plan(model, PlanSettings(question_count=7))
    first_three = [q.competency_id for q in plan.questions[:3]]
    assert first_three == [c.id for c in model.competencies]


def test_extra_time_scales_every_limit() -> None:
    model = load_template("customer_service", "en")
    settings = PlanSettings(
        question_count=3, answer_time_limit=100, thinking_time=20, extra_time_factor=1.5
    )
    plan = build_plan(model, settings)
    assert {q.time_limit for q in plan.questions} == {150}
    assert {q.thinking_time for q in plan.questions} == {30}
    assert plan.practice is not None and plan.practice.time_limit == 135


def test_greeting_and_closing_are_in_the_interview_language() -> None:
    zh = build_plan(load_template("customer_service", "zh"), PlanSettings(question_count=3))
    assert "客服专员" in zh.greeting and zh.practice is not None and "工作" in zh.practice.text
    en = build_plan(load_template("customer_service", "en"), PlanSettings(question_count=3))
    assert "Customer Service Representative" in en.greeting
    assert "next steps" in en.next_steps


def test_too_few_questions_for_the_competencies_is_a_clear_error() -> None:
    model = load_template("product_manager", "en")
    with pytest.raises(PlanError, match="2 questions cannot cover 3 competencies"):
        build_plan(model, PlanSettings(question_count=2))


def test_a_count_beyond_the_bank_asks_every_question_once() -> None:
    model = parse_competency_model(
        {
            "id": "m",
            "job_title": "M",
            "language": "en",
            "competencies": [
                {"id": "a", "name": "A", "weight": 50, "questions": [{"id": "a1", "text": "?"}]},
                {"id": "b", "name": "B", "weight": 50, "questions": [{"id": "b1", "text": "?"}]},
            ],
        }
    )
    plan = build_plan(model, PlanSettings(question_count=9))
    assert [q.id for q in plan.questions] == ["a1", "b1"]
    assert plan.capped and plan.requested_count == 9 and plan.bank_size == 2
    assert plan.notes == [
        "Asked for 9 main questions, but the question bank has 2; the plan asks all 2. "
        "Add questions to the competency model to ask more."
    ]


@pytest.mark.parametrize("key", [t.key for t in list_templates()])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_ten_questions_fit_every_template_and_follow_the_weights(
    key: str, language: Language
) -> None:
    model = load_template(key, language)
    plan = build_plan(model, PlanSettings(question_count=10, seed=3))
    assert plan.total == 10 and not plan.capped and plan.notes == []
    assert plan.requested_count == 10 and plan.bank_size is not None and plan.bank_size >= 12
    per_comp = Counter(q.competency_id for q in plan.questions)
    assert set(per_comp) == {c.id for c in model.competencies}
    assert per_comp == allocate(model, 10)
    for comp in model.competencies:  # within one question of the weighted share
        assert abs(per_comp[comp.id] - 10 * comp.weight / 100) < 1


def test_production_supervisor_ten_questions_are_4_3_3() -> None:
    for language in ("zh", "en"):
        model = load_template("production_supervisor", language)
        assert allocate(model, 10) == {
            "problem_solving": 4,
            "team_management": 3,
            "capacity_improvement": 3,
        }


def test_a_plan_within_the_bank_has_no_notes_and_old_plans_still_load() -> None:
    model = load_template("software_engineer", "en")
    plan = build_plan(model, PlanSettings(question_count=7))
    assert (plan.requested_count, plan.bank_size, plan.notes, plan.capped) == (7, 12, [], False)
    capped = build_plan(model, PlanSettings(question_count=15))
    assert capped.total == 12 and capped.capped
    assert capped.notes and "Asked for 15" in capped.notes[0] and "has 12" in capped.notes[0]
    # A plan stored before these fields existed loads with the defaults.
    old = plan.model_dump(mode="json")
    for key in ("requested_count", "bank_size", "notes"):
        del old[key]
    restored = InterviewPlan.model_validate(old)
    assert restored.questions == plan.questions
    assert (restored.requested_count, restored.bank_size, restored.notes) == (None, None, [])
    assert not restored.capped
    assert InterviewPlan.model_validate_json(capped.model_dump_json()) == capped
