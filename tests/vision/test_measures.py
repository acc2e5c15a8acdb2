"""Per-frame measures from plain numbers: pose, facing, blendshape scores, quality, blinks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.vision import measures as m


def rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    out = np.eye(4)
    out[:3, :3] = rz @ ry @ rx * 1.7  # MediaPipe matrices may carry a scale
    out[:3, 3] = (3.0, -2.0, -60.0)
    return out


ANGLES = [(0, 0, 0), (30, 0, 0), (0, -15, 0), (10, 20, -8)]


@pytest.mark.parametrize(("yaw", "pitch", "roll"), ANGLES)
def test_head_pose_recovers_the_angles(yaw: float, pitch: float, roll: float) -> None:
    pose = m.head_pose(rotation(yaw, pitch, roll))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=1e-6)


def test_facing_needs_frontal_head_and_eyes() -> None:
    straight = m.HeadPose(5, -5, 0)
    assert m.is_facing(straight, {})
    assert not m.is_facing(m.HeadPose(40, 0, 0), {})
    assert not m.is_facing(m.HeadPose(0, 30, 0), {})
    sideways = {"eyeLookOutLeft": 0.8, "eyeLookInRight": 0.8}
    assert m.gaze_offsets(sideways)[0] == pytest.approx(0.8)
    assert not m.is_facing(straight, sideways)
    down = {"eyeLookDownLeft": 0.7, "eyeLookDownRight": 0.7}
    assert m.gaze_offsets(down)[1] == pytest.approx(-0.7)
    assert not m.is_facing(straight, down)


def test_blendshape_measures_average_both_sides() -> None:
    bs = {
        "mouthSmileLeft": 0.6,
        "mouthSmileRight": 0.8,
        "browInnerUp": 0.4,
        "browOuterUpLeft": 0.2,
        "browOuterUpRight": 0.0,
        "jawOpen": 0.3,
        "eyeBlinkLeft": 1.0,
        "eyeBlinkRight": 0.8,
    }
    assert m.smile(bs) == pytest.approx(0.7)
    assert m.brow_raise(bs) == pytest.approx(0.25)
    assert m.mouth_open(bs) == pytest.approx(0.3)
    assert m.eye_closure(bs) == pytest.approx(0.9)
    assert m.smile({}) == 0.0


def test_blink_counter_uses_hysteresis() -> None:
    counter = m.BlinkCounter(close=0.5, open_=0.3)
    # Hovering between the thresholds after a closure does not count again.
    closures = [0.1, 0.6, 0.4, 0.55, 0.45, 0.2, 0.7, 0.1, 0.35, 0.1]
    starts = [counter.update(c) for c in closures]
    assert counter.count == 2
    assert starts.index(True) == 1
    with pytest.raises(ValueError):
        m.BlinkCounter(close=0.3, open_=0.5)


def test_quality_measures_tell_dark_and_blurred_frames() -> None:
    rng = np.random.default_rng(0)
    black = np.zeros((240, 320, 3), np.uint8)
    texture = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert m.mean_luma(black) == 0.0
    assert m.mean_luma(np.full((10, 10, 3), 200, np.uint8)) == pytest.approx(200, abs=0.5)
    rule = m.QualityRule()
    assert m.sharpness(black) < rule.blur_laplacian_var
    assert m.sharpness(texture) > rule.blur_laplacian_var
    assert m.sharpness(texture, (10, 10, 100, 90)) > rule.blur_laplacian_var
