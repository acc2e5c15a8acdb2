"""Turn decoded video frames into the RGB arrays the face analyzer takes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import av


def video_frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """An H x W x 3 uint8 RGB array from a PyAV/aiortc video frame (C-contiguous)."""
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))


def frame_time(frame: av.VideoFrame) -> float | None:
    """The frame's presentation time in seconds, or None if it carries no timestamp."""
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)
