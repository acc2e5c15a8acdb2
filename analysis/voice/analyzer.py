"""Per-answer voice delivery measures from audio and transcript words.

``summarize_voice`` is pure (arrays and words in, one event out). ``VoiceAnalyzer``
accumulates an answer as it streams: it keeps only 20 ms frame energies (50 numbers
a second), never the audio itself. Like FaceAnalyzer it is thread-confined: call it
from one thread at a time. Pure numpy; cheap enough for the event loop at
20 ms granularity, but the server may run it with the other analyzers in a worker.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from analysis.events import VoiceDeliverySummarized
from analysis.voice import signal
from analysis.voice.fillers import count_fillers, han_characters, is_chinese, latin_words


class TimedWord(Protocol):
    """A recognised word with start and end on the interview clock (e.g. WordTiming)."""

    @property
    def word(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


@dataclass(frozen=True)
class VoiceConfig:
    """Thresholds for pauses (defaults documented in docs/measures.md)."""

    sample_rate: int = 16_000
    min_pause: float = 0.3
    long_pause: float = 2.0
    min_voiced: float = 0.06
    floor_dbfs: float = -65.0


@dataclass(frozen=True)
class Pauses:
    """Pauses inside the speaking span: total, count of long ones and their total."""

    span_start: float
    span_end: float
    total: float
    long_count: int
    long_total: float


def speech_units(text: str, language: str) -> tuple[int, Literal["word", "char"]]:
    """(count, unit): words for English; Chinese characters (+ Latin words) for Mandarin."""
    if is_chinese(language):
        return han_characters(text) + latin_words(text), "char"
    return latin_words(text), "word"


def audio_pauses(
    power: np.ndarray, start: float, config: VoiceConfig, frame: float = signal.FRAME_SECONDS
) -> Pauses | None:
    """Pauses from frame energies whose first frame starts at ``start``; None if no speech."""
    mask = signal.voiced_mask(power, floor_dbfs=config.floor_dbfs)
    mask = signal.smooth_mask(
        mask,
        min_gap=max(1, round(config.min_pause / frame)),
        min_voiced=max(1, round(config.min_voiced / frame)),
    )
    runs = signal.voiced_runs(mask)
    if not runs:
        return None
    gaps = [(b[0] - a[1]) * frame for a, b in itertools.pairwise(runs)]
    return _pauses(start + runs[0][0] * frame, start + runs[-1][1] * frame, gaps, config)


def word_pauses(words: Sequence[TimedWord], config: VoiceConfig) -> Pauses | None:
    """Pauses from gaps between word timings; None without timed words."""
    timed = sorted((w for w in words if w.end > w.start), key=lambda w: w.start)
    if not timed:
        return None
    gaps = []
    reach = timed[0].end
    for w in timed[1:]:
        gaps.append(w.start - reach)
        reach = max(reach, w.end)
    return _pauses(timed[0].start, reach, [g for g in gaps if g >= config.min_pause], config)


def _pauses(start: float, end: float, gaps: list[float], config: VoiceConfig) -> Pauses:
    long = [g for g in gaps if g >= config.long_pause]
    return Pauses(start, end, float(sum(gaps)), len(long), float(sum(long)))


def summarize_voice(
    *,
    interview_id: str,
    question_id: str,
    language: str,
    words: Sequence[TimedWord] = (),
    text: str | None = None,
    audio: np.ndarray | None = None,
    audio_start: float = 0.0,
    power: np.ndarray | None = None,
    config: VoiceConfig | None = None,
) -> VoiceDeliverySummarized:
    """The voice delivery summary of one answer.

    Give the transcript as ``words`` (timed) and/or ``text``, and the audio as 16 kHz
    mono float ``audio`` starting at interview time ``audio_start`` (or its 20 ms
    frame ``power`` from VoiceAnalyzer). Pauses and loudness come from the audio
    when given, else from gaps between word timings.
    """
    cfg = config or VoiceConfig()
    if text is None:
        text = (
            "".join(w.word for w in words)
            if is_chinese(language)
            else " ".join(w.word for w in words)
        )
    if power is None and audio is not None:
        power = signal.frame_power(audio, cfg.sample_rate)
    pauses = None
    loudness = None
    if power is not None and power.size:
        pauses = audio_pauses(power, audio_start, cfg)
        mask = signal.voiced_mask(power, floor_dbfs=cfg.floor_dbfs)
        loudness = signal.loudness_dbfs(power, mask)
    if pauses is None:
        pauses = word_pauses(words, cfg)
    units, unit = speech_units(text, language)
    fillers = count_fillers(text, language)
    span = (pauses.span_end - pauses.span_start) if pauses else 0.0
    start = pauses.span_start if pauses else audio_start
    return VoiceDeliverySummarized(
        interview_id=interview_id,
        t=pauses.span_end if pauses else audio_start,
        question_id=question_id,
        language=language,
        start=start,
        end=start + span,
        unit=unit,
        units=units,
        speaking_time=span,
        speaking_rate=units * 60.0 / span if span > 0 and units else None,
        pause_ratio=pauses.total / span if pauses and span > 0 else None,
        long_pauses=pauses.long_count if pauses else 0,
        long_pause_total=pauses.long_total if pauses else 0.0,
        fillers=sum(fillers.values()),
        filler_counts=dict(fillers),
        loudness_dbfs=loudness,
    )


class VoiceAnalyzer:
    """Streams one candidate's audio and words; ``end_answer`` gives the summary."""

    def __init__(self, interview_id: str, config: VoiceConfig | None = None) -> None:
        self.interview_id = interview_id
        self.config = config or VoiceConfig()
        self._frame = round(self.config.sample_rate * signal.FRAME_SECONDS)
        self._reset()

    def _reset(self) -> None:
        self._powers: list[np.ndarray] = []
        self._carry = np.zeros(0, dtype=np.float32)
        self._start: float | None = None
        self._words: list[TimedWord] = []

    def push_audio(self, samples: np.ndarray, t: float) -> None:
        """Add 16 kHz mono float samples whose first sample is at interview time ``t``."""
        if self._start is None:
            self._start = t
        joined = np.concatenate([self._carry, np.asarray(samples, dtype=np.float32).reshape(-1)])
        whole = len(joined) // self._frame * self._frame
        if whole:
            self._powers.append(signal.frame_power(joined[:whole], self.config.sample_rate))
        self._carry = joined[whole:]

    def push_words(self, words: Sequence[TimedWord]) -> None:
        """Add recognised words of this answer (e.g. TranscriptFinal.words)."""
        self._words.extend(words)

    def end_answer(self, question_id: str, language: str) -> VoiceDeliverySummarized:
        """Summarise everything pushed since the last answer, then start afresh."""
        power = np.concatenate(self._powers) if self._powers else None
        summary = summarize_voice(
            interview_id=self.interview_id,
            question_id=question_id,
            language=language,
            words=self._words,
            power=power,
            audio_start=self._start or 0.0,
            config=self.config,
        )
        self._reset()
        return summary
