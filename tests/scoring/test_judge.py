"""The default judge: relevance by meaning, narrative structure, off-competency stories."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.competency.templates import load_template
from analysis.scoring import answer_from_text, score_interview
from analysis.scoring.scorer import AnswerScore
from analysis.scoring.semantic import (
    EncoderError,
    bundled_encoder,
    resource_dir,
    verify_resources,
)
from analysis.scoring.structure import narrative, sentence_structure
from analysis.scoring.version import ScorerVersion, ScoringSettings

PLAIN_EN = (
    "Our order service sometimes returned errors in the evening. I read the logs and saw a lot "
    "of timeouts to the database. I increased the connection pool size in the configuration "
    "and the errors went away after that release."
)
PLAIN_ZH = (
    "我们的订单服务晚上有时候会报错。我看了日志，发现有很多连接数据库超时。"
    "我把配置里的连接池调大了，那次发布之后错误就没有了。"
)
KEYWORDS_EN = (
    "Root cause analysis, hypothesis testing, logs, metrics, Grafana, race condition, memory "
    "leak, load test, regression test, p99 latency, 30 percent reduction, zero incidents, "
    "incident review."
)
HELPING_EN = (
    "When a new colleague joined our team she was stuck for days on our deployment scripts. "
    "I sat with her every afternoon for a week, showed her how our release process works and "
    "wrote a short guide together with her. She felt much more confident and after two weeks "
    "she was reviewing other people's changes and helping the next new hire."
)


def _score(text: str, language: str, competency: str = "logical_thinking") -> AnswerScore:
    model = load_template("software_engineer", language)  # type: ignore[arg-type]
    question = model.competency(competency).questions[0]
    answer = answer_from_text(
        question.id, text, language,  # type: ignore[arg-type]
        question_text=question.text, competency_ids=[competency],
    )
    return score_interview("i", [answer], model).competency(competency).answers[0]


@pytest.mark.parametrize(("text", "language"), [(PLAIN_EN, "en"), (PLAIN_ZH, "zh")])
def test_a_plain_relevant_answer_sharing_no_words_with_the_question_is_scored(
    text: str, language: str
) -> None:
    result = _score(text, language)
    assert result.status == "scored", result.reasons
    assert result.judge == "meaning"
    assert result.features["relevance"] > 0.3


def test_a_list_of_terms_scores_below_a_plain_level_3_story() -> None:
    keywords = _score(KEYWORDS_EN, "en")
    plain = _score(PLAIN_EN, "en")
    assert plain.score is not None
    assert keywords.score is None or keywords.score < plain.score
    if keywords.score is not None:
        gate = next(c for c in keywords.contributions if c.name == "narrative")
        assert gate.value < 0.2 and gate.points < 0


def test_a_story_about_another_competency_is_off_competency_and_names_it() -> None:
    result = _score(HELPING_EN, "en", "logical_thinking")
    assert result.status == "insufficient_evidence"
    assert [r.code for r in result.reasons] == ["off_competency"]
    assert result.shown_competency == "collaboration"
    assert "Collaboration" in result.reasons[0].message
    shown = _score(HELPING_EN, "en", "collaboration")
    assert shown.status == "scored"


def test_every_point_still_traces_to_quoted_sentences() -> None:
    result = _score(PLAIN_EN, "en")
    actions = next(c for c in result.contributions if c.name == "actions")
    assert actions.value > 0 and actions.quotes
    for quote in actions.quotes:
        assert PLAIN_EN[quote.offset : quote.offset + len(quote.text)] == quote.text


def test_structure_tells_a_list_from_a_story() -> None:
    assert sentence_structure(KEYWORDS_EN).told == 0.0
    assert sentence_structure("根因分析、假设验证、日志、监控指标、压测、回归测试。").told < 0.2
    assert narrative([PLAIN_EN]) > 0.9
    assert narrative(["我看了日志，发现有很多连接数据库超时。"]) > 0.9


def test_without_meaning_the_judge_falls_back_to_shared_terms() -> None:
    model = load_template("software_engineer", "en")
    lexical = ScorerVersion(id="lexical", settings=ScoringSettings(semantic=False))
    question = model.competency("logical_thinking").questions[0]
    answer = answer_from_text(
        question.id, PLAIN_EN, "en", question_text=question.text,
        competency_ids=["logical_thinking"],
    )
    result = score_interview("i", [answer], model, lexical)
    assert result.competency("logical_thinking").answers[0].judge == "lexical"


def test_the_bundled_encoder_is_checked_against_pinned_sums(tmp_path: Path) -> None:
    folder = resource_dir()
    verify_resources(folder)
    copy = tmp_path / "resources"
    shutil.copytree(folder, copy)
    with (copy / "sp.model").open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(EncoderError, match="does not match the pinned checksum"):
        verify_resources(copy)
    (copy / "weights.npz").unlink()
    with pytest.raises(EncoderError, match="missing"):
        verify_resources(copy)


def test_the_encoder_is_multilingual_and_loaded_once() -> None:
    encoder = bundled_encoder()
    assert bundled_encoder() is encoder
    vectors = encoder.encode([
        "I read the logs and found timeouts to the database.",
        "我看了日志，发现连接数据库超时。",
        "On weekends I like hiking with my dog.",
    ])
    same = float(vectors[0] @ vectors[1])
    other = float(vectors[0] @ vectors[2])
    assert same > 0.5 > other
