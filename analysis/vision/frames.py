"""Turn decoded video frames into the RGB arrays the face analyzer takes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from media.frames import frame_time

__all__ = ["frame_time", "video_frame_to_rgb"]

if TYPE_CHECKING:
    import av


def video_frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """An H x W x 3 uint8 RGB array from a PyAV/aiortc video frame (C-contiguous)."""
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
