"""FrameSampler keeps an even rate judged by frame timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.vision.sampler import FrameSampler


@pytest.mark.parametrize("source_fps", [25.0, 30.0, 60.0])
def test_keeps_five_per_second_from_common_camera_rates(source_fps: float) -> None:
    sampler = FrameSampler(5.0)
    kept = [t for t in np.arange(0, 10, 1 / source_fps) if sampler.keep(float(t))]
    assert len(kept) == 50
    assert np.allclose(np.diff(kept), 0.2, atol=1 / source_fps)


def test_jittery_timestamps_keep_the_rate() -> None:
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.02, 0.045, 900))
    sampler = FrameSampler(5.0)
    kept = sum(sampler.keep(float(t)) for t in times)
    assert abs(kept - times[-1] * 5) <= 2


def test_a_gap_or_a_jump_back_restarts_the_schedule() -> None:
    sampler = FrameSampler(2.0)
    assert sampler.keep(0.0)
    assert not sampler.keep(0.1)
    assert sampler.keep(5.0)  # after a stall: keep at once, no burst of catch-up frames
    assert not sampler.keep(5.1)
    assert sampler.keep(0.0)  # new segment starting at 0
    with pytest.raises(ValueError):
        FrameSampler(0)
