"""Scoring input: one answer as timed sentences, built from transcription events.

Every sentence knows its character offset in the answer's transcript, so an evidence
quote is always an exact substring of that transcript, and its start/end on the
interview clock, so the review page can jump to it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from analysis.competency.model import Language
from analysis.events import (
    FaceDeliverySummarized,
    QuestionAnswered,
    TranscriptFinal,
    TranscriptRecord,
    VoiceDeliverySummarized,
    WordTiming,
)
from analysis.scoring.text import sentence_spans

# How far outside [started, ended] an utterance's midpoint may lie and still belong to
# the answer: the last words are committed shortly after the answer ends.
ANSWER_MARGIN = 1.5


TranscriptSource = Literal["record", "live"]


class Sentence(BaseModel):
    """One sentence of an answer: ``transcript[offset:offset+len(text)] == text``."""

    model_config = ConfigDict(frozen=True)

    text: str
    offset: int
    start: float
    end: float


class AnswerInput(BaseModel):
    """Everything the scorer reads about one answer."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    question_text: str = ""
    competency_ids: list[str] = Field(default_factory=list)
    language: Language
    transcript: str = ""
    sentences: list[Sentence] = Field(default_factory=list)
    asr_confidence: float | None = Field(
        default=None, description="Mean word probability (0-1); None when unknown."
    )
    started: float = 0.0
    ended: float = 0.0
    voice: VoiceDeliverySummarized | None = None
    face: FaceDeliverySummarized | None = None
    transcript_source: TranscriptSource = Field(
        default="live",
        description="record: the offline transcript of record; live: the live finals (the "
        "record pass was not run, failed or timed out).",
    )


def _joiner(language: Language) -> str:
    return "" if language == "zh" else " "


def _is_punct(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def _char_times(text: str, words: Sequence[WordTiming]) -> list[tuple[float, float]] | None:
    """Start/end of the word each character of ``text`` belongs to, or None if misaligned."""
    stream: list[tuple[str, int]] = [
        (ch.casefold(), i) for i, w in enumerate(words) for ch in w.word if not ch.isspace()
    ]
    times: list[tuple[float, float]] = []
    pos = 0
    last: tuple[float, float] | None = None
    for ch in text:
        if ch.isspace():
            times.append(last or (words[0].start, words[0].start))
            continue
        while pos < len(stream) and stream[pos][0] != ch.casefold() and _is_punct(stream[pos][0]):
            pos += 1
        if pos < len(stream) and stream[pos][0] == ch.casefold():
            word = words[stream[pos][1]]
            last = (word.start, word.end)
            pos += 1
        elif not _is_punct(ch):
            return None
        times.append(last or (words[0].start, words[0].start))
    return times


def _interpolated(start: float, end: float, length: int) -> list[tuple[float, float]]:
    step = (end - start) / max(length, 1)
    return [(start + i * step, start + (i + 1) * step) for i in range(length)]


def _utterance_sentences(
    text: str, words: Sequence[WordTiming], start: float, end: float, offset: int
) -> list[Sentence]:
    times = _char_times(text, words) if words else None
    if times is None:
        if words:
            start, end = words[0].start, words[-1].end
        times = _interpolated(start, end, len(text))
    return [
        Sentence(
            text=text[a:b],
            offset=offset + a,
            start=round(times[a][0], 3),
            end=round(times[b - 1][1], 3),
        )
        for a, b in sentence_spans(text)
    ]


def asr_confidence(finals: Sequence[TranscriptFinal]) -> float | None:
    """Mean word probability; exp(avg_logprob) weighted by length when words are absent."""
    probabilities = [w.probability for f in finals for w in f.words]
    if probabilities:
        return sum(probabilities) / len(probabilities)
    weighted = [(max(len(f.text), 1), math.exp(f.avg_logprob)) for f in finals if f.text.strip()]
    if not weighted:
        return None
    return sum(n * p for n, p in weighted) / sum(n for n, _ in weighted)


def answer_from_finals(
    question_id: str,
    finals: Sequence[TranscriptFinal],
    language: Language,
    *,
    question_text: str = "",
    competency_ids: Sequence[str] = (),
    voice: VoiceDeliverySummarized | None = None,
    face: FaceDeliverySummarized | None = None,
) -> AnswerInput:
    """An answer from the committed utterances that belong to it, in time order."""
    ordered = sorted((f for f in finals if f.text.strip()), key=lambda f: (f.start, f.t))
    joiner = _joiner(language)
    parts: list[str] = []
    sentences: list[Sentence] = []
    offset = 0
    for final in ordered:
        text = final.text.strip()
        if parts:
            offset += len(joiner)
        sentences += _utterance_sentences(text, final.words, final.start, final.end, offset)
        parts.append(text)
        offset += len(text)
    return AnswerInput(
        question_id=question_id,
        question_text=question_text,
        competency_ids=list(competency_ids),
        language=language,
        transcript=joiner.join(parts),
        sentences=sentences,
        asr_confidence=asr_confidence(ordered),
        started=ordered[0].start if ordered else 0.0,
        ended=ordered[-1].end if ordered else 0.0,
        voice=voice,
        face=face,
    )


def answer_from_text(
    question_id: str,
    text: str,
    language: Language,
    *,
    question_text: str = "",
    competency_ids: Sequence[str] = (),
    start: float = 0.0,
    end: float = 0.0,
    asr_confidence: float | None = None,
) -> AnswerInput:
    """An answer from plain text; sentence times are interpolated over [start, end]."""
    text = text.strip()
    return AnswerInput(
        question_id=question_id,
        question_text=question_text,
        competency_ids=list(competency_ids),
        language=language,
        transcript=text,
        sentences=_utterance_sentences(text, (), start, end, 0),
        asr_confidence=asr_confidence,
        started=start,
        ended=end,
    )


def record_as_final(record: TranscriptRecord) -> TranscriptFinal:
    """A ready transcript of record as one utterance (the shape the answer builder reads)."""
    return TranscriptFinal(
        interview_id=record.interview_id, t=record.t, utterance_id=f"record-{record.question_id}",
        text=record.text, words=record.words, language=record.language,
        start=record.start, end=record.end,
    )


def answer_from_events(
    answered: QuestionAnswered,
    finals: Sequence[TranscriptFinal],
    language: Language,
    *,
    question_text: str = "",
    competency_ids: Sequence[str] | None = None,
    voice: VoiceDeliverySummarized | None = None,
    face: FaceDeliverySummarized | None = None,
    record: TranscriptRecord | None = None,
) -> AnswerInput:
    """An answer from its QuestionAnswered event and the interview's TranscriptFinal events.

    A ready transcript of record (``record``) is used instead of the live finals. Otherwise
    utterances whose midpoint lies within the answer's span (plus a small margin) belong
    to it; without any, the event's own transcript is used with interpolated times.
    """
    ids = (
        list(competency_ids)
        if competency_ids is not None
        else ([answered.competency_id] if answered.competency_id else [])
    )
    if record is not None and record.status == "ready" and record.text.strip():
        answer = answer_from_finals(
            answered.question_id, [record_as_final(record)], language,
            question_text=question_text, competency_ids=ids, voice=voice, face=face,
        )
        return answer.model_copy(update={
            "started": answered.started, "ended": answered.ended, "transcript_source": "record",
        })
    low, high = answered.started - ANSWER_MARGIN, answered.ended + ANSWER_MARGIN
    mine = [f for f in finals if low <= (f.start + f.end) / 2 <= high]
    if mine:
        answer = answer_from_finals(
            answered.question_id,
            mine,
            language,
            question_text=question_text,
            competency_ids=ids,
            voice=voice,
            face=face,
        )
        return answer.model_copy(update={"started": answered.started, "ended": answered.ended})
    answer = answer_from_text(
        answered.question_id,
        answered.transcript,
        language,
        question_text=question_text,
        competency_ids=ids,
        start=answered.started,
        end=answered.ended,
    )
    return answer.model_copy(update={"voice": voice, "face": face})
