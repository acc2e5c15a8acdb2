"""Transcription workers fed through Redis Streams consumer groups (``python run.py worker``).

A worker process loads the model once and runs ``settings.asr.workers`` consumers. Each
consumer takes passes queued by the server's ``RedisEngine`` (see ``remote.py``), finals
before partials:

1. a final pass left pending by a silent worker for ``claim_idle_ms`` (XAUTOCLAIM);
2. a new final pass; 3. a new partial pass; 4. transcript-of-record passes: those left
pending by a silent worker, then new ones, up to ``record_batch`` at once (decoded together,
one window of each per model call); else block on the final and partial streams.

A final or record pass is answered (pushed to its reply list), then acknowledged and
deleted, so a crash means a retry by another worker (at-least-once; the server takes the
first answer). While it runs, the worker re-claims it every ``claim_idle_ms / 3`` so a slow
pass is not stolen. A pass delivered ``max_deliveries`` times is answered with an error
instead of crashing workers forever. Partial passes are acknowledged when read (best
effort) and answered as dropped when they start after their deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from analysis.asr.engine import Hypothesis, Transcriber
from analysis.asr.remote import REPLY_TTL_S, JobKeys, RemoteJob, answer, decode_job
from analysis.asr.scheduler import PassInput, Priority

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

Message = tuple[str, bytes, dict[bytes, bytes]]  # stream, message id, fields


def _redis(url: str) -> Any:
    from analysis.redis_client import async_redis

    return async_redis(url)


async def ensure_group(r: Any, stream: str, group: str) -> None:
    """Create the stream and its consumer group if missing."""
    from redis.exceptions import ResponseError

    try:
        await r.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def consumer_name() -> str:
    """``host-pid-random``: unique, and tells an operator which process holds a job."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class RedisAsrWorker:
    """One consumer of both job streams; ``run()`` until ``stop_event`` is set."""

    def __init__(
        self,
        redis: Any,
        transcriber: Transcriber,
        *,
        stream: str,
        group: str,
        consumer: str | None = None,
        claim_idle_ms: int = 4_000,
        block_ms: int = 1_000,
        max_deliveries: int = 3,
        record_batch: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.transcriber = transcriber
        self.keys = JobKeys(stream, group)
        self.consumer = consumer or consumer_name()
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.max_deliveries = max_deliveries
        self.record_batch = max(1, record_batch)
        self._clock = clock
        self._last_sweep = 0.0
        self.processed = 0
        self.dropped = 0
        self.record_batches: list[int] = []  # size of each batch of record passes run

    # ---- taking jobs -------------------------------------------------------------

    async def _claim(self, stream: str, count: int = 1) -> list[Message]:
        """Jobs of ``stream`` left pending by a silent worker for ``claim_idle_ms``."""
        reply = await self.redis.xautoclaim(
            stream,
            self.keys.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=count,
        )
        return [(stream, mid, fields) for mid, fields in reply[1] if fields]

    async def _read(
        self, streams: dict[str, str], block: int | None, count: int = 1
    ) -> list[Message]:
        reply = await self.redis.xreadgroup(
            self.keys.group, self.consumer, streams, count=count, block=block
        )
        messages: list[Message] = []
        for stream, items in reply or []:
            name = stream.decode() if isinstance(stream, bytes) else str(stream)
            messages += [(name, mid, fields) for mid, fields in items if fields]
        # partials are best effort: acknowledged when read, never claimed by another worker
        for name, mid, _ in messages:
            if name == self.keys.partials:
                await self._forget(name, mid)
        return sorted(messages, key=lambda m: m[0] != self.keys.finals)

    async def _records(self) -> list[Message]:
        """Record passes to run together: abandoned ones first, then new ones."""
        jobs = await self._claim(self.keys.records, self.record_batch)
        if len(jobs) < self.record_batch:
            jobs += await self._read(
                {self.keys.records: ">"}, None, count=self.record_batch - len(jobs)
            )
        return jobs

    async def next_jobs(self) -> list[Message]:
        """The most urgent work: abandoned finals, new finals, new partials, record passes."""
        await self._sweep_partials()
        return (
            await self._claim(self.keys.finals)
            or await self._read({self.keys.finals: ">"}, None)
            or await self._read({self.keys.partials: ">"}, None)
            or await self._records()
            or await self._read({self.keys.finals: ">", self.keys.partials: ">"}, self.block_ms)
        )

    async def _sweep_partials(self) -> None:
        """Drop partials a worker died between reading and acknowledging (rare)."""
        now = self._clock()
        if now - self._last_sweep < self.claim_idle_ms / 1000:
            return
        self._last_sweep = now
        reply = await self.redis.xautoclaim(
            self.keys.partials,
            self.keys.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=100,
            justid=True,
        )
        # redis-py answers JUSTID with the bare list of ids
        for mid in reply:
            await self._forget(self.keys.partials, mid)

    # ---- doing jobs --------------------------------------------------------------

    async def _forget(self, stream: str, message_id: bytes) -> None:
        # Acknowledged and deleted in one MULTI/EXEC: a worker stopped in between used to
        # leave an acknowledged job in the stream (and a reader saw it for a round trip).
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, self.keys.group, message_id)
            pipe.xdel(stream, message_id)
            await pipe.execute()

    async def _reply(self, job_id: str, body: str) -> None:
        key = self.keys.reply(job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, body)
            pipe.expire(key, REPLY_TTL_S)
            await pipe.execute()

    async def _deliveries(self, message_id: bytes, stream: str | None = None) -> int:
        rows = await self.redis.xpending_range(
            stream or self.keys.finals, self.keys.group, min=message_id, max=message_id, count=1
        )
        return int(rows[0]["times_delivered"]) if rows else 1

    async def _keep_claimed(self, message_ids: list[bytes], stream: str | None = None) -> None:
        """Reset the jobs' idle time so live workers do not take a slow pass away."""
        while True:
            await asyncio.sleep(self.claim_idle_ms / 3000)
            await self.redis.xclaim(
                stream or self.keys.finals,
                self.keys.group,
                self.consumer,
                min_idle_time=0,
                message_ids=message_ids,
                justid=True,
            )

    async def _transcribe(self, job: RemoteJob, message_id: bytes, final: bool) -> str:
        heartbeat = asyncio.create_task(self._keep_claimed([message_id])) if final else None
        try:
            inp = job.inp
            long = getattr(self.transcriber, "transcribe_long", None)
            if inp.long and long is not None:
                hyp = await asyncio.to_thread(
                    long, inp.audio, inp.prompt, inp.language, inp.beam_size, inp.hotwords
                )
            elif inp.hotwords:  # engines that take a vocabulary (WhisperEngine)
                transcribe: Any = self.transcriber.transcribe
                hyp = await asyncio.to_thread(
                    lambda: transcribe(
                        inp.audio,
                        inp.prompt,
                        inp.language,
                        inp.beam_size,
                        inp.window_s,
                        hotwords=inp.hotwords,
                    )
                )
            else:
                hyp = await asyncio.to_thread(
                    self.transcriber.transcribe,
                    inp.audio,
                    inp.prompt,
                    inp.language,
                    inp.beam_size,
                    inp.window_s,
                )
            return answer(job.job_id, self.consumer, hypothesis=hyp)
        except Exception as exc:
            log.exception("transcription pass failed", extra={"job": job.job_id})
            return answer(job.job_id, self.consumer, error=f"{type(exc).__name__}: {exc}")
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await heartbeat

    async def handle(self, stream: str, message_id: bytes, fields: dict[bytes, bytes]) -> None:
        """Run one pass and answer it; a final is acknowledged only after its answer."""
        job = decode_job(fields)
        final = stream == self.keys.finals and job.priority == Priority.FINAL
        if self._clock() > job.deadline:
            # nobody waits for it any more (a stale partial, or a final the server gave up on)
            self.dropped += 1
            await self._reply(job.job_id, answer(job.job_id, self.consumer, dropped=True))
        elif final and await self._deliveries(message_id) > self.max_deliveries:
            await self._reply(
                job.job_id,
                answer(
                    job.job_id,
                    self.consumer,
                    error=f"pass abandoned by {self.max_deliveries} workers",
                ),
            )
        else:
            await self._reply(job.job_id, await self._transcribe(job, message_id, final))
            self.processed += 1
        if stream == self.keys.finals:
            await self._forget(stream, message_id)

    async def handle_records(self, messages: list[Message]) -> None:
        """Run record passes together (one window of each per model call) and answer each."""
        stream = self.keys.records
        runnable: list[tuple[bytes, RemoteJob]] = []
        for _, message_id, fields in messages:
            job = decode_job(fields)
            if self._clock() > job.deadline:
                self.dropped += 1
                await self._reply(job.job_id, answer(job.job_id, self.consumer, dropped=True))
            elif await self._deliveries(message_id, stream) > self.max_deliveries:
                error = f"pass abandoned by {self.max_deliveries} workers"
                await self._reply(job.job_id, answer(job.job_id, self.consumer, error=error))
            else:
                runnable.append((message_id, job))
                continue
            await self._forget(stream, message_id)
        if not runnable:
            return
        held = [mid for mid, _ in runnable]
        heartbeat = asyncio.create_task(self._keep_claimed(held, stream))
        try:
            results = await asyncio.to_thread(
                run_long_batch, self.transcriber, [job.inp for _, job in runnable]
            )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat
        self.record_batches.append(len(runnable))
        for (message_id, job), result in zip(runnable, results, strict=True):
            if isinstance(result, Hypothesis):
                body = answer(job.job_id, self.consumer, hypothesis=result)
                self.processed += 1
            else:
                log.warning("record pass failed", extra={"job": job.job_id,
                                                         "error": type(result).__name__})
                body = answer(job.job_id, self.consumer,
                              error=f"{type(result).__name__}: {result}")
            await self._reply(job.job_id, body)
            await self._forget(stream, message_id)

    async def _join_groups(self) -> None:
        for stream in (self.keys.finals, self.keys.partials, self.keys.records):
            await ensure_group(self.redis, stream, self.keys.group)
            # visible in XINFO CONSUMERS from now on (Redis 7.0 adds a reader only on delivery)
            await self.redis.xgroup_createconsumer(stream, self.keys.group, self.consumer)

    async def run(self, stop_event: asyncio.Event) -> None:
        """Take and answer jobs until stopped."""
        await self._join_groups()
        while not stop_event.is_set():
            try:
                batch = await self.next_jobs()
            except Exception as exc:
                if "NOGROUP" in str(exc):
                    # Redis lost the streams (restarted without persistence, as in the compose
                    # file): make the groups again, or no job would ever be read
                    log.warning("transcription job streams are gone; creating them again")
                    with contextlib.suppress(Exception):
                        await self._join_groups()
                else:
                    log.exception("could not read transcription jobs; retrying")
                await asyncio.sleep(1.0)
                continue
            records = [m for m in batch if m[0] == self.keys.records]
            try:
                if records:
                    await self.handle_records(records)
            except Exception:
                # left pending: another worker (or this one) retries after claim_idle_ms
                log.exception("record transcription jobs failed")
            for stream, message_id, fields in batch:
                if stream == self.keys.records:
                    continue
                try:
                    await self.handle(stream, message_id, fields)
                except Exception:
                    # left pending: another worker (or this one) retries after claim_idle_ms.
                    # ("message" is a LogRecord attribute: as an extra it raised and killed
                    # the worker, as a Redis restart in bench/cluster.py showed)
                    log.exception("transcription job failed", extra={"job_message": message_id})
        await self._leave()

    async def _leave(self) -> None:
        """Remove this consumer from the group if it holds nothing (tidy XINFO output)."""
        with contextlib.suppress(Exception):
            pending = [
                row
                for stream in (self.keys.finals, self.keys.records)
                for row in await self.redis.xpending_range(
                    stream, self.keys.group, min="-", max="+", count=1,
                    consumername=self.consumer,
                )
            ]
            if not pending:
                for stream in (self.keys.finals, self.keys.partials, self.keys.records):
                    await self.redis.xgroup_delconsumer(stream, self.keys.group, self.consumer)


def run_long_batch(
    transcriber: Transcriber, inputs: list[PassInput]
) -> list[Hypothesis | Exception]:
    """Long-form passes together when the engine batches them, else one after another.

    A pass that fails is returned as its exception; the others still get their words.
    """
    batch = getattr(transcriber, "transcribe_long_batch", None)
    if batch is not None and len(inputs) > 1:
        try:
            return list(batch(inputs))
        except Exception:
            log.exception("batched record passes failed; running them one by one")
    long = getattr(transcriber, "transcribe_long", None)
    results: list[Hypothesis | Exception] = []
    for inp in inputs:
        try:
            if long is not None:
                results.append(
                    long(inp.audio, inp.prompt, inp.language, inp.beam_size, inp.hotwords)
                )
            else:
                results.append(
                    transcriber.transcribe(inp.audio, inp.prompt, inp.language, inp.beam_size)
                )
        except Exception as exc:
            results.append(exc)
    return results


async def run_worker(
    settings: Settings,
    stop_event: asyncio.Event,
    transcriber_factory: Callable[[], Transcriber] | None = None,
) -> None:
    """``python run.py worker``: ``settings.asr.workers`` consumers sharing one model."""
    asr = settings.asr
    if transcriber_factory is None:
        from analysis.asr.engine import WhisperEngine

        engine = WhisperEngine.from_settings(asr, settings.models_dir)
        await asyncio.to_thread(engine.load)
        transcriber: Transcriber = engine
    else:
        transcriber = transcriber_factory()
    r = _redis(settings.redis_url)
    try:
        workers = [
            RedisAsrWorker(
                r,
                transcriber,
                stream=asr.redis_stream,
                group=asr.redis_group,
                claim_idle_ms=asr.claim_idle_ms,
                record_batch=asr.record_batch,
            )
            for _ in range(max(1, asr.workers))
        ]
        log.info(
            "transcription workers ready",
            extra={"consumers": [w.consumer for w in workers], "stream": asr.redis_stream},
        )
        await asyncio.gather(*(w.run(stop_event) for w in workers))
    finally:
        await r.aclose()
