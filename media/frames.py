"""PyAV/aiortc frame adapters shared by the recorder and the analyzers.

The analyzers take plain numpy arrays; these turn decoded frames into them: video to RGB,
audio (48 kHz stereo s16) to 16 kHz mono float32 for transcription and voice measures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import av


def frame_time(frame: Any) -> float | None:
    """The frame's presentation time in seconds, or None if it carries no timestamp."""
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


def video_frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """An H x W x 3 uint8 RGB array from a PyAV/aiortc video frame (C-contiguous)."""
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))


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

    def convert_many(self, frames: list[Any]) -> np.ndarray:
        """Resample consecutive frames into one block of samples."""
        out = [self.convert(frame) for frame in frames]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

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

