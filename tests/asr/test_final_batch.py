"""Final passes of several streams waiting at once run as one batched model call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import pytest

from analysis.asr.engine import Hypothesis, WhisperEngine
from analysis.asr.policy import Word
from analysis.asr.scheduler import AsrScheduler, PassInput, Priority
from tests.asr.fakes import FakeTranscriber, seconds_of

T = TypeVar("T")


class BatchingFake(FakeTranscriber):
    """A fake engine with ``run_together``: records each call's batch and each pass's window."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.windows: list[float | None] = []
        self.lock = threading.Lock()

    def hear(
        self, audio: np.ndarray, *, language: str | None, beam_size: int, window_s: float | None
    ) -> Hypothesis:
        with self.lock:
            self.windows.append(window_s)
        seconds = seconds_of(audio)
        return Hypothesis([Word(f" {seconds:.0f}s", 0.0, 0.5)], language="en", duration=seconds)

    def run_together(self, calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
        self.batches.append(len(calls))
        out: list[T | Exception] = []
        for call in calls:
            try:
                out.append(call())
            except Exception as exc:
                out.append(exc)
        return out


def _input(seconds: float, window_s: float | None) -> PassInput:
    return PassInput(np.zeros(int(seconds * 16_000), np.float32), "", "en", 1, window_s=window_s)


def _const(inp: PassInput) -> Callable[[], PassInput]:
    return lambda: inp


def _texts(futures: list[asyncio.Future[tuple[PassInput, Hypothesis] | None]]) -> list[str]:
    return [r[1].text for r in (f.result() for f in futures) if r is not None]


async def _queued_behind_a_held_worker(
    scheduler: AsrScheduler, inputs: list[PassInput], priority: Priority = Priority.FINAL
) -> list[asyncio.Future[tuple[PassInput, Hypothesis] | None]]:
    """Queue ``inputs`` while the only worker is busy, then let it go."""
    gate = threading.Event()
    held = scheduler.submit_call(lambda: gate.wait(120), Priority.FINAL)
    await asyncio.sleep(0.05)  # the worker took the held call
    futures = [scheduler.submit(_const(inp), priority).future for inp in inputs]
    gate.set()
    await held
    await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 120)
    return futures


async def test_waiting_finals_of_several_streams_run_as_one_call_with_the_widest_window() -> None:
    engine = BatchingFake()
    async with AsrScheduler(engine, final_batch=4) as scheduler:
        futures = await _queued_behind_a_held_worker(
            scheduler, [_input(3, 10.0), _input(12, 15.0), _input(6, 10.0)]
        )
    assert engine.batches == [3] and scheduler.final_batches == [3]
    assert engine.windows == [15.0, 15.0, 15.0]  # one encoder shape for the batch
    assert _texts(futures) == ["3s", "12s", "6s"]  # each stream gets its own hypothesis back
    assert scheduler.metrics.final_passes == 3


async def test_a_full_window_final_makes_the_whole_batch_full_window() -> None:
    engine = BatchingFake()
    async with AsrScheduler(engine, final_batch=4) as scheduler:
        await _queued_behind_a_held_worker(scheduler, [_input(3, 10.0), _input(5, None)])
    assert engine.windows == [None, None]


async def test_batches_are_bounded_and_partials_are_not_batched() -> None:
    engine = BatchingFake()
    async with AsrScheduler(engine, final_batch=2) as scheduler:
        await _queued_behind_a_held_worker(scheduler, [_input(2, None)] * 3)
        assert engine.batches == [2]  # the third final runs alone
        await _queued_behind_a_held_worker(
            scheduler, [_input(2, 10.0)] * 2, priority=Priority.PARTIAL
        )
    assert engine.batches == [2]


async def test_without_final_batching_finals_run_one_by_one() -> None:
    engine = BatchingFake()
    async with AsrScheduler(engine) as scheduler:
        futures = await _queued_behind_a_held_worker(scheduler, [_input(2, 10.0)] * 3)
    assert engine.batches == [] and all(f.result() is not None for f in futures)


@pytest.mark.model
async def test_batched_finals_give_each_stream_its_own_words(
    whisper_engine: WhisperEngine, espeak_speech: np.ndarray
) -> None:
    silence = np.zeros(8_000, np.float32)
    inputs = [
        PassInput(np.concatenate([silence, espeak_speech, silence]), "", "en", 1),
        PassInput(np.concatenate([silence, silence]), "", "en", 1),
        PassInput(np.concatenate([espeak_speech[: len(espeak_speech) // 2], silence]), "", "en",
                  1),
    ]
    alone = [whisper_engine.transcribe(i.audio, "", "en", 1).text for i in inputs]
    async with AsrScheduler(whisper_engine, final_batch=4) as scheduler:
        futures = await _queued_behind_a_held_worker(scheduler, inputs)
    assert scheduler.final_batches == [3]
    together = _texts(futures)
    assert together == alone
    assert "your country" in together[0].lower()
