"""Transcription workers fed through a Redis Stream consumer group (at-least-once).

The server submits one job per finished utterance (``RedisTranscriptionClient.submit``);
``run_worker`` processes in any number of processes read the group, transcribe, append a
``TranscriptFinal`` to the job's reply stream, then acknowledge. A worker that dies
leaves its job pending; after ``claim_idle_ms`` another worker claims it (XAUTOCLAIM).
A job can therefore be answered twice; the client yields each utterance_id once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.asr.engine import Transcriber
from analysis.asr.policy import join_words
from analysis.events import TranscriptFinal, WordTiming

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_STREAM = "candor:asr:jobs"
DEFAULT_GROUP = "asr-workers"
RESULT_MAXLEN = 10_000


def _redis(url: str) -> Any:
    import redis.asyncio as aioredis

    return aioredis.from_url(url)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def ensure_group(r: Any, stream: str, group: str) -> None:
    """Create the stream and its consumer group if missing."""
    from redis.exceptions import ResponseError

    try:
        await r.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def final_from_job(fields: dict[bytes, bytes], transcriber: Transcriber,
                   beam_size: int = 5) -> TranscriptFinal:
    """Transcribe one job (blocking) into its TranscriptFinal."""
    audio = np.frombuffer(fields[b"audio"], dtype="<i2").astype(np.float32) / 32768.0
    t0 = float(fields[b"t0"])
    language = _text(fields.get(b"language", b"")) or None
    prompt = _text(fields.get(b"prompt", b""))
    hyp = transcriber.transcribe(audio, prompt, language, beam_size)
    words = [
        WordTiming(word=w.text.strip(), start=round(t0 + w.start, 3), end=round(t0 + w.end, 3),
                   probability=round(w.probability, 4))
        for w in hyp.words
    ]
    return TranscriptFinal(
        interview_id=_text(fields[b"interview_id"]), t=t0 + len(audio) / 16_000,
        utterance_id=_text(fields[b"utterance_id"]), text=join_words(hyp.words),
        words=words, language=hyp.language, avg_logprob=hyp.avg_logprob,
        start=words[0].start if words else t0, end=words[-1].end if words else t0,
    )


class RedisAsrWorker:
    """One consumer of the job group; ``run()`` until ``stop_event`` is set."""

    def __init__(
        self, redis: Any, transcriber: Transcriber, *, stream: str = DEFAULT_STREAM,
        group: str = DEFAULT_GROUP, consumer: str | None = None, claim_idle_ms: int = 30_000,
        block_ms: int = 1_000, beam_size: int = 5,
    ) -> None:
        self.redis = redis
        self.transcriber = transcriber
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.beam_size = beam_size
        self.processed = 0

    async def _claim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Jobs left pending by a worker that went silent."""
        reply = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=self.claim_idle_ms,
            start_id="0-0", count=1,
        )
        return [(mid, fields) for mid, fields in reply[1] if fields]

    async def _read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        reply = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=1, block=self.block_ms
        )
        return [item for _, items in reply or [] for item in items]

    async def handle(self, message_id: bytes, fields: dict[bytes, bytes]) -> None:
        """Transcribe, publish the final, then acknowledge (so a crash means a retry)."""
        final = await asyncio.to_thread(final_from_job, fields, self.transcriber, self.beam_size)
        reply_to = _text(fields[b"reply_to"])
        await self.redis.xadd(
            reply_to, {"utterance_id": final.utterance_id, "event": final.model_dump_json()},
            maxlen=RESULT_MAXLEN, approximate=True,
        )
        await self.redis.xack(self.stream, self.group, message_id)
        self.processed += 1

    async def run(self, stop_event: asyncio.Event) -> None:
        """Claim abandoned jobs first, then read new ones, until stopped."""
        await ensure_group(self.redis, self.stream, self.group)
        while not stop_event.is_set():
            batch = await self._claim() or await self._read()
            for message_id, fields in batch:
                try:
                    await self.handle(message_id, fields)
                except Exception:
                    # left pending: another worker (or this one) retries after claim_idle_ms
                    log.exception("transcription job failed", extra={"job": _text(message_id)})


async def run_worker(
    settings: Settings, stop_event: asyncio.Event,
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
                r, transcriber, stream=asr.redis_stream, group=asr.redis_group,
                claim_idle_ms=asr.claim_idle_ms, beam_size=asr.final_beam_size,
            )
            for _ in range(max(1, asr.workers))
        ]
        await asyncio.gather(*(w.run(stop_event) for w in workers))
    finally:
        await r.aclose()


class RedisTranscriptionClient:
    """Submit finished utterances to the workers; ``results()`` yields each final once."""

    def __init__(
        self, redis_url: str, *, stream: str = DEFAULT_STREAM, group: str = DEFAULT_GROUP,
        reply_to: str | None = None, remember: int = 10_000,
    ) -> None:
        self.redis_url = redis_url
        self.stream = stream
        self.group = group
        self.reply_to = reply_to or f"{stream}:results:{uuid.uuid4().hex}"
        self._remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._last_id = "0-0"
        self._redis: Any = None
        self.duplicates_dropped = 0

    async def start(self) -> None:
        """Connect and make sure the job group exists."""
        if self._redis is None:
            self._redis = _redis(self.redis_url)
            await ensure_group(self._redis, self.stream, self.group)

    async def aclose(self) -> None:
        """Disconnect (the reply stream is left for Redis to expire)."""
        if self._redis is not None:
            await self._redis.expire(self.reply_to, 3600)
            await self._redis.aclose()
            self._redis = None

    async def __aenter__(self) -> RedisTranscriptionClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def submit(
        self, utterance_id: str, interview_id: str, audio: np.ndarray, t0: float,
        language: str | None = None, prompt: str = "",
    ) -> str:
        """Queue one utterance (16 kHz mono float32 starting at interview time ``t0``)."""
        await self.start()
        pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2")
        message_id = await self._redis.xadd(self.stream, {
            "utterance_id": utterance_id, "interview_id": interview_id, "t0": repr(float(t0)),
            "language": language or "", "prompt": prompt, "audio": pcm.tobytes(),
            "reply_to": self.reply_to,
        })
        return _text(message_id)

    def _first_time(self, utterance_id: str) -> bool:
        if utterance_id in self._seen:
            self.duplicates_dropped += 1
            return False
        self._seen[utterance_id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return True

    async def results(self, block_ms: int = 1_000) -> AsyncIterator[TranscriptFinal]:
        """Finals in arrival order, each utterance_id once (duplicates from retries dropped)."""
        await self.start()
        while True:
            reply = await self._redis.xread({self.reply_to: self._last_id}, block=block_ms)
            for _, items in reply or []:
                for message_id, fields in items:
                    self._last_id = _text(message_id)
                    final = TranscriptFinal.model_validate_json(fields[b"event"])
                    if self._first_time(final.utterance_id):
                        yield final
