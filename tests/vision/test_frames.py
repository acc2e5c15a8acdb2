"""av.VideoFrame to RGB numpy."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from media.frames import frame_time, video_frame_to_rgb


def test_yuv_frame_becomes_contiguous_rgb_with_its_time() -> None:
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = (200, 30, 30)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    frame.pts = 90_000
    frame.time_base = Fraction(1, 90_000)
    out = video_frame_to_rgb(frame)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert np.abs(out[24, 10].astype(int) - (200, 30, 30)).max() < 12
    assert frame_time(frame) == 1.0
