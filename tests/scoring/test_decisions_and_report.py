"""The AI recommends, a person decides: no code path rejects without a HumanDecision."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

import analysis.scoring
from analysis.competency import load_template
from analysis.competency.model import Language
from analysis.scoring.decisions import (
    CandidateStatus,
    HumanDecision,
    recommend,
    status_from_decision,
)
from analysis.scoring.report import HumanRating, InterviewReport, build_report
from analysis.scoring.scorer import JobScoring, score_interview
from analysis.scoring.transcript import answer_from_text
from tests.scoring import answers as A

PACKAGE = Path(analysis.scoring.__file__).parent


def string_constants(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.value, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_only_the_decision_module_names_the_rejected_status() -> None:
    found = {
        path.name
        for path in PACKAGE.glob("*.py")
        for value, _ in string_constants(path)
        if "rejected" in value.lower().split() or value.strip().lower() == "rejected"
    }
    assert found == {"decisions.py"}


def test_rejected_without_a_human_decision_is_refused() -> None:
    with pytest.raises(ValidationError, match="human decision"):
        CandidateStatus(interview_id="i1", status="rejected")
    advance = HumanDecision(interview_id="i1", person="ana", decision="advance")
    with pytest.raises(ValidationError, match="does not match"):
        CandidateStatus(interview_id="i1", status="rejected", decision=advance)
    with pytest.raises(TypeError):
        # Deliberately ill-typed: the runtime guard against a plain dict is what is tested.
        status_from_decision({"interview_id": "i1", "person": "x", "decision": "reject"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        HumanDecision(interview_id="i1", person="", decision="reject")


def test_a_human_decision_is_the_way_to_reject() -> None:
    decision = HumanDecision(interview_id="i1", person="ana", decision="reject", note="fit")
    status = status_from_decision(decision)
    assert status.status == "rejected"
    assert status.decision is not None and status.decision.person == "ana"
    assert status.decision.at.tzinfo is not None
    hold = decision.model_copy(update={"decision": "hold"})
    assert status_from_decision(hold).status == "on_hold"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_scoring_never_rejects_even_the_lowest_scores(language: Language) -> None:
    for total in (None, 0.0, 10.0, 69.9, 70.0, 100.0):
        rec = recommend(total, 70.0, language)
        assert rec.kind in ("advance", "no_recommendation", "insufficient_evidence")
    m = load_template("software_engineer", language)
    question = A.QUESTION_EN if language == "en" else A.QUESTION_ZH
    off_topic = A.OFF_TOPIC_EN if language == "en" else A.OFF_TOPIC_ZH
    vague = A.VAGUE_EN if language == "en" else A.VAGUE_ZH
    for text in ("", off_topic, vague):
        answers = [
            answer_from_text(
                "lt-1",
                text,
                language,
                question_text=question,
                competency_ids=[c.id for c in m.competencies],
                asr_confidence=0.9,
            )
        ]
        score = score_interview("i1", answers, m, job=JobScoring(threshold=100))
        report = build_report(score)
        assert report.status.status == "awaiting_review"
        assert report.status.decision is None
        dumped = report.model_dump_json()
        assert '"rejected"' not in dumped and '"reject"' not in dumped


def test_report_has_focus_points_and_ai_human_differences() -> None:
    m = load_template("software_engineer", "en")
    answers = [
        answer_from_text(
            "lt-1",
            A.VAGUE_EN,
            "en",
            question_text=A.QUESTION_EN,
            competency_ids=["logical_thinking"],
            asr_confidence=0.9,
        ),
        answer_from_text(
            "cq-1",
            A.SPECIFIC_EN,
            "en",
            question_text=A.QUESTION_EN,
            competency_ids=["code_quality"],
            asr_confidence=0.9,
        ),
    ]
    score = score_interview("i1", answers, m)
    lt = score.competency("logical_thinking").score
    assert lt is not None and lt < 65
    ratings = [
        HumanRating(competency_id="logical_thinking", value=5, rater="ana"),
        HumanRating(competency_id="code_quality", value=75, scale="0-100", rater="ana"),
    ]
    report = build_report(score, ratings)
    texts = [f.text for f in report.focus_points]
    assert f"Logical thinking scored {lt:.0f}: probe it." in texts[0]
    kinds = {(f.competency_id, f.kind) for f in report.focus_points}
    assert ("logical_thinking", "ai_human_gap") in kinds
    assert ("collaboration", "insufficient_evidence") in kinds
    lt_diff = next(d for d in report.rating_differences if d.competency_id == "logical_thinking")
    assert lt_diff.human == 100 and lt_diff.highlighted and lt_diff.difference == round(lt - 100, 2)
    data = json.loads(report.model_dump_json())
    assert InterviewReport.model_validate(data) == report


def test_mandarin_focus_points() -> None:
    m = load_template("software_engineer", "zh")
    answers = [
        answer_from_text(
            "lt-1",
            A.VAGUE_ZH,
            "zh",
            question_text=A.QUESTION_ZH,
            competency_ids=["logical_thinking"],
            asr_confidence=0.9,
        )
    ]
    report = build_report(score_interview("i1", answers, m))
    texts = [f.text for f in report.focus_points]
    assert any(t.startswith("逻辑思维得分") and "请重点追问" in t for t in texts)
    assert any("证据不足" in t for t in texts)


def test_ratings_outside_their_scale_are_refused() -> None:
    with pytest.raises(ValidationError):
        HumanRating(competency_id="x", value=6)
    assert HumanRating(competency_id="x", value=3).to_100() == 50
