"""FaceAnalyzer behaviour with a scripted detector: throttling, modes, flags, summaries."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from analysis.events import AnalyzerFailed, FaceDeliverySummarized, FaceSampled
from analysis.vision.analyzer import FaceAnalyzer, create_face_analyzer
from analysis.vision.landmarker import FaceObservation
from config.settings import FacialMode
from tests.vision.vision_fakes import ScriptedDetector, face
from tests.vision.vision_helpers import run_analyzer

FULL_ONLY = ("yaw", "pitch", "roll", "smile", "brow_raise", "mouth_open", "blink_rate")
GREY = np.full((96, 96, 3), 128, np.uint8)


def frames(seconds: float, fps: float = 5.0) -> list[tuple[float, np.ndarray]]:
    return [(i / fps, GREY) for i in range(round(seconds * fps))]


def analyzer(mode: FacialMode, script: list[list[FaceObservation]]) -> FaceAnalyzer:
    made = create_face_analyzer(
        mode,
        interview_id="iv1",
        models_dir=Path("unused"),
        detector=ScriptedDetector(script),
    )
    assert made is not None
    return made


def test_off_mode_has_no_analyzer_so_no_frame_is_decoded_and_no_measure_exists() -> None:
    class CountingFrame:
        decoded = 0

        def to_ndarray(self, format: str) -> np.ndarray:
            CountingFrame.decoded += 1
            return GREY

    made = create_face_analyzer("off", interview_id="iv1", models_dir=Path("unused"))
    assert made is None
    events: list[object] = []
    # What the server does per video frame for a whole answer: nothing without an analyzer.
    for i in range(150):
        frame = CountingFrame()
        if made is not None:
            events.extend(made.push_frame(frame.to_ndarray(format="rgb24"), i / 30))
    assert CountingFrame.decoded == 0
    assert not any(isinstance(e, FaceSampled | FaceDeliverySummarized) for e in events)


def test_analyzer_refuses_off_mode() -> None:
    with pytest.raises(ValueError):
        # Deliberately ill-typed: the runtime guard against "off" is what is tested.
        FaceAnalyzer("iv1", "off", ScriptedDetector([]))  # type: ignore[arg-type]


def test_samples_are_throttled_to_about_one_per_second() -> None:
    a = analyzer("full", [[face()]] * 50)
    events = run_analyzer(a, frames(10))
    samples = [e for e in events if isinstance(e, FaceSampled)]
    assert 9 <= len(samples) <= 10
    gaps = np.diff([s.t for s in samples])
    assert np.all((gaps > 0.7) & (gaps < 1.3))


def test_integrity_only_emits_presence_count_and_facing_only() -> None:
    a = analyzer("integrity_only", [[face(smile=0.9, jaw=0.5)]] * 40)
    events = run_analyzer(a, frames(8))
    summary = a.end_answer("q1")
    samples = [e for e in events if isinstance(e, FaceSampled)]
    assert samples and all(s.present and s.faces == 1 and s.facing for s in samples)
    for s in samples:
        assert all(getattr(s, name) is None for name in FULL_ONLY)
        assert s.too_dark is None and s.blurred is None
    assert summary.mode == "integrity_only"
    assert summary.share_present == 1.0 and summary.share_facing == 1.0
    for name in (*FULL_ONLY, "share_too_dark", "share_blurred"):
        assert getattr(summary, name) is None
    dumped = summary.model_dump(exclude_none=True)
    assert not {"smile", "brow_raise", "mouth_open", "blink_rate", "yaw"} & set(dumped)


def test_full_mode_summarises_measures_and_blinks() -> None:
    # Eyes closed for one sample every 2 s over 20 s: 10 blinks, 30 per minute.
    script = [[face(smile=0.6, blink=0.9 if i % 10 == 5 else 0.05)] for i in range(100)]
    a = analyzer("full", script)
    events = run_analyzer(a, frames(20))
    summary = a.end_answer("q1")
    assert summary.smile is not None and summary.smile.mean == pytest.approx(0.6)
    assert summary.smile.std == pytest.approx(0.0)
    assert summary.mouth_open is not None and summary.brow_raise is not None
    assert summary.blink_rate == pytest.approx(30.0)
    assert summary.yaw is not None and abs(summary.yaw.mean) < 1e-6
    later = [e for e in events if isinstance(e, FaceSampled)][-1]
    assert later.smile == pytest.approx(0.6) and later.blink_rate == pytest.approx(30, abs=4)


def test_long_absence_raises_face_missing_and_short_one_does_not() -> None:
    present: list[FaceObservation] = [face()]
    absent: list[FaceObservation] = []
    script = [present] * 10 + [absent] * 20 + [present] * 10 + [absent] * 5 + [present] * 5
    a = analyzer("integrity_only", script)
    run_analyzer(a, frames(10))
    summary = a.end_answer("q1")
    assert summary.face_missing
    assert summary.longest_absence == pytest.approx(4.0)
    assert summary.share_present == pytest.approx(0.5)

    b = analyzer("integrity_only", [present] * 10 + [absent] * 5 + [present] * 10)
    run_analyzer(b, frames(5))
    assert not b.end_answer("q2").face_missing


def test_second_face_needs_more_than_one_sample() -> None:
    two = [face(box=(0, 0, 90, 90)), face(box=(100, 0, 140, 40))]
    once = analyzer("integrity_only", [[face()]] * 10 + [two] + [[face()]] * 10)
    run_analyzer(once, frames(4.2))
    assert not once.end_answer("q1").second_face

    twice = analyzer("integrity_only", [[face()]] * 10 + [two] * 3 + [[face()]] * 10)
    events = run_analyzer(twice, frames(4.6))
    summary = twice.end_answer("q1")
    assert summary.second_face and summary.max_faces == 2
    assert any(isinstance(e, FaceSampled) and e.faces == 2 for e in events)


def test_looking_away_is_not_facing() -> None:
    a = analyzer("integrity_only", [[face(look_out_left=0.9)]] * 10)
    run_analyzer(a, frames(2))
    summary = a.end_answer("q1")
    assert summary.share_present == 1.0 and summary.share_facing == 0.0


def test_answers_are_summarised_separately() -> None:
    a = analyzer("full", [[face(smile=0.8)]] * 10 + [[face(smile=0.0)]] * 10)
    run_analyzer(a, frames(2))
    first = a.end_answer("q1")
    run_analyzer(a, [(2 + t, rgb) for t, rgb in frames(2)])
    second = a.end_answer("q2")
    assert first.smile is not None and first.smile.mean == pytest.approx(0.8)
    assert second.smile is not None and second.smile.mean == pytest.approx(0.0)
    assert (first.samples, second.samples) == (10, 10)
    assert second.start == pytest.approx(2.0)


def test_empty_answer_has_no_shares_and_no_flags() -> None:
    a = analyzer("full", [])
    summary = a.end_answer("q1", t=12.0)
    assert summary.samples == 0 and summary.share_present is None
    assert not summary.face_missing and not summary.second_face and summary.t == 12.0


def test_detector_error_becomes_one_analyzer_failed_event() -> None:
    class Broken(ScriptedDetector):
        def detect(self, rgb: np.ndarray) -> list[FaceObservation]:
            raise RuntimeError("boom")

    a = FaceAnalyzer("iv1", "full", Broken([]))
    events = run_analyzer(a, frames(3))
    assert [type(e) for e in events] == [AnalyzerFailed]
    assert a.end_answer("q1").samples == 0


def test_overlapping_calls_are_refused() -> None:
    entered, release = threading.Event(), threading.Event()

    class Slow(ScriptedDetector):
        def detect(self, rgb: np.ndarray) -> list[FaceObservation]:
            entered.set()
            release.wait(5)
            return []

    a = FaceAnalyzer("iv1", "full", Slow([]))
    worker = threading.Thread(target=a.push_frame, args=(GREY, 0.0))
    worker.start()
    assert entered.wait(5)
    with pytest.raises(RuntimeError, match="thread-confined"):
        a.push_frame(GREY, 0.2)
    release.set()
    worker.join()


def test_close_releases_only_an_owned_detector() -> None:
    shared = ScriptedDetector([])
    a = create_face_analyzer("full", interview_id="iv", models_dir=Path("x"), detector=shared)
    assert a is not None
    a.start()
    a.close()
    assert shared.started and not shared.closed
    owned = ScriptedDetector([])
    FaceAnalyzer("iv", "full", owned).close()
    assert owned.closed
