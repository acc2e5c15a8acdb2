"""Helpers for facial-analysis tests: sample a video file, run an analyzer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.events import Event
from analysis.vision.analyzer import FaceAnalyzer
from analysis.vision.sampler import FrameSampler
from media.frames import frame_time, video_frame_to_rgb


def sampled_frames(path: Path, fps: float = 5.0) -> list[tuple[float, np.ndarray]]:
    """(t, RGB) pairs of a video file at ``fps``, chosen before decoding to RGB."""
    import av

    sampler = FrameSampler(fps)
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            t = frame_time(frame)
            if t is not None and sampler.keep(t):
                out.append((t, video_frame_to_rgb(frame)))
    return out


def run_analyzer(analyzer: FaceAnalyzer, frames: list[tuple[float, np.ndarray]]) -> list[Event]:
    """Push every frame; return all events the analyzer produced, in order."""
    events: list[Event] = []
    for t, rgb in frames:
        events.extend(analyzer.push_frame(rgb, t))
    return events
