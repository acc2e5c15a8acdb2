"""The engine encodes a window fitted to the buffer when asked, and one window per pass."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analysis.asr.engine import WhisperEngine, window_frames


def test_window_frames() -> None:
    assert window_frames(None) is None
    assert window_frames(30.0) is None
    assert window_frames(10.0) == 1000
    assert window_frames(12.345) == 1234
    assert window_frames(0.5) == 200  # never absurdly short


class EncoderSpy:
    """Wraps the CTranslate2 model and records the mel frames of each encoder call."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.frames: list[int] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._model, name)
        if name != "encode":
            return attr

        def encode(features: Any, *args: Any, **kwargs: Any) -> Any:
            self.frames.append(int(features.shape[-1]))
            return attr(features, *args, **kwargs)

        return encode


@pytest.mark.model
def test_one_encoder_pass_per_transcription_of_the_requested_width(
    whisper_engine: WhisperEngine, espeak_speech: np.ndarray
) -> None:
    inner = whisper_engine._model.model
    spy = EncoderSpy(inner)
    whisper_engine._model.model = spy
    try:
        # speech then 4 s of silence: faster-whisper alone would decode the silence again
        audio = np.concatenate([espeak_speech, np.zeros(64_000, np.float32)])
        full = whisper_engine.transcribe(audio, language="en")
        assert spy.frames == [3000]
        spy.frames.clear()
        short = whisper_engine.transcribe(audio, language="en", window_s=10.0)
        assert spy.frames == [1000]
    finally:
        whisper_engine._model.model = inner
    for hyp in (full, short):
        assert "country" in hyp.text.lower()
        assert hyp.words[-1].end <= len(espeak_speech) / 16_000 + 0.5  # nothing in the silence
