"""MediaPipe Face Landmarker adapter: RGB frame in, plain face observations out.

The only module that imports mediapipe. ``FaceDetector`` is the seam the analyzer
depends on, so tests can feed observations without a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from analysis.vision.errors import VisionError
from analysis.vision.model_files import verified_face_landmarker


@dataclass(frozen=True)
class FaceObservation:
    """One detected face: blendshape scores, pose matrix and pixel bounding box."""

    blendshapes: dict[str, float]
    matrix: np.ndarray | None
    box: tuple[int, int, int, int]

    @property
    def area(self) -> int:
        """Bounding-box area in pixels."""
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)


class FaceDetector(Protocol):
    """Finds faces in one RGB frame; implementations are not thread-safe."""

    def start(self) -> object:
        """Load the model (slow; call in the worker thread, not on the event loop)."""
        ...

    def detect(self, rgb: np.ndarray) -> list[FaceObservation]:
        """Faces in the frame, largest first."""
        ...

    def close(self) -> None:
        """Release the model."""
        ...


class MediaPipeFaceDetector:
    """Face Landmarker (Tasks API, image mode) with blendshapes and transformation matrix.

    Image mode keeps no state between frames, so one instance can serve any
    sequence of frames (and tests) without timestamp bookkeeping; at 5 fps it
    costs the same as video mode on this model. Not thread-safe: use it from one
    thread at a time. Call ``close()`` (or use ``with``) when done.
    """

    def __init__(
        self,
        models_dir: Path,
        *,
        max_faces: int = 2,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
    ) -> None:
        if max_faces < 2:
            raise ValueError("max_faces must be at least 2 to notice a second face")
        self._models_dir = Path(models_dir)
        self._max_faces = max_faces
        self._min_detection = min_detection_confidence
        self._min_presence = min_presence_confidence
        self._landmarker: Any = None

    def start(self) -> MediaPipeFaceDetector:
        """Load the verified model (raises ModelFileError with what to do if missing)."""
        if self._landmarker is not None:
            return self
        path = verified_face_landmarker(self._models_dir)
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=self._max_faces,
            min_face_detection_confidence=self._min_detection,
            min_face_presence_confidence=self._min_presence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise VisionError(f"Could not load the face landmarker from {path}: {exc}") from exc
        return self

    def detect(self, rgb: np.ndarray) -> list[FaceObservation]:
        """Faces in an H x W x 3 uint8 RGB frame, largest first."""
        if self._landmarker is None:
            self.start()
        import mediapipe as mp

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected H x W x 3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._landmarker.detect(image)
        height, width = rgb.shape[:2]
        faces = []
        for i, landmarks in enumerate(result.face_landmarks):
            blend = result.face_blendshapes[i] if i < len(result.face_blendshapes) else []
            matrices = result.facial_transformation_matrixes
            matrix = np.asarray(matrices[i]) if i < len(matrices) else None
            faces.append(
                FaceObservation(
                    blendshapes={c.category_name: float(c.score) for c in blend},
                    matrix=matrix,
                    box=_box(landmarks, width, height),
                )
            )
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def close(self) -> None:
        """Release the native landmarker; safe to call twice."""
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> MediaPipeFaceDetector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _box(landmarks: Sequence[Any], width: int, height: int) -> tuple[int, int, int, int]:
    xs = [lm.x for lm in landmarks]
    ys = [lm.y for lm in landmarks]
    x0 = int(np.clip(min(xs), 0.0, 1.0) * width)
    x1 = int(np.clip(max(xs), 0.0, 1.0) * width)
    y0 = int(np.clip(min(ys), 0.0, 1.0) * height)
    y1 = int(np.clip(max(ys), 0.0, 1.0) * height)
    return x0, y0, x1, y1
