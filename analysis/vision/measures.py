"""Pure per-frame measures: head pose, facing, blendshape scores, image quality, blinks.

No model and no I/O here, so every rule is testable with plain numbers. These are
delivery and integrity measures; nothing here infers an emotion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

Blendshapes = Mapping[str, float]


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees relative to facing the camera straight on."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class FacingRule:
    """Thresholds for "facing the camera": head pose and eye-look limits."""

    max_yaw: float = 25.0
    max_pitch: float = 20.0
    max_gaze: float = 0.55


@dataclass(frozen=True)
class QualityRule:
    """Thresholds for image quality flags."""

    dark_luma: float = 40.0
    blur_laplacian_var: float = 30.0


def head_pose(matrix: np.ndarray) -> HeadPose:
    """Yaw, pitch, roll (degrees) from MediaPipe's 4x4 facial transformation matrix.

    The rotation is read as R = Rz(roll) @ Ry(yaw) @ Rx(pitch) in the camera frame
    (x right, y up, z towards the viewer), after removing any scale.
    """
    rot = np.asarray(matrix, dtype=np.float64)[:3, :3]
    norms = np.linalg.norm(rot, axis=0)
    rot = rot / np.where(norms > 0, norms, 1.0)
    pitch = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    yaw = math.degrees(math.atan2(-rot[2, 0], math.hypot(rot[2, 1], rot[2, 2])))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def gaze_offsets(bs: Blendshapes) -> tuple[float, float]:
    """Horizontal and vertical eye-look offsets (-1..1) from the eyeLook* blendshapes.

    Horizontal is positive towards the subject's left (left eye looks out while the
    right eye looks in); vertical is positive upwards.
    """
    horizontal = (
        bs.get("eyeLookOutLeft", 0.0)
        + bs.get("eyeLookInRight", 0.0)
        - bs.get("eyeLookInLeft", 0.0)
        - bs.get("eyeLookOutRight", 0.0)
    ) / 2.0
    vertical = (
        bs.get("eyeLookUpLeft", 0.0)
        + bs.get("eyeLookUpRight", 0.0)
        - bs.get("eyeLookDownLeft", 0.0)
        - bs.get("eyeLookDownRight", 0.0)
    ) / 2.0
    return horizontal, vertical


def is_facing(pose: HeadPose, bs: Blendshapes, rule: FacingRule = FacingRule()) -> bool:
    """Whether head and eyes point at the camera within the rule's limits."""
    if abs(pose.yaw) > rule.max_yaw or abs(pose.pitch) > rule.max_pitch:
        return False
    horizontal, vertical = gaze_offsets(bs)
    return abs(horizontal) <= rule.max_gaze and abs(vertical) <= rule.max_gaze


def smile(bs: Blendshapes) -> float:
    """Smile (0..1): mean of mouthSmileLeft and mouthSmileRight."""
    return (bs.get("mouthSmileLeft", 0.0) + bs.get("mouthSmileRight", 0.0)) / 2.0


def brow_raise(bs: Blendshapes) -> float:
    """Brow raise (0..1): mean of browInnerUp and the mean of both browOuterUp."""
    outer = (bs.get("browOuterUpLeft", 0.0) + bs.get("browOuterUpRight", 0.0)) / 2.0
    return (bs.get("browInnerUp", 0.0) + outer) / 2.0


def mouth_open(bs: Blendshapes) -> float:
    """Mouth open (0..1): the jawOpen blendshape."""
    return bs.get("jawOpen", 0.0)


def eye_closure(bs: Blendshapes) -> float:
    """Eye closure (0..1): mean of eyeBlinkLeft and eyeBlinkRight."""
    return (bs.get("eyeBlinkLeft", 0.0) + bs.get("eyeBlinkRight", 0.0)) / 2.0


def mean_luma(rgb: np.ndarray) -> float:
    """Mean luminance (BT.601, 0..255) of an RGB uint8 image, on a subsample for speed."""
    small = rgb[::4, ::4].astype(np.float32)
    luma = 0.299 * small[..., 0] + 0.587 * small[..., 1] + 0.114 * small[..., 2]
    return float(luma.mean()) if luma.size else 0.0


def sharpness(rgb: np.ndarray, box: tuple[int, int, int, int] | None = None) -> float:
    """Variance of the Laplacian of the grey image (of ``box`` = x0, y0, x1, y1 if given).

    The region is resized to 128 px wide first so the figure does not depend on
    the camera resolution or on how large the face is in the frame.
    """
    import cv2

    region = rgb
    if box is not None:
        x0, y0, x1, y1 = box
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            region = rgb[y0:y1, x0:x1]
    h, w = region.shape[:2]
    if h == 0 or w == 0:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
    width = 128
    height = max(8, round(h * width / w))
    grey = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class BlinkCounter:
    """Counts blinks from eye closure with hysteresis (closed above ``close``, open below ``open``).

    At 5 samples per second short blinks (100-150 ms) fall between samples, so the
    count is a lower bound; compare rates at the same sampling rate only.
    """

    def __init__(self, close: float = 0.5, open_: float = 0.3) -> None:
        if open_ >= close:
            raise ValueError("open threshold must be below the close threshold")
        self._close = close
        self._open = open_
        self._closed = False
        self.count = 0

    def update(self, closure: float) -> bool:
        """Feed one sample; returns True when it starts a new blink."""
        if not self._closed and closure >= self._close:
            self._closed = True
            self.count += 1
            return True
        if self._closed and closure <= self._open:
            self._closed = False
        return False

    def reset(self) -> None:
        """Forget counted blinks (the eye state is kept)."""
        self.count = 0
