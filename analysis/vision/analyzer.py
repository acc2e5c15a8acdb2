"""FaceAnalyzer: sampled RGB frames in, throttled FaceSampled and per-answer summaries out.

Threading: a FaceAnalyzer is thread-confined. Every call (``start``, ``push_frame``,
``start_answer``, ``end_answer``, ``close``) must come from one thread at a time;
the server runs them in a worker (a single-thread executor per candidate, or
serialised ``asyncio.to_thread`` calls), never on the event loop. Concurrent
calls raise RuntimeError instead of corrupting state.

Modes: ``full`` computes every measure; ``integrity_only`` computes only presence,
face count and facing the camera (head pose and eye-look are used internally for
facing but never leave the analyzer). ``off`` has no analyzer at all: see
``create_face_analyzer``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from analysis.events import (
    AnalyzerFailed,
    Event,
    FaceDeliverySummarized,
    FaceSampled,
    MeasureStats,
)
from analysis.vision import measures as m
from analysis.vision.landmarker import FaceDetector, FaceObservation, MediaPipeFaceDetector
from config.settings import FacialMode

log = logging.getLogger(__name__)

ActiveMode = Literal["integrity_only", "full"]


@dataclass(frozen=True)
class FaceAnalysisConfig:
    """Tunable rates and thresholds (defaults documented in docs/measures.md)."""

    sample_fps: float = 5.0
    emit_interval: float = 1.0
    max_faces: int = 2
    facing: m.FacingRule = field(default_factory=m.FacingRule)
    quality: m.QualityRule = field(default_factory=m.QualityRule)
    blink_close: float = 0.5
    blink_open: float = 0.3
    blink_window: float = 60.0
    face_missing_after: float = 3.0
    second_face_min_samples: int = 2
    failure_report_interval: float = 60.0


@dataclass(frozen=True)
class FrameMeasures:
    """What one analysed frame yielded (full-mode fields are None in integrity_only)."""

    t: float
    present: bool
    faces: int
    facing: bool
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    smile: float | None = None
    brow_raise: float | None = None
    mouth_open: float | None = None
    too_dark: bool | None = None
    blurred: bool | None = None


class FaceAnalyzer:
    """Per-candidate facial delivery and integrity analysis (thread-confined, see module doc)."""

    def __init__(
        self,
        interview_id: str,
        mode: ActiveMode,
        detector: FaceDetector,
        config: FaceAnalysisConfig | None = None,
        *,
        owns_detector: bool = True,
    ) -> None:
        if mode not in ("integrity_only", "full"):
            raise ValueError(f"FaceAnalyzer needs mode integrity_only or full, not {mode!r}")
        self.interview_id = interview_id
        self.mode: ActiveMode = mode
        self.config = config or FaceAnalysisConfig()
        self._detector = detector
        self._owns_detector = owns_detector
        self._busy = threading.Lock()
        self._answer: list[FrameMeasures] = []
        self._window: list[FrameMeasures] = []
        self._blinks = m.BlinkCounter(self.config.blink_close, self.config.blink_open)
        self._answer_blinks = 0
        self._recent_blinks: deque[float] = deque()
        self._first_t: float | None = None
        self._last_emit_t: float | None = None
        self._last_failure_t: float | None = None

    @property
    def full(self) -> bool:
        """Whether delivery measures (beyond integrity) are computed."""
        return self.mode == "full"

    def start(self) -> None:
        """Load the model now rather than on the first frame (slow: call in the worker)."""
        with self._confined():
            self._detector.start()

    def push_frame(self, rgb: np.ndarray, t: float) -> list[Event]:
        """Analyse one sampled RGB frame taken at interview time ``t``; returns new events."""
        with self._confined():
            try:
                faces = self._detector.detect(rgb)
            except Exception as exc:  # one bad frame must not end the analysis
                return self._failed(exc, t)
            frame = self._measure(rgb, faces, t)
            self._answer.append(frame)
            self._window.append(frame)
            if self._first_t is None:
                self._first_t = t
            if self._last_emit_t is None or t < self._last_emit_t:
                self._last_emit_t = t
            slack = 0.5 / self.config.sample_fps
            if t - self._last_emit_t >= self.config.emit_interval - slack:
                self._last_emit_t = t
                return [self._emit_sample()]
            return []

    def start_answer(self, t: float | None = None) -> None:
        """Start a new answer: forget frames accumulated since the last summary."""
        with self._confined():
            self._answer.clear()
            self._answer_blinks = 0

    def end_answer(self, question_id: str, t: float | None = None) -> FaceDeliverySummarized:
        """Summarise the frames since the previous answer, and start a new one."""
        with self._confined():
            frames = self._answer
            blinks = self._answer_blinks
            self._answer = []
            self._answer_blinks = 0
            return summarize_answer(
                frames,
                interview_id=self.interview_id,
                question_id=question_id,
                mode=self.mode,
                config=self.config,
                blinks=blinks,
                end=t,
            )

    def close(self) -> None:
        """Release the model if this analyzer owns it."""
        with self._confined():
            if self._owns_detector:
                self._detector.close()

    def _measure(
        self, rgb: np.ndarray, faces: Sequence[FaceObservation], t: float
    ) -> FrameMeasures:
        if not faces:
            if not self.full:
                return FrameMeasures(t=t, present=False, faces=0, facing=False)
            return FrameMeasures(
                t=t,
                present=False,
                faces=0,
                facing=False,
                too_dark=m.mean_luma(rgb) < self.config.quality.dark_luma,
                blurred=m.sharpness(rgb) < self.config.quality.blur_laplacian_var,
            )
        main = faces[0]  # largest face: taken to be the candidate
        bs = main.blendshapes
        pose = m.head_pose(main.matrix) if main.matrix is not None else m.HeadPose(0.0, 0.0, 0.0)
        facing = m.is_facing(pose, bs, self.config.facing)
        if not self.full:
            return FrameMeasures(t=t, present=True, faces=len(faces), facing=facing)
        if self._blinks.update(m.eye_closure(bs)):
            self._answer_blinks += 1
            self._recent_blinks.append(t)
        return FrameMeasures(
            t=t,
            present=True,
            faces=len(faces),
            facing=facing,
            yaw=pose.yaw,
            pitch=pose.pitch,
            roll=pose.roll,
            smile=m.smile(bs),
            brow_raise=m.brow_raise(bs),
            mouth_open=m.mouth_open(bs),
            too_dark=m.mean_luma(rgb) < self.config.quality.dark_luma,
            blurred=m.sharpness(rgb, main.box) < self.config.quality.blur_laplacian_var,
        )

    def _emit_sample(self) -> FaceSampled:
        window = self._window
        self._window = []
        last = window[-1]
        present = [f for f in window if f.present]
        is_present = len(present) * 2 >= len(window)
        faces = max(f.faces for f in window)
        facing = sum(f.facing for f in present) * 2 > len(present) if present else False
        sample = FaceSampled(
            interview_id=self.interview_id,
            t=last.t,
            mode=self.mode,
            present=is_present,
            faces=faces,
            facing=facing,
        )
        if not self.full:
            return sample
        return sample.model_copy(
            update={
                "yaw": _mean(present, "yaw"),
                "pitch": _mean(present, "pitch"),
                "roll": _mean(present, "roll"),
                "smile": _mean(present, "smile"),
                "brow_raise": _mean(present, "brow_raise"),
                "mouth_open": _mean(present, "mouth_open"),
                "blink_rate": self._recent_blink_rate(last.t),
                "too_dark": sum(bool(f.too_dark) for f in window) * 2 > len(window),
                "blurred": sum(bool(f.blurred) for f in window) * 2 > len(window),
            }
        )

    def _recent_blink_rate(self, now: float) -> float | None:
        horizon = self.config.blink_window
        while self._recent_blinks and self._recent_blinks[0] < now - horizon:
            self._recent_blinks.popleft()
        span = min(horizon, now - (self._first_t if self._first_t is not None else now))
        if span < 5.0:  # too little time for a per-minute figure
            return None
        return len(self._recent_blinks) * 60.0 / span

    def _failed(self, exc: Exception, t: float) -> list[Event]:
        log.warning("face analysis failed on a frame", exc_info=exc)
        last = self._last_failure_t
        if last is not None and t - last < self.config.failure_report_interval:
            return []
        self._last_failure_t = t
        return [
            AnalyzerFailed(
                interview_id=self.interview_id, t=t, analyzer="vision", error=type(exc).__name__
            )
        ]

    @contextmanager
    def _confined(self) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("FaceAnalyzer is thread-confined: calls must not overlap")
        try:
            yield
        finally:
            self._busy.release()


def summarize_answer(
    frames: Sequence[FrameMeasures],
    *,
    interview_id: str,
    question_id: str,
    mode: ActiveMode,
    config: FaceAnalysisConfig,
    blinks: int = 0,
    end: float | None = None,
) -> FaceDeliverySummarized:
    """The per-answer summary of analysed frames (pure: no model, no state)."""
    interval = 1.0 / config.sample_fps
    if not frames:
        t = end if end is not None else 0.0
        return FaceDeliverySummarized(
            interview_id=interview_id,
            t=t,
            question_id=question_id,
            mode=mode,
            start=t,
            end=t,
            samples=0,
        )
    start = frames[0].t
    stop = max(end if end is not None else frames[-1].t + interval, frames[-1].t)
    present = [f for f in frames if f.present]
    n = len(frames)
    longest = _longest_absence(frames, stop)
    second = sum(f.faces >= 2 for f in frames) >= config.second_face_min_samples
    summary = FaceDeliverySummarized(
        interview_id=interview_id,
        t=stop,
        question_id=question_id,
        mode=mode,
        start=start,
        end=stop,
        samples=n,
        share_present=len(present) / n,
        share_facing=sum(f.facing for f in frames) / n,
        max_faces=max(f.faces for f in frames),
        longest_absence=longest,
        face_missing=longest >= config.face_missing_after,
        second_face=second,
    )
    if mode != "full":
        return summary
    present_time = len(present) * interval
    return summary.model_copy(
        update={
            "yaw": _stats(present, "yaw"),
            "pitch": _stats(present, "pitch"),
            "roll": _stats(present, "roll"),
            "smile": _stats(present, "smile"),
            "brow_raise": _stats(present, "brow_raise"),
            "mouth_open": _stats(present, "mouth_open"),
            "blink_rate": blinks * 60.0 / present_time if present_time >= 5.0 else None,
            "share_too_dark": sum(bool(f.too_dark) for f in frames) / n,
            "share_blurred": sum(bool(f.blurred) for f in frames) / n,
        }
    )


def create_face_analyzer(
    mode: FacialMode,
    *,
    interview_id: str,
    models_dir: Path,
    config: FaceAnalysisConfig | None = None,
    detector: FaceDetector | None = None,
) -> FaceAnalyzer | None:
    """A FaceAnalyzer for the job's effective mode, or None when facial analysis is off.

    With None the caller must not sample or decode video frames for analysis at all.
    No model is loaded here; call ``start()`` in the worker thread.
    """
    if mode == "off":
        return None
    cfg = config or FaceAnalysisConfig()
    if detector is None:
        return FaceAnalyzer(
            interview_id, mode, MediaPipeFaceDetector(models_dir, max_faces=cfg.max_faces), cfg
        )
    return FaceAnalyzer(interview_id, mode, detector, cfg, owns_detector=False)


def _longest_absence(frames: Sequence[FrameMeasures], stop: float) -> float:
    longest = 0.0
    gap_start: float | None = None
    for f in frames:
        if not f.present and gap_start is None:
            gap_start = f.t
        elif f.present and gap_start is not None:
            longest = max(longest, f.t - gap_start)
            gap_start = None
    if gap_start is not None:
        longest = max(longest, stop - gap_start)
    return longest


def _values(frames: Sequence[FrameMeasures], name: str) -> list[float]:
    values = (getattr(f, name) for f in frames)
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _mean(frames: Sequence[FrameMeasures], name: str) -> float | None:
    values = _values(frames, name)
    return float(np.mean(values)) if values else None


def _stats(frames: Sequence[FrameMeasures], name: str) -> MeasureStats | None:
    values = _values(frames, name)
    if not values:
        return None
    return MeasureStats(mean=float(np.mean(values)), std=float(np.std(values)))
