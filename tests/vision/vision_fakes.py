"""A scripted face detector: returns prepared observations, no model."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from analysis.vision.landmarker import FaceObservation

FRONTAL = np.eye(4)


def face(
    *,
    smile: float = 0.0,
    blink: float = 0.0,
    jaw: float = 0.0,
    look_out_left: float = 0.0,
    matrix: np.ndarray = FRONTAL,
    box: tuple[int, int, int, int] = (20, 20, 80, 80),
) -> FaceObservation:
    """One fake face with the named blendshapes set."""
    return FaceObservation(
        blendshapes={
            "mouthSmileLeft": smile,
            "mouthSmileRight": smile,
            "eyeBlinkLeft": blink,
            "eyeBlinkRight": blink,
            "jawOpen": jaw,
            "browInnerUp": 0.2,
            "browOuterUpLeft": 0.1,
            "browOuterUpRight": 0.1,
            "eyeLookOutLeft": look_out_left,
            "eyeLookInRight": look_out_left,
        },
        matrix=matrix,
        box=box,
    )


class ScriptedDetector:
    """Answers each detect() with the next list of faces from a script."""

    def __init__(self, script: Iterable[list[FaceObservation]]) -> None:
        self._script = iter(script)
        self.started = False
        self.closed = False
        self.calls = 0

    def start(self) -> ScriptedDetector:
        self.started = True
        return self

    def detect(self, rgb: np.ndarray) -> list[FaceObservation]:
        self.calls += 1
        return next(self._script)

    def close(self) -> None:
        self.closed = True
