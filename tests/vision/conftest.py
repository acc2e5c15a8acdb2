"""Fixtures for facial-analysis tests: one real landmarker per session, frame helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis.vision.errors import ModelFileError
from analysis.vision.landmarker import MediaPipeFaceDetector
from analysis.vision.model_files import verified_face_landmarker


@pytest.fixture(scope="session")
def face_detector(models_dir: Path) -> Iterator[MediaPipeFaceDetector]:
    """The real MediaPipe landmarker, loaded once for the whole session."""
    try:
        verified_face_landmarker(models_dir)
    except ModelFileError as exc:
        pytest.fail(f"{exc} (scripts/test.sh prepares it)")
    detector = MediaPipeFaceDetector(models_dir).start()
    yield detector
    detector.close()
