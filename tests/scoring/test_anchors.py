"""Behaviourally anchored rating scales: the model, the built-in templates and the report."""

from __future__ import annotations

import pytest

from analysis.competency import parse_competency_model
from analysis.competency.model import CompetencyModelError
from analysis.competency.templates import list_templates, load_template
from analysis.competency.yaml_io import from_yaml, to_yaml
from analysis.scoring import answer_from_text, score_interview
from tests.scoring.answers import SPECIFIC_EN


def _model(anchors: object) -> dict[str, object]:
    return {
        "id": "m",
        "job_title": "Engineer",
        "language": "en",
        "competencies": [
            {
                "id": "c",
                "name": "C",
                "weight": 100,
                "anchors": anchors,
                "questions": [{"id": "q", "text": "Tell me about a bug."}],
            }
        ],
    }


def test_every_builtin_template_has_anchors_for_levels_1_3_5_in_both_languages() -> None:
    for info in list_templates():
        assert set(info.languages) == {"zh", "en"}
        for language in info.languages:
            model = load_template(info.key, language)
            for competency in model.competencies:
                assert sorted(competency.anchors) == [1, 3, 5], (info.key, language, competency.id)


def test_anchors_survive_a_yaml_round_trip() -> None:
    model = load_template("software_engineer", "zh")
    assert from_yaml(to_yaml(model)) == model


def test_anchor_levels_other_than_1_3_5_are_refused_with_a_clear_message() -> None:
    with pytest.raises(CompetencyModelError) as err:
        parse_competency_model(_model({2: "half"}))
    assert "levels 1, 3 and 5" in str(err.value)
    with pytest.raises(CompetencyModelError):
        parse_competency_model(_model({1: "  "}))


def test_the_report_carries_the_anchors_for_the_rating_form() -> None:
    model = load_template("software_engineer", "en")
    answer = answer_from_text(
        "lt-1", SPECIFIC_EN, "en",
        competency_ids=["logical_thinking"],
        question_text=model.competency("logical_thinking").questions[0].text,
    )
    score = score_interview("i1", [answer], model)
    dumped = score.model_dump(mode="json")
    anchors = dumped["competencies"][0]["anchors"]
    assert set(anchors) == {"1", "3", "5"}
    assert "hypotheses" in anchors["5"]
