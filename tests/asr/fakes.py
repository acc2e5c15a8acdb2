"""Fake speech engines for tests: the Transcriber signature once, each fake says what it hears."""

from __future__ import annotations

import numpy as np

from analysis.asr.engine import Hypothesis
from analysis.asr.policy import Word

SAMPLE_RATE = 16_000


class FakeTranscriber:
    """Base of the fake engines (analysis.asr.engine.Transcriber): ``transcribe`` hands every
    pass to ``hear``, which a fake overrides."""

    def transcribe(
        self,
        audio: np.ndarray,
        prompt: str = "",
        language: str | None = None,
        beam_size: int = 1,
        window_s: float | None = None,
    ) -> Hypothesis:
        """One pass (blocking, as the engines are: the scheduler calls it in a thread)."""
        return self.hear(audio, language=language, beam_size=beam_size, window_s=window_s)

    def hear(
        self, audio: np.ndarray, *, language: str | None, beam_size: int, window_s: float | None
    ) -> Hypothesis:
        """What the fake makes of one pass."""
        raise NotImplementedError


def seconds_of(audio: np.ndarray) -> float:
    """The length of 16 kHz audio in seconds."""
    return len(audio) / SAMPLE_RATE


def word_every_half_second(
    seconds: float, *, length: float, probability: float = 1.0, count: int | None = None
) -> list[Word]:
    """Words " w0", " w1", ... starting every half second of ``seconds``, each ``length`` long."""
    n = int(seconds / 0.5) if count is None else count
    return [Word(f" w{i}", i * 0.5, i * 0.5 + length, probability) for i in range(n)]
