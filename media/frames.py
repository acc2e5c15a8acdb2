"""Small helpers for PyAV/aiortc frames shared by the recorder and the analyzers."""

from __future__ import annotations

from typing import Any


def frame_time(frame: Any) -> float | None:
    """The frame's presentation time in seconds, or None if it carries no timestamp."""
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)
