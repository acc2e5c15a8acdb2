"""Facial delivery and integrity signals (MediaPipe Face Landmarker).

Public API (heavy libraries load lazily, on ``start()`` or the first frame):

- ``create_face_analyzer(mode, interview_id=, models_dir=)`` -> ``FaceAnalyzer | None``
  (None for mode "off": then sample and decode no frame for analysis).
- ``FaceAnalyzer.start()``, ``push_frame(rgb, t) -> list[Event]``, ``start_answer(t)``,
  ``end_answer(question_id, t) -> FaceDeliverySummarized``, ``close()``; thread-confined.
- ``FrameSampler(fps).keep(t)``: decide before decoding which frames to analyse.
- PyAV frames become RGB arrays in ``media.frames.video_frame_to_rgb`` (media owns codecs).
- ``prepare_face_landmarker(models_dir, progress)``: one-off model preparation.
"""

from analysis.vision.analyzer import FaceAnalysisConfig, FaceAnalyzer, create_face_analyzer
from analysis.vision.errors import ModelFileError, VisionError
from analysis.vision.model_files import prepare_face_landmarker
from analysis.vision.sampler import FrameSampler

__all__ = [
    "FaceAnalysisConfig",
    "FaceAnalyzer",
    "FrameSampler",
    "ModelFileError",
    "VisionError",
    "create_face_analyzer",
    "prepare_face_landmarker",
]
