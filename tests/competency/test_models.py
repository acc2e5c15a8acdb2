"""Competency models: validation messages, YAML round trip and the built-in templates."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.competency import (
    LANGUAGES,
    CompetencyModelError,
    from_yaml,
    list_templates,
    load_template,
    parse_competency_model,
    to_yaml,
)
from analysis.competency.model import Language

REQUIRED_TEMPLATES = {
    "product_manager",
    "production_supervisor",
    "customer_service",
    "software_engineer",
}


def small_model(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "tester",
        "job_title": "Tester",
        "language": "en",
        "competencies": [
            {
                "id": "rigour",
                "name": "Rigour",
                "weight": 60,
                "indicators": ["Writes a test for every bug fixed."],
                "questions": [{"id": "r1", "text": "Tell me about a bug you caught."}],
            },
            {
                "id": "teamwork",
                "name": "Teamwork",
                "weight": 40,
                "questions": [{"id": "t1", "text": "Tell me about a team conflict."}],
            },
        ],
    }
    data.update(changes)
    return data


def errors_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(CompetencyModelError) as caught:
        parse_competency_model(data)
    return caught.value.errors


def test_a_valid_model_parses() -> None:
    model = parse_competency_model(small_model())
    assert [c.weight for c in model.competencies] == [60, 40]
    assert model.competency("teamwork").name == "Teamwork"


def test_weights_not_summing_to_100_say_the_sum() -> None:
    data = small_model()
    data["competencies"][1]["weight"] = 30
    (message,) = errors_of(data)
    assert "sum to 100" in message
    assert "sum to 90" in message
    assert "rigour 60" in message and "teamwork 30" in message


def test_a_competency_without_main_questions_is_named() -> None:
    data = small_model()
    data["competencies"][1]["questions"] = []
    (message,) = errors_of(data)
    assert "'teamwork' (Teamwork) has no main questions" in message


def test_unknown_language_is_rejected_with_the_choices() -> None:
    (message,) = errors_of(small_model(language="fr"))
    assert message.startswith("language: unknown language 'fr'")
    assert "'zh'" in message and "'en'" in message


def test_several_problems_are_reported_together() -> None:
    data = small_model(language="de")
    data["competencies"][0]["weight"] = 10
    messages = errors_of(data)
    assert any("unknown language 'de'" in m for m in messages)


def test_duplicate_ids_and_bad_weights_are_rejected() -> None:
    data = small_model()
    data["competencies"][1]["questions"][0]["id"] = "r1"
    assert any("question id 'r1' is used more than once" in m for m in errors_of(data))
    data = small_model()
    data["competencies"][0]["weight"] = 0
    assert any(m.startswith("competencies.0.weight") for m in errors_of(data))


def test_yaml_round_trip_keeps_everything() -> None:
    model = parse_competency_model(small_model())
    assert from_yaml(to_yaml(model)) == model


def test_bad_yaml_gives_a_located_error() -> None:
    with pytest.raises(CompetencyModelError) as caught:
        from_yaml("id: x\ncompetencies: [unclosed\n")
    assert "not valid YAML at line" in str(caught.value)
    with pytest.raises(CompetencyModelError, match="must be a mapping"):
        from_yaml("- just\n- a list\n")


def test_every_required_template_exists_in_both_languages() -> None:
    infos = {t.key: t for t in list_templates()}
    assert REQUIRED_TEMPLATES <= set(infos)
    for key in REQUIRED_TEMPLATES:
        assert set(infos[key].languages) == set(LANGUAGES)


@pytest.mark.parametrize("key", sorted(REQUIRED_TEMPLATES))
def test_templates_are_valid_and_parallel_across_languages(key: str) -> None:
    zh, en = load_template(key, "zh"), load_template(key, "en")
    assert (zh.language, en.language) == ("zh", "en")
    assert [(c.id, c.weight) for c in zh.competencies] == [
        (c.id, c.weight) for c in en.competencies
    ]
    for zc, ec in zip(zh.competencies, en.competencies, strict=True):
        assert [q.id for q in zc.questions] == [q.id for q in ec.questions]
        assert len(zc.questions) >= 4 and len(ec.questions) >= 4  # 7-10 question interviews
        assert all(1 <= len(q.probes) <= 2 for q in ec.questions + zc.questions)
        assert len(ec.indicators) >= 3 and len(zc.indicators) >= 3
        assert all(q.probes for q in ec.questions + zc.questions)
    assert from_yaml(to_yaml(zh)) == zh
    assert from_yaml(to_yaml(en)) == en


@pytest.mark.parametrize("key", sorted(REQUIRED_TEMPLATES))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_bank_holds_enough_behavioural_questions(
    key: str, language: Language
) -> None:
    model = load_template(key, language)
    for comp in model.competencies:
        assert len(comp.questions) >= 4, f"{key}.{language}: {comp.id} has {len(comp.questions)}"
    assert sum(len(c.questions) for c in model.competencies) >= 12
    opening = ("Tell me about", "Describe") if language == "en" else ("请讲",)
    for comp in model.competencies:
        for q in comp.questions:
            assert q.text.startswith(opening), f"{key}.{language} {q.id} is not behavioural"


def test_production_supervisor_weights_match_the_job_description() -> None:
    model = load_template("production_supervisor", "en")
    assert {c.id: c.weight for c in model.competencies} == {
        "problem_solving": 40,
        "team_management": 30,
        "capacity_improvement": 30,
    }


def test_unknown_template_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="software_engineer"):
        load_template("astronaut", "en")
