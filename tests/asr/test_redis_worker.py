"""Worker mode against the real Redis: passes travel as jobs, finals first, stale partials
dropped, silent workers reported, and a killed worker's final pass finished by another."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis.asr.engine import Hypothesis
from analysis.asr.policy import Word
from analysis.asr.redis_worker import RedisAsrWorker
from analysis.asr.remote import (
    JobKeys,
    RedisEngine,
    RemotePassError,
    RemotePassTimeout,
    decode_job,
    encode_job,
)
from analysis.asr.scheduler import AsrScheduler, PassDropped, PassInput, Priority
from analysis.asr.stream import StreamingTranscriber, StreamSettings
from analysis.events import AnalyzerFailed, EventBase
from tests.asr.fakes import FakeTranscriber, seconds_of

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"

pytestmark = [pytest.mark.redis]


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")


@pytest.fixture
async def keys() -> AsyncIterator[JobKeys]:
    """A stream and group of this test only; everything under it is deleted afterwards."""
    _redis_or_skip()
    import redis.asyncio as aioredis

    k = JobKeys(f"candor:test:asr:{uuid.uuid4().hex[:8]}", "asr-test")
    yield k
    r = aioredis.from_url(REDIS_URL)
    async for key in r.scan_iter(match=f"{k.stream}*"):
        await r.delete(key)
    await r.aclose()


class ScriptedTranscriber(FakeTranscriber):
    """Says the same two words for any audio; records the beam size of each call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def hear(
        self, audio: np.ndarray, *, language: str | None, beam_size: int, window_s: float | None
    ) -> Hypothesis:
        self.calls.append(beam_size)
        return Hypothesis(
            [Word(" hello", 0.5, 0.9, 0.9), Word(" there", 1.0, 1.4, 0.8)],
            language=language or "en",
            avg_logprob=-0.2,
            duration=seconds_of(audio),
        )


def a_pass(beam: int = 1, seconds: float = 2.0) -> PassInput:
    return PassInput(np.zeros(int(16_000 * seconds), np.float32), "prompt", "en", beam)


async def run_consumer(
    keys: JobKeys,
    transcriber: ScriptedTranscriber,
    stop: asyncio.Event,
    claim_idle_ms: int = 4_000,
    max_deliveries: int = 3,
    record_batch: int = 1,
) -> RedisAsrWorker:
    import redis.asyncio as aioredis

    r = aioredis.from_url(REDIS_URL)
    worker = RedisAsrWorker(
        r,
        transcriber,
        stream=keys.stream,
        group=keys.group,
        block_ms=200,
        claim_idle_ms=claim_idle_ms,
        max_deliveries=max_deliveries,
        record_batch=record_batch,
    )
    try:
        await worker.run(stop)
    finally:
        await r.aclose()
    return worker


def test_a_pass_survives_the_wire_format() -> None:
    inp = PassInput(np.linspace(-0.5, 0.5, 1600, dtype=np.float32), "earlier words", "zh", 5)
    fields = {
        k.encode(): v if isinstance(v, bytes) else str(v).encode()
        for k, v in encode_job("j1", inp, Priority.FINAL, 123.5).items()
    }
    job = decode_job(fields)
    assert (job.job_id, job.priority, job.deadline) == ("j1", Priority.FINAL, 123.5)
    assert (job.inp.prompt, job.inp.language, job.inp.beam_size) == ("earlier words", "zh", 5)
    assert np.abs(job.inp.audio - inp.audio).max() < 1e-4


async def test_passes_run_on_a_worker_finals_first(keys: JobKeys) -> None:
    engine = RedisEngine(REDIS_URL, keys.stream, keys.group)
    engine.start()
    transcriber = ScriptedTranscriber()
    stop = asyncio.Event()
    # queued before any worker runs: the final (beam 5) must be served before the partial
    partial = asyncio.create_task(
        asyncio.to_thread(engine.transcribe_pass, a_pass(beam=1), Priority.PARTIAL)
    )
    await asyncio.sleep(0.2)
    final = asyncio.create_task(
        asyncio.to_thread(engine.transcribe_pass, a_pass(beam=5), Priority.FINAL)
    )
    await asyncio.sleep(0.2)
    consumer = asyncio.create_task(run_consumer(keys, transcriber, stop))
    try:
        hyp = await asyncio.wait_for(final, 10)
        assert hyp.text == "hello there" and hyp.words[1].start == 1.0
        assert (await asyncio.wait_for(partial, 10)).text == "hello there"
    finally:
        stop.set()
        worker = await consumer
    assert transcriber.calls == [5, 1]
    assert worker.processed == 2
    assert engine.metrics.answers == 2


async def test_a_worker_carries_on_after_redis_loses_its_streams(keys: JobKeys) -> None:
    """A Redis restart without persistence drops the streams and the consumer group."""
    import redis.asyncio as aioredis

    engine = RedisEngine(REDIS_URL, keys.stream, keys.group, final_timeout_s=15.0)
    engine.start()
    stop = asyncio.Event()
    consumer = asyncio.create_task(run_consumer(keys, ScriptedTranscriber(), stop))
    r = aioredis.from_url(REDIS_URL)
    try:
        hyp = await asyncio.to_thread(engine.transcribe_pass, a_pass(), Priority.FINAL)
        assert hyp.text == "hello there"
        for stream in (keys.finals, keys.partials, keys.records):
            await r.delete(stream)  # the group goes with the stream
        # the server queues the next pass into a new stream that has no group
        hyp = await asyncio.to_thread(engine.transcribe_pass, a_pass(), Priority.FINAL)
        assert hyp.text == "hello there"
    finally:
        stop.set()
        await r.aclose()
        worker = await consumer
    assert worker.processed == 2


async def test_a_job_that_fails_leaves_the_worker_running(keys: JobKeys) -> None:
    class FailsOnce(RedisAsrWorker):
        failed = False

        async def handle(self, stream: str, message_id: bytes, fields: Any) -> None:
            if not self.failed:
                self.failed = True
                raise ConnectionError("the reply could not be written")
            await super().handle(stream, message_id, fields)

    import redis.asyncio as aioredis

    engine = RedisEngine(REDIS_URL, keys.stream, keys.group, final_timeout_s=15.0)
    engine.start()
    r = aioredis.from_url(REDIS_URL)
    worker = FailsOnce(
        r,
        ScriptedTranscriber(),
        stream=keys.stream,
        group=keys.group,
        block_ms=200,
        claim_idle_ms=500,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        # the first delivery fails; the job stays pending and is claimed again
        hyp = await asyncio.to_thread(engine.transcribe_pass, a_pass(), Priority.FINAL)
        assert hyp.text == "hello there"
        assert worker.failed and not running.done()
    finally:
        stop.set()
        await running
        await r.aclose()


async def test_a_stale_partial_is_dropped_not_transcribed(keys: JobKeys) -> None:
    engine = RedisEngine(REDIS_URL, keys.stream, keys.group, partial_ttl_s=0.1)
    engine.start()
    pending = asyncio.create_task(
        asyncio.to_thread(engine.transcribe_pass, a_pass(), Priority.PARTIAL)
    )
    await asyncio.sleep(0.5)  # nobody took it before its deadline
    transcriber = ScriptedTranscriber()
    stop = asyncio.Event()
    consumer = asyncio.create_task(run_consumer(keys, transcriber, stop))
    try:
        with pytest.raises(PassDropped):
            await asyncio.wait_for(pending, 10)
    finally:
        stop.set()
        await consumer
    assert transcriber.calls == []


async def test_without_workers_a_final_is_reported_and_a_partial_dropped(keys: JobKeys) -> None:
    engine = RedisEngine(
        REDIS_URL, keys.stream, keys.group, final_timeout_s=0.5, partial_wait_s=0.3
    )
    engine.start()
    with pytest.raises(RemotePassTimeout):
        await asyncio.to_thread(engine.transcribe_pass, a_pass(), Priority.FINAL)
    with pytest.raises(PassDropped):
        await asyncio.to_thread(engine.transcribe_pass, a_pass(), Priority.PARTIAL)
    assert (engine.metrics.final_timeouts, engine.metrics.partials_dropped) == (1, 1)


@pytest.mark.model
async def test_with_no_worker_running_a_stream_reports_the_loss_and_does_not_hang(
    keys: JobKeys, espeak_speech: np.ndarray
) -> None:
    engine = RedisEngine(
        REDIS_URL, keys.stream, keys.group, final_timeout_s=1.0, partial_wait_s=0.5
    )
    events: list[EventBase] = []
    async with AsrScheduler(engine, workers=2) as scheduler:
        await asyncio.to_thread(engine.start)
        stream = StreamingTranscriber(
            "iv", scheduler, StreamSettings(language="en"), on_event=events.append
        )
        audio = np.concatenate(
            [np.zeros(8_000, np.float32), espeak_speech, np.zeros(16_000, np.float32)]
        )
        for i in range(0, len(audio), 320):
            stream.push_audio(audio[i : i + 320], t=i / 16_000)
        async with asyncio.timeout(20):
            await stream.aclose()
    failures = [e for e in events if isinstance(e, AnalyzerFailed)]
    assert failures and {f.error for f in failures} == {"RemotePassTimeout"}
    assert engine.metrics.final_timeouts >= 1


async def test_a_scheduler_over_redis_yields_none_for_a_dropped_pass(keys: JobKeys) -> None:
    engine = RedisEngine(REDIS_URL, keys.stream, keys.group, partial_wait_s=0.3)
    async with AsrScheduler(engine, workers=2) as scheduler:
        await asyncio.to_thread(engine.start)
        job = scheduler.submit(a_pass, Priority.PARTIAL)
        assert await asyncio.wait_for(job.future, 10) is None


async def test_a_pass_that_keeps_killing_workers_is_answered_with_an_error(
    keys: JobKeys,
) -> None:
    import redis.asyncio as aioredis

    engine = RedisEngine(REDIS_URL, keys.stream, keys.group)
    engine.start()
    waiting = asyncio.create_task(
        asyncio.to_thread(engine.transcribe_pass, a_pass(), Priority.FINAL)
    )
    r: Any = aioredis.from_url(REDIS_URL)
    try:
        # three workers took it in turn and vanished
        await asyncio.sleep(0.3)
        await r.xreadgroup(keys.group, "gone-0", {keys.finals: ">"})
        ids = [m for m, _ in await r.xrange(keys.finals)]
        for n in (1, 2):
            await r.xclaim(keys.finals, keys.group, f"gone-{n}", 0, ids)
        stop = asyncio.Event()
        transcriber = ScriptedTranscriber()
        consumer = asyncio.create_task(
            run_consumer(keys, transcriber, stop, claim_idle_ms=100, max_deliveries=3)
        )
        try:
            with pytest.raises(RemotePassError, match="abandoned"):
                await asyncio.wait_for(waiting, 10)
        finally:
            stop.set()
            await consumer
        assert transcriber.calls == []
        assert (await r.xpending(keys.finals, keys.group))["pending"] == 0
    finally:
        await r.aclose()


def start_worker(
    keys: JobKeys,
    models_dir: Path,
    marker: Path | None = None,
) -> subprocess.Popen[bytes]:
    """``hang`` mode (signals it holds a job, never answers) or ``python run.py worker``."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CANDOR_REDIS_URL": REDIS_URL,
        "CANDOR_ASR__REDIS_STREAM": keys.stream,
        "CANDOR_ASR__REDIS_GROUP": keys.group,
        "CANDOR_ASR__CLAIM_IDLE_MS": "1500",
        "CANDOR_MODELS_DIR": str(models_dir),
    }
    if marker is None:
        cmd = [sys.executable, "run.py", "worker"]
    else:
        cmd = [
            sys.executable,
            "-m",
            "tests.asr.worker_proc",
            "--mode",
            "hang",
            "--stream",
            keys.stream,
            "--group",
            keys.group,
            "--claim-idle-ms",
            "1500",
            "--models-dir",
            str(models_dir),
            "--marker",
            str(marker),
        ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env)


class Handover:
    """A worker process that takes a job and hangs, then is killed and replaced by a real one."""

    def __init__(self, keys: JobKeys, models_dir: Path, marker: Path) -> None:
        self.keys, self.models_dir, self.marker = keys, models_dir, marker
        self.hanging = start_worker(keys, models_dir, marker)
        self.rescuer: subprocess.Popen[bytes] | None = None

    async def taken(self, what: str, tries: int) -> None:
        """Wait (``tries`` tenths of a second at most) until the hanging worker holds a job."""
        for _ in range(tries):
            if self.marker.exists():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the first worker never took {what}")

    def kill_and_rescue(self) -> subprocess.Popen[bytes]:
        """SIGKILL the hanging worker and start a real one (``python run.py worker``)."""
        self.hanging.send_signal(signal.SIGKILL)
        self.hanging.wait(timeout=10)
        self.rescuer = start_worker(self.keys, self.models_dir)
        return self.rescuer

    def stop(self) -> None:
        """Stop whichever worker still runs."""
        for proc in (self.hanging, self.rescuer):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)


@pytest.fixture
def handover(keys: JobKeys, models_dir: Path, tmp_path: Path) -> Iterator[Handover]:
    """The hanging worker, started; both workers stopped after the test."""
    workers = Handover(keys, models_dir, tmp_path / "busy")
    try:
        yield workers
    finally:
        workers.stop()


async def pending_once_acknowledged(r: Any, stream: str, group: str) -> int:
    """The stream's unacknowledged jobs, after giving the worker up to 5 s to acknowledge."""
    for _ in range(100):
        if not (await r.xpending(stream, group))["pending"]:
            break
        await asyncio.sleep(0.05)
    return int((await r.xpending(stream, group))["pending"])


@pytest.mark.model
async def test_a_killed_workers_final_pass_is_finished_by_another_once(
    keys: JobKeys, espeak_speech: np.ndarray, handover: Handover
) -> None:
    import redis.asyncio as aioredis

    engine = RedisEngine(REDIS_URL, keys.stream, keys.group, final_timeout_s=90)
    engine.start()
    r = aioredis.from_url(REDIS_URL)
    try:
        inp = PassInput(espeak_speech, "", "en", 1)
        waiting = asyncio.create_task(
            asyncio.to_thread(engine.transcribe_pass, inp, Priority.FINAL)
        )
        await handover.taken("the job", tries=200)
        holder = (await r.xpending(keys.finals, keys.group))["consumers"][0]["name"]
        rescuer = handover.kill_and_rescue()
        hyp = await asyncio.wait_for(waiting, 90)
        assert "country" in hyp.text.lower()
        ((job_id, answered_by),) = engine.answered_by.items()
        assert answered_by != holder.decode() and str(rescuer.pid) in answered_by

        # a late duplicate answer (the killed worker's retry) is never read
        await r.rpush(keys.reply(job_id), b'{"job_id": "%s", "error": "late"}' % job_id.encode())
        assert engine.metrics.answers == 1
        # the worker acknowledges right after answering
        assert await pending_once_acknowledged(r, keys.finals, keys.group) == 0
        assert await r.xlen(keys.finals) == 0
    finally:
        await r.aclose()


class LongScripted(ScriptedTranscriber):
    """Also runs long-form record passes; records what each was told."""

    def __init__(self) -> None:
        super().__init__()
        self.long: list[tuple[str, str, int]] = []

    def transcribe_long(
        self, audio: np.ndarray, prompt: str = "", language: str | None = None,
        beam_size: int = 5, hotwords: str = "",
    ) -> Hypothesis:
        self.long.append((prompt, hotwords, beam_size))
        return Hypothesis([Word(" record", 0.2, 0.6, 0.9)], language or "en",
                          duration=len(audio) / 16_000)


async def test_a_record_pass_runs_on_a_worker_after_live_passes(keys: JobKeys) -> None:
    engine = RedisEngine(REDIS_URL, keys.stream, keys.group)
    engine.start()
    transcriber = LongScripted()
    stop = asyncio.Event()
    record_inp = PassInput(np.zeros(16_000 * 40, np.float32), "Question? Kubernetes", "en", 5,
                           hotwords="Kubernetes", long=True)
    record = asyncio.create_task(asyncio.to_thread(
        engine.transcribe_pass, record_inp, Priority.RECORD))
    await asyncio.sleep(0.2)
    final = asyncio.create_task(asyncio.to_thread(
        engine.transcribe_pass, a_pass(beam=5), Priority.FINAL))
    await asyncio.sleep(0.2)
    consumer = asyncio.create_task(run_consumer(keys, transcriber, stop))
    try:
        assert (await asyncio.wait_for(final, 10)).text == "hello there"
        assert (await asyncio.wait_for(record, 10)).text == "record"
    finally:
        stop.set()
        await consumer
    assert transcriber.calls == [5]  # the live final ran first, the record pass after it
    assert transcriber.long == [("Question? Kubernetes", "Kubernetes", 5)]


@pytest.mark.model
async def test_a_killed_workers_record_pass_is_finished_by_another(
    keys: JobKeys, espeak_speech: np.ndarray, handover: Handover
) -> None:
    import redis.asyncio as aioredis

    engine = RedisEngine(REDIS_URL, keys.stream, keys.group, record_timeout_s=120)
    engine.start()
    r = aioredis.from_url(REDIS_URL)
    try:
        inp = PassInput(espeak_speech, "Tell me about your work.", "en", 5, long=True)
        waiting = asyncio.create_task(
            asyncio.to_thread(engine.transcribe_pass, inp, Priority.RECORD)
        )
        await handover.taken("the record pass", tries=300)
        pending = await r.xpending(keys.records, keys.group)
        assert pending["pending"] == 1  # held, not acknowledged when read
        holder = pending["consumers"][0]["name"]
        rescuer = handover.kill_and_rescue()
        hyp = await asyncio.wait_for(waiting, 120)
        assert "country" in hyp.text.lower()
        ((_, answered_by),) = engine.answered_by.items()
        assert answered_by != holder.decode() and str(rescuer.pid) in answered_by
        assert await pending_once_acknowledged(r, keys.records, keys.group) == 0
        assert await r.xlen(keys.records) == 0
    finally:
        await r.aclose()


async def test_a_worker_takes_the_waiting_record_passes_as_one_batch(keys: JobKeys) -> None:
    engine = RedisEngine(REDIS_URL, keys.stream, keys.group)
    engine.start()
    transcriber = BatchScripted()
    inputs = [PassInput(np.zeros(16_000 * (3 + k), np.float32), f"Question {k}?", "en", 5,
                        long=True) for k in range(3)]
    records = [asyncio.create_task(asyncio.to_thread(engine.transcribe_pass, inp, Priority.RECORD))
               for inp in inputs]
    await asyncio.sleep(0.3)
    stop = asyncio.Event()
    consumer = asyncio.create_task(run_consumer(keys, transcriber, stop, record_batch=4))
    try:
        answers = [await asyncio.wait_for(t, 10) for t in records]
    finally:
        stop.set()
        worker = await consumer
    assert worker.record_batches == [3]
    [batch] = transcriber.batches
    assert sorted(batch) == ["Question 0?", "Question 1?", "Question 2?"]
    # each pass got its own answer back (durations tell them apart)
    assert [a.duration for a in answers] == [3.0, 4.0, 5.0]


class BatchScripted(ScriptedTranscriber):
    """Runs record passes in batches; records the prompts of each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def transcribe_long_batch(self, inputs: list[PassInput]) -> list[Hypothesis]:
        self.batches.append([i.prompt for i in inputs])
        return [Hypothesis([Word(" record", 0.2, 0.6, 0.9)], "en",
                           duration=len(i.audio) / 16_000) for i in inputs]
