"""Transcript-of-record passes: long-form decoding, interview clock, vocabulary, no disk."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis.asr.engine import (
    LONG_WINDOW_S,
    Hypothesis,
    LongFormPlan,
    Rendezvous,
    WhisperEngine,
    speech_windows,
)
from analysis.asr.policy import Word
from analysis.asr.record import RecordTranscriber, zh_punctuation
from analysis.asr.scheduler import IDLE_NICE, AsrScheduler, PassInput, Priority
from analysis.asr.stream import StreamingTranscriber, StreamSettings
from analysis.events import Event, TranscriptRecord
from tests.asr.conftest import load_audio
from tests.asr.test_stream import feed, normalize

SR = 16_000


class Clock:
    """Interview clock the test moves."""

    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


class LongFake:
    """An engine with long-form passes that records what each pass was told."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def transcribe(
        self, audio: np.ndarray, prompt: str = "", language: str | None = None,
        beam_size: int = 1, window_s: float | None = None, hotwords: str = "",
    ) -> Hypothesis:
        self.calls.append({"kind": "live", "prompt": prompt, "hotwords": hotwords})
        d = len(audio) / SR
        return Hypothesis([Word(" hello", 0.1, min(d, 0.5), 0.9)], "en", duration=d)

    def start_long(
        self, audio: np.ndarray, prompt: str = "", language: str | None = None,
        beam_size: int = 5, hotwords: str = "",
    ) -> Any:
        self.calls.append({"kind": "record", "prompt": prompt, "hotwords": hotwords,
                           "beam": beam_size, "seconds": len(audio) / SR})
        if self.fail:
            raise RuntimeError("model exploded")
        fake = self

        class Steps:
            def __init__(self) -> None:
                self.words: list[Word] = []

            def step(self) -> bool:
                if self.words:
                    return False
                self.words = [Word(" Kubernetes", 1.0, 1.5, 0.9), Word(" rocks.", 1.5, 2.0, 0.9)]
                fake.calls.append({"kind": "step"})
                return True

            def close(self) -> None:
                pass

            def result(self) -> Hypothesis:
                return Hypothesis(list(self.words), "en", duration=len(audio) / SR)

        return Steps()


async def run_answer(engine: Any, audio: np.ndarray, vocabulary: list[str],
                     question: str = "Which orchestrator do you use?") -> list[Event]:
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    clock = Clock()
    async with AsrScheduler(engine) as scheduler:
        rec = RecordTranscriber("iv1", scheduler, emit, language="en", clock=clock,
                                vocabulary=vocabulary)
        rec.settings.tail_s = 0.05
        rec.answer_started("q1", question)
        for i in range(0, len(audio), 1600):  # 0.1 s blocks on the interview clock
            rec.push_audio(audio[i : i + 1600], clock.t)
            clock.t += 0.1
        rec.answer_ended("q1")
        clock.t += 1.0
        await rec.drain(timeout=300)
        assert rec.pending == 0
    return events


async def test_vocabulary_and_question_reach_the_record_pass() -> None:
    engine = LongFake()
    audio = np.zeros(SR * 3, np.float32)
    events = await run_answer(engine, audio, ["Kubernetes", "支付宝"])
    [record] = [c for c in engine.calls if c["kind"] == "record"]
    assert record["beam"] == 5
    assert "Which orchestrator do you use?" in record["prompt"]
    assert "Kubernetes" in record["prompt"] and "支付宝" in record["hotwords"]
    assert abs(record["seconds"] - 3.0) < 0.2
    pending, ready = events
    assert isinstance(pending, TranscriptRecord) and pending.status == "pending"
    assert isinstance(ready, TranscriptRecord) and ready.status == "ready"
    assert ready.text == "Kubernetes rocks."
    # word times are on the interview clock: the answer's audio started at 50.0
    assert ready.words[0].start == pytest.approx(51.0, abs=0.01)


async def test_vocabulary_reaches_the_live_passes() -> None:
    engine = LongFake()
    async with AsrScheduler(engine) as scheduler:
        stream = StreamingTranscriber(
            "iv2", scheduler, StreamSettings(language="en", hotwords="Kubernetes, 支付宝")
        )
        rng = np.random.default_rng(1)
        t = np.arange(SR * 2) / SR
        voiced = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * rng.standard_normal(len(t))))
        await feed(stream, voiced.astype(np.float32), t0=10.0)
    live = [c for c in engine.calls if c["kind"] == "live"]
    assert all(c["hotwords"] == "Kubernetes, 支付宝" for c in live)


async def test_a_failed_record_pass_is_reported_not_lost() -> None:
    events = await run_answer(LongFake(fail=True), np.zeros(SR, np.float32), [])
    assert [e.status for e in events if isinstance(e, TranscriptRecord)] == ["pending", "failed"]
    assert events[-1].error == "RuntimeError"  # type: ignore[union-attr]


async def test_the_answer_audio_never_touches_the_disk(tmp_path: Path) -> None:
    before = {p: set(os.listdir(p)) for p in (tempfile.gettempdir(), os.getcwd())}
    engine = LongFake()
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    async with AsrScheduler(engine) as scheduler:
        rec = RecordTranscriber("iv3", scheduler, emit, language="en", clock=Clock())
        rec.settings.tail_s = 0.0
        rec.answer_started("q1")
        rec.push_audio(np.ones(SR, np.float32) * 0.1, 50.0)
        [answer] = rec._open
        rec.finish()  # the interview ended mid-answer: the pass still runs
        await rec.drain(timeout=30)
        assert answer.chunks == []  # audio released once the pass ran
    assert [e.status for e in events if isinstance(e, TranscriptRecord)][-1] == "ready"
    after = {p: set(os.listdir(p)) for p in before}
    assert after == before


def test_mandarin_record_uses_chinese_punctuation() -> None:
    assert zh_punctuation("我负责排查,最后确认是缓存的问题.OK, fine.") == (
        "我负责排查，最后确认是缓存的问题。OK, fine."
    )


@pytest.mark.model
@pytest.mark.shared
async def test_long_form_record_covers_a_clip_longer_than_one_window(
    whisper_engine: WhisperEngine, shared_data: Path
) -> None:
    names = ["en/jfk.flac", "en/2412-153948-0000.flac", "en/LJ001-0001.flac",
             "en/librispeech-1995-1837-0001.wav"]
    gap = np.zeros(SR // 2, np.float32)
    audio = np.concatenate([x for n in names for x in (load_audio(shared_data / n), gap)])
    assert len(audio) / SR > 40
    events = await asyncio.wait_for(run_answer(whisper_engine, audio, []), 600)
    ready = events[-1]
    assert isinstance(ready, TranscriptRecord) and ready.status == "ready", ready
    text = normalize(ready.text)
    assert "ask not what your country can do for you" in text  # first window
    assert "first great sorrow of his life" in text  # the last clip, past 30 s
    assert ready.end > 50.0 + 35.0  # interview clock: the last words are past the 30 s mark


# ---- windows decoded as the answer goes (issue 14: record ready soon after the answer) ----


def long_answer(shared: Path) -> np.ndarray:
    """43 s of read speech: four clips with half-second pauses (longer than one window)."""
    names = ["en/jfk.flac", "en/2412-153948-0000.flac", "en/LJ001-0001.flac",
             "en/librispeech-1995-1837-0001.wav"]
    gap = np.zeros(SR // 2, np.float32)
    return np.concatenate([x for n in names for x in (load_audio(shared / n), gap)])


def test_windows_do_not_depend_on_how_the_audio_arrived(espeak_speech: np.ndarray) -> None:
    gap = np.zeros(SR // 3, np.float32)
    audio = np.concatenate([x for _ in range(20) for x in (espeak_speech, gap)])
    assert len(audio) / SR > 2 * LONG_WINDOW_S
    whole = LongFormPlan().all(audio)
    assert len(whole) >= 3  # a 28 s window at most: the answer needs three
    assert all(b - a <= LONG_WINDOW_S * SR for a, b in whole)
    assert all(whole[i][1] <= whole[i + 1][0] for i in range(len(whole) - 1))
    for block in (320, 4_999, 32_768, 100_000):
        plan = LongFormPlan()
        during: list[tuple[int, int]] = []
        for end in range(block, len(audio) + block, block):
            during += plan.advance(audio[:end])
        assert during, "no window closed while the answer was given"
        assert during + plan.finish(audio) == whole


def test_an_answer_that_fits_one_window_is_cut_as_before(espeak_speech: np.ndarray) -> None:
    audio = np.concatenate([np.zeros(SR, np.float32), espeak_speech, np.zeros(SR, np.float32)])
    plan = LongFormPlan()
    assert plan.advance(audio) == []
    assert plan.finish(audio) == speech_windows(audio)


def test_a_rendezvous_runs_the_waiting_calls_together() -> None:
    rounds: list[list[int]] = []

    def execute(calls: list[Any]) -> None:
        rounds.append(sorted(c.args for c in calls))
        for c in calls:
            c.result = c.args * 10

    rendezvous = Rendezvous(3, execute)

    def member(n: int, calls: int) -> list[int]:
        try:
            return [rendezvous.call("generate", n + 100 * k) for k in range(calls)]
        finally:
            rendezvous.leave()

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(member, [1, 2, 3], [1, 2, 3]))
    assert results == [[10], [20, 1020], [30, 1030, 2030]]
    # everyone still running waits for the others; a member that ended is not waited for
    assert rounds == [[1, 2, 3], [102, 103], [203]]


def test_a_failing_batched_call_fails_every_pass_in_it() -> None:
    def execute(calls: list[Any]) -> None:
        raise RuntimeError("device lost")

    rendezvous = Rendezvous(2, execute)

    def member(n: int) -> str:
        try:
            rendezvous.call("encode", n)
            return "ok"
        except RuntimeError as exc:
            return str(exc)
        finally:
            rendezvous.leave()

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(member, [1, 2])) == ["device lost", "device lost"]


@pytest.mark.model
@pytest.mark.shared
def test_batched_record_passes_equal_the_passes_run_alone(
    whisper_engine: WhisperEngine, shared_data: Path
) -> None:
    clips = [load_audio(shared_data / n) for n in ("en/jfk.flac", "en/LJ001-0001.flac")]
    inputs = [PassInput(a, "Tell me about your work.", "en", 5) for a in clips]
    alone = [whisper_engine.transcribe_long(i.audio, i.prompt, "en", 5) for i in inputs]
    together = whisper_engine.transcribe_long_batch(inputs)
    assert max(whisper_engine.last_batch_sizes) == 2  # the two windows met in one call
    for a, b in zip(alone, together, strict=True):
        assert isinstance(b, Hypothesis)
        assert b.text == a.text
        assert [(w.start, w.end) for w in b.words] == [(w.start, w.end) for w in a.words]
    assert "ask not what your country" in normalize(together[0].text)  # type: ignore[union-attr]


@pytest.mark.model
@pytest.mark.shared
async def test_a_long_answer_is_decoded_as_it_goes_and_equals_the_whole_pass(
    whisper_engine: WhisperEngine, shared_data: Path
) -> None:
    audio = long_answer(shared_data)
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    clock = Clock()
    async with AsrScheduler(whisper_engine) as scheduler:
        rec = RecordTranscriber("iv4", scheduler, emit, language="en", clock=clock)
        rec.settings.tail_s = 0.0
        rec.answer_started("q1", "Tell me about your work.")
        [answer] = rec._open
        live = answer.as_it_goes
        assert live is not None
        for i in range(0, len(audio), 1600):
            rec.push_audio(audio[i : i + 1600], clock.t)
            clock.t += 0.1
            await asyncio.sleep(0)
            if i == 320 * 1600:  # 32 s in, the first window (28 s) has closed: let it decode
                for _ in range(1200):
                    if scheduler.metrics.record_steps:
                        break
                    await asyncio.sleep(0.1)
        assert live.windows_during_answer == 1
        steps_before_end = scheduler.metrics.record_steps
        assert steps_before_end >= 1  # the first window was decoded during the answer
        rec.answer_ended("q1")
        await rec.drain(timeout=600)
    ready = events[-1]
    assert isinstance(ready, TranscriptRecord) and ready.status == "ready", ready
    kept = (np.clip(audio, -1, 1) * 32767).astype(np.int16).astype(np.float32) / 32768.0
    whole = whisper_engine.transcribe_long(kept, "Tell me about your work.", "en", 5)
    assert ready.text == whole.text.strip()
    assert "first great sorrow of his life" in normalize(ready.text)


class Gate:
    """A live engine whose passes wait until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Event()

    def transcribe(
        self, audio: np.ndarray, prompt: str = "", language: str | None = None,
        beam_size: int = 1, window_s: float | None = None,
    ) -> Hypothesis:
        self.started.set()
        self.open.wait(30)
        return Hypothesis([Word(" live", 0.0, 0.2, 0.9)], "en", duration=len(audio) / SR)


class NiceRecorder(LongFake):
    """A record engine that notes the OS priority of the thread running its passes."""

    def __init__(self) -> None:
        super().__init__()
        self.nice: list[int] = []
        self.policy: list[int] = []

    def start_long(self, *args: Any, **kwargs: Any) -> Any:
        self.nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        self.policy.append(os.sched_getscheduler(threading.get_native_id()))
        return super().start_long(*args, **kwargs)


async def test_record_passes_run_beside_a_busy_live_worker_at_idle_priority() -> None:
    live, record = Gate(), NiceRecorder()
    async with AsrScheduler(live, workers=1, record_engine=record) as scheduler:
        busy = scheduler.submit(
            lambda: PassInput(np.zeros(SR, np.float32), "", "en"), Priority.FINAL
        )
        await asyncio.to_thread(live.started.wait, 10)  # the only live worker is held
        hyp = await asyncio.wait_for(scheduler.record_pass(
            PassInput(np.zeros(SR * 3, np.float32), "Q?", "en", 5, long=True)), 30)
        assert hyp.text == "Kubernetes rocks."  # done while the live pass still runs
        assert not busy.future.done()
        live.open.set()
        await busy.future
    # the record thread runs at the lowest priority (or at least lower, where 19 is refused)
    assert record.nice and 0 < record.nice[0] <= IDLE_NICE
    assert record.policy == [os.SCHED_IDLE]  # gives way to any normal thread at once
    assert scheduler.metrics.record_passes == 1 and scheduler.metrics.record_steps >= 2


async def test_without_a_record_engine_record_passes_wait_for_the_live_ones() -> None:
    live = Gate()
    async with AsrScheduler(live, workers=1) as scheduler:
        busy = scheduler.submit(
            lambda: PassInput(np.zeros(SR, np.float32), "", "en"), Priority.FINAL
        )
        await asyncio.to_thread(live.started.wait, 10)
        record = asyncio.ensure_future(scheduler.record_pass(
            PassInput(np.zeros(SR * 3, np.float32), "Q?", "en", 5, long=True)))
        await asyncio.sleep(0.3)
        assert not record.done()
        live.open.set()
        await busy.future
        assert (await asyncio.wait_for(record, 30)).text == "live"


class BatchingRecorder(LongFake):
    """A record engine that runs waiting steps together; notes how many each time."""

    def __init__(self) -> None:
        super().__init__()
        self.together: list[int] = []

    def run_together(self, calls: list[Any]) -> list[Any]:
        self.together.append(len(calls))
        return [call() for call in calls]


async def test_record_steps_of_several_interviews_run_together() -> None:
    record = BatchingRecorder()
    async with AsrScheduler(Gate(), workers=1, record_engine=record,
                            record_batch=4) as scheduler:
        passes = [
            scheduler.record_pass(PassInput(np.zeros(SR * (2 + k), np.float32), f"Q{k}?", "en",
                                            5, long=True))
            for k in range(3)
        ]
        results = await asyncio.wait_for(asyncio.gather(*passes), 30)
    assert [r.duration for r in results] == [2.0, 3.0, 4.0]  # each pass got its own words
    assert all(r.text == "Kubernetes rocks." for r in results)
    assert record.together and record.together[0] == 3  # the three passes' steps at once
    assert scheduler.record_batches[0] == 3



def test_a_twin_is_a_model_copy_of_its_own_with_the_threads_asked_for() -> None:
    live = WhisperEngine("models/whisper-base", cpu_threads=2)
    same, fewer = live.twin(), live.twin(1)
    assert (same.cpu_threads, fewer.cpu_threads) == (2, 1)
    assert same.model_path == fewer.model_path == live.model_path and same is not live
    assert same.num_workers == 1  # the record thread is its only user
