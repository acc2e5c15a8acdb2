"""The candidate message: encouraging, specific, from the evidence; never a score or a verdict."""

from __future__ import annotations

import re

import pytest

from analysis.competency import load_template
from analysis.competency.model import Language
from analysis.scoring import InterviewScore, JobScoring, answer_from_text, score_interview
from analysis.scoring.feedback import compose_feedback, non_score_problems
from tests.scoring import answers as A

SCORE_WORDS = re.compile(
    r"\b(scor\w*|points?|percent\w*|rank\w*|rating|grade|advanc\w*|reject\w*|hire|offer|"
    r"weak\w*|next round|unfortunately)\b|分数|得分|评分|排名|百分|录用|淘汰|下一轮|不足",
    re.IGNORECASE,
)


def scored(language: Language, text: str, threshold: float = 70.0) -> InterviewScore:
    model = load_template("software_engineer", language)
    question = A.QUESTION_EN if language == "en" else A.QUESTION_ZH
    answer = answer_from_text(
        "lt-1",
        text,
        language,
        question_text=question,
        competency_ids=["logical_thinking"],
        asr_confidence=0.9,
    )
    return score_interview("i1", [answer], model, job=JobScoring(threshold=threshold))


def assert_non_score(text: str) -> None:
    assert not re.search(r"[0-9０-９%％]", text), text
    assert not SCORE_WORDS.search(text), text
    assert non_score_problems(text) == []


@pytest.mark.parametrize(
    ("language", "answer", "topic"),
    [("en", A.SPECIFIC_EN, "logical thinking"), ("zh", A.SPECIFIC_ZH, "逻辑思维")],
)
def test_a_specific_answer_gets_a_sentence_naming_its_strength(
    language: Language, answer: str, topic: str
) -> None:
    score = scored(language, answer)
    assert score.competency("logical_thinking").score is not None  # there are numbers behind it
    feedback = compose_feedback(score)
    assert feedback.language == language
    assert topic in feedback.text
    assert [s.competency_id for s in feedback.strengths] == ["logical_thinking"]
    # The answer quoted results ("crashes dropped ... to zero"): that is what is named.
    assert feedback.strengths[0].kind == "results"
    if language == "en":
        assert "specific about the results" in feedback.text
    else:
        assert "成果讲得很具体" in feedback.text
    assert_non_score(feedback.text)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_message_never_carries_a_score_number_or_decision(language: Language) -> None:
    specific = A.SPECIFIC_EN if language == "en" else A.SPECIFIC_ZH
    vague = A.VAGUE_EN if language == "en" else A.VAGUE_ZH
    for text in (specific, vague, ""):
        for threshold in (0.0, 100.0):  # recommended or not: the same kind of message
            feedback = compose_feedback(scored(language, text, threshold))
            assert_non_score(feedback.text)
            sentences = re.split(r"(?<=[.。])\s*", feedback.text.strip())
            assert 1 <= len([s for s in sentences if s]) <= 3


def test_the_message_does_not_depend_on_the_threshold() -> None:
    low = compose_feedback(scored("en", A.SPECIFIC_EN, threshold=0))
    high = compose_feedback(scored("en", A.SPECIFIC_EN, threshold=100))
    assert low.text == high.text


@pytest.mark.parametrize(("language", "thanks"), [("en", "Thank you"), ("zh", "感谢")])
def test_without_supported_evidence_it_only_thanks(language: Language, thanks: str) -> None:
    vague = A.VAGUE_EN if language == "en" else A.VAGUE_ZH
    feedback = compose_feedback(scored(language, vague))
    assert feedback.strengths == []
    assert feedback.text.startswith(thanks)
    assert_non_score(feedback.text)


def test_three_competencies_at_most_with_different_phrasing() -> None:
    model = load_template("software_engineer", "en")
    answer = answer_from_text(
        "lt-1",
        A.SPECIFIC_EN,
        "en",
        question_text=A.QUESTION_EN,
        competency_ids=[c.id for c in model.competencies],
        asr_confidence=0.9,
    )
    feedback = compose_feedback(score_interview("i1", [answer], model))
    assert 1 <= len(feedback.strengths) <= 3
    kinds = [s.kind for s in feedback.strengths]
    assert len(set(kinds)) == len(kinds)
    for strength in feedback.strengths:
        assert strength.name.lower() in feedback.text
    assert_non_score(feedback.text)


def test_it_is_deterministic() -> None:
    score = scored("zh", A.SPECIFIC_ZH)
    assert compose_feedback(score) == compose_feedback(score)


def test_a_competency_name_with_a_number_is_not_named() -> None:
    score = scored("en", A.SPECIFIC_EN)
    renamed = score.model_copy(
        update={
            "competencies": [
                c.model_copy(update={"name": "Top 10 percent debugging"})
                for c in score.competencies
            ]
        }
    )
    feedback = compose_feedback(renamed)
    assert feedback.strengths == []
    assert_non_score(feedback.text)


@pytest.mark.parametrize(
    "text",
    [
        "You scored 82.",
        "Your answers were in the top 10%.",
        "We will advance you to the next round.",
        "Unfortunately your examples lacked detail.",
        "你的得分很高。",
        "你进入了下一轮。",
        "你的例子有些不足。",
    ],
)
def test_an_edit_with_scores_or_verdicts_is_flagged(text: str) -> None:
    assert non_score_problems(text)


def test_plain_encouragement_is_not_flagged() -> None:
    assert non_score_problems("Your examples of user research were concrete.") == []
    assert non_score_problems("你在用户调研方面举的例子很具体。") == []
