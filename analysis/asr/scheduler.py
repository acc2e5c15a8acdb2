"""Shared in-process inference scheduler: finals first, partials coalesced, backlog measured."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from analysis.asr.engine import Hypothesis, Transcriber

T = TypeVar("T")
log = logging.getLogger(__name__)
IDLE_NICE = 19  # record threads: the CPU scheduler runs them only on time nothing else wants


def lower_thread_priority() -> None:
    """Make the calling thread (and the threads it creates later) run on idle CPU only.

    Nice 19 and, where the kernel has it, SCHED_IDLE: a nice-19 thread still takes its
    turns beside a nice-0 one (measured: a live pass 18-22 % slower beside a busy record
    thread), a SCHED_IDLE one gives way to any normal thread at once. Both are inherited
    by the threads this one starts (CTranslate2's, created when the model loads here).
    """
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, IDLE_NICE)
    except (OSError, AttributeError):  # not Linux or not allowed: plain priority order
        log.info("could not lower the record thread's priority")
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        log.info("no SCHED_IDLE for the record thread")


class Priority(IntEnum):
    """Lower runs first."""

    FINAL = 0
    PARTIAL = 1
    RECORD = 2  # transcript-of-record passes: only on capacity the live passes leave idle


@dataclass
class AsrMetrics:
    """Counters and gauges the server can expose (e.g. on a metrics endpoint)."""

    partial_passes: int = 0
    final_passes: int = 0
    partials_skipped: int = 0
    finals_emitted: int = 0
    finals_degraded: int = 0
    finals_from_pause_pass: int = 0  # finals that needed no pass of their own
    finals_shortened: int = 0  # final passes on a shortened window because finals queued up
    pause_passes_dropped: int = 0  # queued pause passes dropped because speech resumed
    backlog_reports: int = 0
    failures: int = 0
    audio_seconds: float = 0.0
    inference_seconds: float = 0.0
    queue_depth: int = 0
    backlog_seconds: float = 0.0
    pass_seconds_avg: float = 0.0  # moving average of one partial pass's wall time
    final_pass_seconds_avg: float = 0.0  # the same for final-priority (full window) passes
    active_streams: int = 0
    record_passes: int = 0  # transcript-of-record passes finished
    record_steps: int = 0  # their scheduler jobs (one decoded segment each, in-process)
    record_seconds: float = 0.0  # inference time spent on them
    record_failures: int = 0

    def snapshot(self) -> dict[str, float]:
        """All values as a flat dict."""
        return {k: float(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class PassInput:
    """Audio and decoding context for one pass, taken when the pass starts."""

    audio: np.ndarray
    prompt: str
    language: str | None
    beam_size: int = 1
    window_s: float | None = None  # encoder window; None = Whisper's full 30 s
    start_sample: int = 0  # the stream's sample number of audio[0] (not sent to workers)
    hotwords: str = ""  # the job's vocabulary (a decoder hint)
    long: bool = False  # a long-form record pass (every window, offline settings)


def _one(call: Callable[[], Any]) -> list[Any]:
    """A call's result, or the exception it raised, in a list (like ``run_together``)."""
    try:
        return [call()]
    except Exception as exc:
        return [exc]


class PassDropped(Exception):
    """An engine gave up a pass nobody needs any more (a stale remote partial): result None."""


@runtime_checkable
class RemoteTranscriber(Protocol):
    """An engine whose passes run elsewhere (Redis workers): told each pass's priority."""

    def transcribe_pass(self, inp: PassInput, priority: Priority) -> Hypothesis:
        """Run one pass remotely (blocking, in a scheduler thread)."""
        ...

    def close(self) -> None:
        """Wake threads waiting for remote answers (called before the threads are joined)."""
        ...


@dataclass(eq=False)
class PassJob:
    """A queued pass; ``started`` tells whether cancelling it still saves work."""

    snapshot: Callable[[], PassInput | None]
    priority: Priority
    enqueued: float
    future: asyncio.Future[tuple[PassInput, Hypothesis] | None]
    started: bool = False
    call: Callable[[], object] | None = None  # a plain blocking call instead of a pass

    def cancel(self) -> None:
        """Drop the job if it has not started."""
        if not self.started:
            self.future.cancel()


@dataclass(order=True)
class _Entry:
    priority: int
    seq: int
    job: PassJob = field(compare=False)


class AsrScheduler:
    """Runs passes on ``workers`` threads sharing one engine (one model per process)."""

    def __init__(
        self,
        engine: Transcriber,
        workers: int = 1,
        metrics: AsrMetrics | None = None,
        max_pending_finals: int = 8,
        clock: Callable[[], float] = time.monotonic,
        record_engine: Transcriber | None = None,
        record_batch: int = 4,
        final_batch: int = 1,
    ) -> None:
        self.engine = engine
        # with a record engine (a second model of its own), record passes run in one thread
        # at the lowest OS priority beside the live passes instead of queueing behind them
        self.record_engine = record_engine
        self._record_executor: ThreadPoolExecutor | None = None
        self.record_batch = max(1, record_batch)
        self._record_waiting: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._record_wake: asyncio.Event | None = None
        self.record_batches: list[int] = []  # record steps run together, per call (metrics)
        # final-priority passes of several streams waiting at once run as one batched model
        # call (engines with ``run_together``): one encoder call instead of one per stream
        self.final_batch = max(1, final_batch)
        self.final_batches: list[int] = []  # passes per batched final call (metrics)
        self.workers = max(1, workers)
        self.metrics = metrics or AsrMetrics()
        self.max_pending_finals = max_pending_finals
        self._clock = clock
        self._queue: asyncio.PriorityQueue[_Entry] | None = None
        self._seq = itertools.count()
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[PassJob] = set()
        self._pending_finals = 0
        self._streams: set[str] = set()

    async def start(self) -> None:
        """Start the worker loops (the engine loads in the first pass, off the loop)."""
        if self._tasks:
            return
        self._queue = asyncio.PriorityQueue()
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="asr")
        if self.record_engine is not None:
            # the model loads in this thread at the first record pass, so the inference
            # threads it starts inherit the low priority too
            self._record_executor = ThreadPoolExecutor(
                1, thread_name_prefix="asr-record", initializer=lower_thread_priority
            )
            self._record_wake = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self.run(), name=f"asr-{i}") for i in range(self.workers)
        ]
        if self._record_executor is not None:
            self._tasks.append(asyncio.create_task(self._record_loop(), name="asr-record"))

    async def aclose(self) -> None:
        """Stop workers; queued jobs are cancelled."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for job in list(self._pending):
            job.future.cancel()
        self._pending.clear()
        for _, future in self._record_waiting:
            future.cancel()
        self._record_waiting.clear()
        if isinstance(self.engine, RemoteTranscriber):
            self.engine.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._record_executor is not None:
            self._record_executor.shutdown(wait=True, cancel_futures=True)
            self._record_executor = None

    async def __aenter__(self) -> AsrScheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    TARGET_UTILIZATION = 0.6

    def open_stream(self, stream_id: str) -> None:
        """A stream started sending audio (used to share the inference budget)."""
        self._streams.add(stream_id)
        self.metrics.active_streams = len(self._streams)

    def close_stream(self, stream_id: str) -> None:
        """A stream ended."""
        self._streams.discard(stream_id)
        self.metrics.active_streams = len(self._streams)

    def partial_interval(self) -> float:
        """Seconds between partial passes of one stream that keep the workers ~60% busy.

        Every pass encodes a full 30 s window, so its cost does not shrink with the audio:
        the only way to leave room for finals is to ask for fewer partials as streams are
        added. With one stream and one pass taking 1 s on one worker this is 1.7 s.
        """
        avg = self.metrics.pass_seconds_avg or 1.0
        # a waiting record pass counts as one more stream: partials thin out so the
        # transcript of record does not starve behind them (finals are never thinned)
        streams = max(1, len(self._streams) + min(self.waiting(Priority.RECORD), 4))
        return avg * streams / (self.workers * self.TARGET_UTILIZATION)

    def waiting(self, priority: Priority | None = None) -> int:
        """Queued jobs not yet started (of one priority, or all)."""
        return sum(
            1
            for j in self._pending
            if not j.started and (priority is None or j.priority == priority)
        )

    def finals_full(self) -> bool:
        """True when the bounded final queue is full (callers degrade instead of queueing)."""
        return self._pending_finals >= self.max_pending_finals

    def backlog_seconds(self) -> float:
        """How long the oldest queued job has been waiting."""
        if not self._pending:
            return 0.0
        now = self._clock()
        waiting = [now - j.enqueued for j in self._pending if not j.started]
        return max(waiting, default=0.0)

    def submit(self, snapshot: Callable[[], PassInput | None], priority: Priority) -> PassJob:
        """Queue a pass; the snapshot is taken when a worker picks it (latest audio)."""
        if self._queue is None:
            raise RuntimeError("AsrScheduler.start() was not called")
        job = PassJob(snapshot, priority, self._clock(), asyncio.get_running_loop().create_future())
        self._pending.add(job)
        if priority == Priority.FINAL:
            self._pending_finals += 1
        self._queue.put_nowait(_Entry(int(priority), next(self._seq), job))
        # a job cancelled while queued stops counting as waiting at once, not when a worker
        # gets to it (waiting() decides the streams' busy settings)
        job.future.add_done_callback(lambda f: self._done(job) if f.cancelled() else None)
        self._update_gauges()
        return job

    def _update_gauges(self) -> None:
        self.metrics.queue_depth = sum(1 for j in self._pending if not j.started)
        self.metrics.backlog_seconds = self.backlog_seconds()

    def _done(self, job: PassJob) -> None:
        if job in self._pending:
            self._pending.discard(job)
            if job.priority == Priority.FINAL:
                self._pending_finals -= 1
        self._update_gauges()

    async def run(self) -> None:
        """One worker loop: take the most urgent job, run it in a thread."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            entry = await self._queue.get()
            job = entry.job
            if job.future.done():
                self._done(job)
                continue
            if job.call is None and job.priority == Priority.FINAL and self.final_batch > 1:
                others = self._waiting_finals(self.final_batch - 1)
                if others:
                    await self._run_final_batch([job, *others], loop)
                    continue
            job.started = True
            if job.call is not None:
                await self._run_call(job, loop)
                continue
            try:
                inp = job.snapshot()
                if inp is None:
                    job.future.set_result(None)
                    continue
                began = time.perf_counter()
                hyp = await loop.run_in_executor(
                    self._executor, self._transcribe, inp, job.priority
                )
                self._count_pass(job.priority, time.perf_counter() - began, hyp.duration)
                if not job.future.done():
                    job.future.set_result((inp, hyp))
            except asyncio.CancelledError:
                job.future.cancel()
                raise
            except PassDropped:
                if not job.future.done():
                    job.future.set_result(None)
            except Exception as exc:
                self.metrics.failures += 1
                if not job.future.done():
                    job.future.set_exception(exc)
            finally:
                self._done(job)

    def _waiting_finals(self, limit: int) -> list[PassJob]:
        """Take up to ``limit`` more final passes off the queue (they are at its front)."""
        if limit <= 0 or getattr(self.engine, "run_together", None) is None:
            return []
        assert self._queue is not None
        taken: list[PassJob] = []
        while len(taken) < limit and not self._queue.empty():
            entry = self._queue.get_nowait()
            job = entry.job
            if job.future.done():
                self._done(job)
                continue
            if job.priority != Priority.FINAL or job.call is not None:
                self._queue.put_nowait(entry)
                break
            taken.append(job)
        return taken

    async def _run_final_batch(self, jobs: list[PassJob], loop: asyncio.AbstractEventLoop
                               ) -> None:
        """Several streams' final passes in one batched model call.

        Snapshots are taken while the batch still counts as waiting (so a busy stream
        shortens its window as it would alone); every pass then gets the batch's widest
        window, so their encoder inputs have one shape and run as one call (a wider window
        only adds context).
        """
        inputs: list[tuple[PassJob, PassInput]] = []
        for job in jobs:
            try:
                inp = job.snapshot()
            except Exception as exc:
                job.future.set_exception(exc)
                continue
            if inp is None:
                job.future.set_result(None)
            else:
                inputs.append((job, inp))
        for job in jobs:
            job.started = True
        windows = [inp.window_s for _, inp in inputs]
        widest = None if None in windows else max(w for w in windows if w is not None)
        inputs = [(job, dataclasses.replace(inp, window_s=widest)) for job, inp in inputs]
        run_together: Any = getattr(self.engine, "run_together")  # noqa: B009
        calls = [lambda inp=inp: self._transcribe(inp, Priority.FINAL) for _, inp in inputs]
        began = time.perf_counter()
        try:
            results: list[Any] = await loop.run_in_executor(self._executor, run_together, calls)
        except asyncio.CancelledError:
            for job in jobs:
                job.future.cancel()
            raise
        except Exception as exc:
            results = [exc] * len(inputs)
        finally:
            for job in jobs:
                self._done(job)
        took = time.perf_counter() - began
        self.final_batches.append(len(inputs))
        for (job, inp), result in zip(inputs, results, strict=True):
            if isinstance(result, Exception):
                self.metrics.failures += 1
                if not job.future.done():
                    job.future.set_exception(result)
                continue
            self._count_pass(Priority.FINAL, took / len(inputs), result.duration)
            if not job.future.done():
                job.future.set_result((inp, result))

    async def _run_call(self, job: PassJob, loop: asyncio.AbstractEventLoop) -> None:
        assert job.call is not None
        future: asyncio.Future[Any] = job.future
        began = time.perf_counter()
        try:
            result = await loop.run_in_executor(self._executor, job.call)
            if not future.done():
                future.set_result(result)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        finally:
            took = time.perf_counter() - began
            self.metrics.inference_seconds += took
            if job.priority == Priority.RECORD:
                self.metrics.record_steps += 1
                self.metrics.record_seconds += took
            self._done(job)

    def submit_call(self, call: Callable[[], T], priority: Priority = Priority.RECORD
                    ) -> asyncio.Future[T]:
        """Queue a blocking call (e.g. one step of a record pass) behind more urgent passes."""
        if self._queue is None:
            raise RuntimeError("AsrScheduler.start() was not called")
        if priority == Priority.RECORD and self._record_wake is not None:
            waiting: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._record_waiting.append((call, waiting))
            self._record_wake.set()
            return waiting
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        job = PassJob(lambda: None, priority, self._clock(), future, call=call)
        self._pending.add(job)
        if priority == Priority.FINAL:
            self._pending_finals += 1
        self._queue.put_nowait(_Entry(int(priority), next(self._seq), job))
        self._update_gauges()
        return future

    async def _record_loop(self) -> None:
        """The record thread: the record steps waiting run together (one batched model call
        per round when the engine batches: several interviews' windows at once)."""
        assert self._record_wake is not None and self._record_executor is not None
        loop = asyncio.get_running_loop()
        together = getattr(self.record_engine, "run_together", None)
        while True:
            await self._record_wake.wait()
            self._record_wake.clear()
            while self._record_waiting:
                batch = [(c, f) for c, f in self._record_waiting[: self.record_batch]
                         if not f.done()]
                del self._record_waiting[: self.record_batch]
                if not batch:
                    continue
                calls = [c for c, _ in batch]
                began = time.perf_counter()
                if together is not None and len(calls) > 1:
                    results = await loop.run_in_executor(self._record_executor, together, calls)
                else:
                    results = await loop.run_in_executor(self._record_executor, _one, calls[0])
                took = time.perf_counter() - began
                self.metrics.inference_seconds += took
                self.metrics.record_steps += len(calls)
                self.metrics.record_seconds += took
                self.record_batches.append(len(calls))
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

    @property
    def long_engine(self) -> Transcriber:
        """The engine record passes decode with."""
        return self.record_engine if self.record_engine is not None else self.engine

    async def record_pass(self, inp: PassInput) -> Hypothesis:
        """A long-form transcript-of-record pass at the lowest priority.

        In-process it runs one decoded segment per scheduler job, so finals and partials
        that arrive meanwhile wait at most one window; a remote engine runs it whole.
        """
        try:
            if isinstance(self.engine, RemoteTranscriber):
                remote = self.engine
                hyp = await self.submit_call(
                    lambda: remote.transcribe_pass(inp, Priority.RECORD), Priority.RECORD
                )
            else:
                hyp = await self._local_record(inp)
        except BaseException:
            self.metrics.record_failures += 1
            raise
        self.metrics.record_passes += 1
        self.metrics.audio_seconds += hyp.duration
        return hyp

    def decodes_as_it_goes(self) -> bool:
        """True when record passes can decode an answer's windows while it is given."""
        return not isinstance(self.engine, RemoteTranscriber) and hasattr(
            self.long_engine, "open_long"
        )

    def count_record(self, hyp: Hypothesis | None) -> None:
        """A record pass run outside ``record_pass`` (window by window) finished or failed."""
        if hyp is None:
            self.metrics.record_failures += 1
            return
        self.metrics.record_passes += 1
        self.metrics.audio_seconds += hyp.duration

    async def _local_record(self, inp: PassInput) -> Hypothesis:
        start_long = getattr(self.long_engine, "start_long", None)
        if start_long is None:  # an engine without long-form decoding (test fakes)
            engine = self.long_engine
            return await self.submit_call(
                lambda: engine.transcribe(inp.audio, inp.prompt, inp.language, inp.beam_size),
                Priority.RECORD,
            )
        long = await self.submit_call(
            lambda: start_long(inp.audio, inp.prompt, inp.language, inp.beam_size, inp.hotwords),
            Priority.RECORD,
        )
        try:
            while await self.submit_call(long.step, Priority.RECORD):
                pass
        finally:
            long.close()
        return long.result()  # type: ignore[no-any-return]

    def _count_pass(self, priority: Priority, took: float, audio_s: float) -> None:
        m = self.metrics
        m.inference_seconds += took
        m.audio_seconds += audio_s
        if priority == Priority.FINAL:
            m.final_passes += 1
            avg = m.final_pass_seconds_avg
            m.final_pass_seconds_avg = took if avg == 0 else 0.8 * avg + 0.2 * took
        else:
            m.partial_passes += 1
            avg = m.pass_seconds_avg
            m.pass_seconds_avg = took if avg == 0 else 0.8 * avg + 0.2 * took

    def _transcribe(self, inp: PassInput, priority: Priority) -> Hypothesis:
        if isinstance(self.engine, RemoteTranscriber):
            return self.engine.transcribe_pass(inp, priority)
        if inp.hotwords:  # only engines that take a vocabulary are given one
            transcribe: Any = self.engine.transcribe
            hyp: Hypothesis = transcribe(
                inp.audio, inp.prompt, inp.language, inp.beam_size, window_s=inp.window_s,
                hotwords=inp.hotwords,
            )
            return hyp
        return self.engine.transcribe(
            inp.audio, inp.prompt, inp.language, inp.beam_size, window_s=inp.window_s
        )
