"""The default scorer on answers written for the tests, in English and Mandarin."""

from __future__ import annotations

import pytest

from analysis.competency import CompetencyModel, load_template
from analysis.competency.model import Language
from analysis.events import (
    FaceDeliverySummarized,
    QuestionAnswered,
    TranscriptFinal,
    VoiceDeliverySummarized,
    WordTiming,
)
from analysis.scoring.scorer import JobScoring, score_answer, score_interview
from analysis.scoring.transcript import AnswerInput, answer_from_events, answer_from_text
from tests.scoring import answers as A

CASES: dict[Language, tuple[str, str, str, str]] = {
    "en": (A.QUESTION_EN, A.SPECIFIC_EN, A.VAGUE_EN, A.OFF_TOPIC_EN),
    "zh": (A.QUESTION_ZH, A.SPECIFIC_ZH, A.VAGUE_ZH, A.OFF_TOPIC_ZH),
}


def model(language: Language) -> CompetencyModel:
    return load_template("software_engineer", language)


def answer(language: Language, text: str, confidence: float | None = 0.9) -> AnswerInput:
    return answer_from_text(
        "lt-1",
        text,
        language,
        question_text=CASES[language][0],
        competency_ids=["logical_thinking"],
        start=100.0,
        end=160.0,
        asr_confidence=confidence,
    )


def words_of(text: str, language: Language, start: float, prob: float) -> list[WordTiming]:
    """Whisper-like words: English words with a leading space, Mandarin characters."""
    pieces = [" " + w for w in text.split()] if language == "en" else list(text)
    return [
        WordTiming(word=p, start=start + 0.3 * i, end=start + 0.3 * i + 0.25, probability=prob)
        for i, p in enumerate(pieces)
    ]


def finals_of(text: str, language: Language, start: float, prob: float = 0.9) -> TranscriptFinal:
    words = words_of(text, language, start, prob)
    return TranscriptFinal(
        interview_id="i1",
        utterance_id=f"u{start}",
        text=text,
        words=words,
        language=language,
        start=words[0].start,
        end=words[-1].end,
    )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_specific_quantified_story_scores_higher_than_a_vague_one(language: Language) -> None:
    competency = model(language).competency("logical_thinking")
    _, specific, vague, _ = CASES[language]
    good = score_answer(answer(language, specific), competency)
    poor = score_answer(answer(language, vague), competency)
    assert good.status == poor.status == "scored"
    assert good.score is not None and poor.score is not None
    assert good.score >= poor.score + 30
    assert good.features["specificity"] > poor.features["specificity"]
    assert good.features["story"] > poor.features["story"]
    assert poor.features["vagueness"] > good.features["vagueness"]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_empty_and_off_topic_answers_are_insufficient_evidence(language: Language) -> None:
    competency = model(language).competency("logical_thinking")
    off_topic = score_answer(answer(language, CASES[language][3]), competency)
    empty = score_answer(answer(language, ""), competency)
    assert off_topic.status == empty.status == "insufficient_evidence"
    assert off_topic.score is None and empty.score is None
    assert [r.code for r in off_topic.reasons] == ["off_topic"]
    assert [r.code for r in empty.reasons] == ["empty"]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_low_asr_confidence_is_insufficient_evidence(language: Language) -> None:
    competency = model(language).competency("logical_thinking")
    result = score_answer(answer(language, CASES[language][1], confidence=0.2), competency)
    assert result.status == "insufficient_evidence"
    assert "low_asr_confidence" in [r.code for r in result.reasons]


def test_a_too_short_answer_is_insufficient_evidence() -> None:
    competency = model("en").competency("logical_thinking")
    result = score_answer(answer("en", "I found the bug by testing."), competency)
    assert [r.code for r in result.reasons] == ["too_short"]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_evidence_quotes_are_transcript_substrings_with_word_times(language: Language) -> None:
    specific = CASES[language][1]
    split = specific.index("。") + 1 if language == "zh" else specific.index(". ") + 2
    first, second = specific[:split].strip(), specific[split:].strip()
    finals = [finals_of(first, language, 100.0), finals_of(second, language, 130.0)]
    done = QuestionAnswered(
        interview_id="i1",
        question_id="lt-1",
        kind="main",
        competency_id="logical_thinking",
        transcript="",
        started=99.5,
        ended=finals[1].end + 0.5,
    )
    unrelated = finals_of(A.OFF_TOPIC_EN, "en", 400.0)
    ans = answer_from_events(done, [*finals, unrelated], language, question_text=CASES[language][0])
    assert A.OFF_TOPIC_EN[:20] not in ans.transcript
    result = score_answer(ans, model(language).competency("logical_thinking"))
    quotes = [q for ev in result.indicators for q in ev.support + ev.against]
    quotes += [q for c in result.contributions for q in c.quotes]
    assert quotes and any(ev.support for ev in result.indicators)
    all_words = [w for f in finals for w in f.words]
    for quote in quotes:
        assert ans.transcript[quote.offset : quote.offset + len(quote.text)] == quote.text
        assert quote.text in first or quote.text in second
        # The quote starts with the word that carries its first character, ends with its last.
        first_char = quote.text.split()[0] if language == "en" else quote.text[0]
        starts = [w.start for w in all_words if w.word.strip() == first_char]
        assert quote.start in starts
        assert quote.start < quote.end
        assert 100.0 <= quote.start and quote.end <= finals[1].end


def test_only_one_competency_insufficient_the_rest_still_scored() -> None:
    m = model("en")
    good = answer("en", A.SPECIFIC_EN)
    off = answer_from_text(
        "cq-1",
        A.OFF_TOPIC_EN,
        "en",
        question_text=m.competency("code_quality").questions[0].text,
        competency_ids=["code_quality"],
        asr_confidence=0.9,
    )
    result = score_interview("i1", [good, off], m)
    assert result.competency("logical_thinking").status == "scored"
    assert result.competency("code_quality").status == "insufficient_evidence"
    assert set(result.excluded) == {"code_quality", "collaboration"}
    assert result.scored_weight == 40
    assert result.total == result.competency("logical_thinking").score
    # Under half the job's weight scored: no recommendation either way.
    assert result.recommendation.kind == "insufficient_evidence"


def test_total_uses_job_weights_and_threshold_only_recommends() -> None:
    m = model("en")
    answers = [
        answer_from_text(
            q.id,
            A.SPECIFIC_EN,
            "en",
            question_text=A.QUESTION_EN,
            competency_ids=["logical_thinking", "code_quality"],
            asr_confidence=0.9,
        )
        for q in m.competency("logical_thinking").questions[:1]
    ]
    result = score_interview("i1", answers, m, job=JobScoring(threshold=10, min_scored_weight=50))
    lt, cq = result.competency("logical_thinking"), result.competency("code_quality")
    assert lt.score is not None and cq.score is not None
    expected = (40 * lt.score + 30 * cq.score) / 70
    assert result.total == pytest.approx(expected, abs=0.01)
    assert result.excluded == ["collaboration"]
    assert result.recommendation.kind == "advance"
    assert "recommendation" in result.recommendation.text.lower()
    high = score_interview("i1", answers, m, job=JobScoring(threshold=99))
    assert high.recommendation.kind == "no_recommendation"


def test_delivery_is_used_only_when_enabled_and_weighted_low() -> None:
    competency = model("en").competency("logical_thinking")
    voice = VoiceDeliverySummarized(
        interview_id="i1",
        question_id="lt-1",
        language="en",
        start=0,
        end=60,
        unit="word",
        units=150,
        speaking_time=60,
        speaking_rate=150,
        pause_ratio=0.1,
    )
    face = FaceDeliverySummarized(
        interview_id="i1",
        question_id="lt-1",
        mode="full",
        start=0,
        end=60,
        samples=60,
        share_facing=1.0,
    )
    ans = answer("en", A.SPECIFIC_EN).model_copy(update={"voice": voice, "face": face})
    off = score_answer(ans, competency)
    on = score_answer(ans, competency, job=JobScoring(delivery_enabled=True))
    assert "delivery" not in off.features
    delivery = [c for c in on.contributions if c.name == "delivery"]
    assert len(delivery) == 1 and delivery[0].low_weight and delivery[0].weight <= 0.1
    assert "low weight" in delivery[0].label
    assert on.score is not None and off.score is not None
    assert abs(on.score - off.score) <= 10


def test_scoring_is_deterministic_and_serializes_to_json() -> None:
    m = model("zh")
    answers = [answer("zh", A.SPECIFIC_ZH), answer("zh", A.VAGUE_ZH)]
    first = score_interview("i1", answers, m)
    second = score_interview("i1", answers, m)
    assert first.model_dump(exclude={"created_at"}) == second.model_dump(exclude={"created_at"})
    text = first.model_dump_json()
    assert "logical_thinking" in text
    assert first.recommendation.text.startswith(("建议", "未达到", "证据不足"))
