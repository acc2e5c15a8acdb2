"""aiortc/PyAV AudioFrames (48 kHz stereo s16) → 16 kHz mono float32 for transcription."""

from __future__ import annotations

from typing import Any

import numpy as np

from media.frames import frame_time

__all__ = ["AudioResampler16k", "frame_time"]

TARGET_RATE = 16_000


class AudioResampler16k:
    """Stateful resampler: feed frames in order, get float32 samples in [-1, 1]."""

    def __init__(self) -> None:
        self._resampler: Any = None

    def _make(self) -> Any:
        import av

        return av.AudioResampler(format="flt", layout="mono", rate=TARGET_RATE)

    def convert(self, frame: Any) -> np.ndarray:
        """Resample one av.AudioFrame; returns what the resampler has ready (may be empty)."""
        if self._resampler is None:
            self._resampler = self._make()
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        """Samples still held inside the resampler at the end of the stream."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[Any]) -> np.ndarray:
        if not frames:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(
            [f.to_ndarray().reshape(-1).astype(np.float32, copy=False) for f in frames]
        )
