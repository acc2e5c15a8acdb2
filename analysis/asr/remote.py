"""Whisper passes run by `run.py worker` processes, reached through Redis Streams.

In worker mode the server keeps VAD, utterance cutting and the commit policy
(StreamingTranscriber + AsrScheduler, the in-process code path); only its engine differs:
``RedisEngine.transcribe_pass`` turns each pass into a job on one of two streams and waits
for the answer in the scheduler thread that asked for it.

* ``{stream}``: final-priority passes. Workers read it first, acknowledge after answering
  (at-least-once) and claim jobs left pending by a dead worker (XAUTOCLAIM).
* ``{stream}:partial``: partial passes, best effort. A partial not started before its
  deadline is dropped (the next one covers newer audio); a dead worker's partial is lost.
* ``{stream}:reply:{job_id}``: a list holding the answer; the server pops the first one
  and never reads the key again, so a duplicate answer after a redelivery is ignored
  (the key expires).

No answer within the bound: a final pass raises ``RemotePassTimeout`` (the stream reports
``AnalyzerFailed`` and finalizes the utterance from its last hypothesis); a partial pass
is dropped (``PassDropped``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.asr.engine import SAMPLE_RATE, Hypothesis
from analysis.asr.policy import Word
from analysis.asr.scheduler import PassDropped, PassInput, Priority

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

REPLY_TTL_S = 120
JOB_STREAM_MAXLEN = 1_000  # jobs are deleted once answered; this only bounds a runaway queue


class RemotePassError(Exception):
    """A worker could not transcribe a pass (its message names the cause)."""


class RemotePassTimeout(RemotePassError):
    """No worker answered a final pass in time (none running, or all stuck)."""


@dataclass(frozen=True)
class JobKeys:
    """Redis key names shared by the server and the workers."""

    stream: str
    group: str

    @property
    def finals(self) -> str:
        """Stream of final-priority passes (acknowledged after the answer, claimable)."""
        return self.stream

    @property
    def partials(self) -> str:
        """Stream of partial passes (best effort, dropped when stale)."""
        return f"{self.stream}:partial"

    @property
    def records(self) -> str:
        """Stream of transcript-of-record passes (read when nothing live waits)."""
        return f"{self.stream}:record"

    def reply(self, job_id: str) -> str:
        """The list where the answer to ``job_id`` is pushed."""
        return f"{self.stream}:reply:{job_id}"


# ---- wire format -------------------------------------------------------------------


def encode_job(job_id: str, inp: PassInput, priority: Priority, deadline: float) -> dict[str, Any]:
    """Stream fields of one pass (audio as 16-bit PCM; deadline is Unix time)."""
    pcm = (np.clip(np.asarray(inp.audio, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2")
    return {
        "job_id": job_id,
        "priority": priority.name.lower(),
        "audio": pcm.tobytes(),
        "prompt": inp.prompt,
        "language": inp.language or "",
        "beam_size": str(inp.beam_size),
        "window_s": "" if inp.window_s is None else repr(inp.window_s),
        "deadline": repr(deadline),
        "hotwords": inp.hotwords,
        "long": "1" if inp.long else "",
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class RemoteJob:
    """A pass as a worker sees it."""

    job_id: str
    priority: Priority
    inp: PassInput
    deadline: float

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return len(self.inp.audio) / SAMPLE_RATE


def decode_job(fields: dict[bytes, bytes]) -> RemoteJob:
    """The pass described by stream fields written by ``encode_job``."""
    audio = np.frombuffer(fields[b"audio"], dtype="<i2").astype(np.float32) / 32768.0
    return RemoteJob(
        job_id=_text(fields[b"job_id"]),
        priority=Priority[_text(fields[b"priority"]).upper()],
        inp=PassInput(
            audio=audio,
            prompt=_text(fields.get(b"prompt", b"")),
            language=_text(fields.get(b"language", b"")) or None,
            beam_size=int(fields.get(b"beam_size", b"1")),
            window_s=float(fields[b"window_s"]) if fields.get(b"window_s") else None,
            hotwords=_text(fields.get(b"hotwords", b"")),
            long=bool(fields.get(b"long")),
        ),
        deadline=float(fields.get(b"deadline", b"inf")),
    )


def hypothesis_to_json(hyp: Hypothesis) -> dict[str, Any]:
    """A hypothesis as plain JSON values."""
    return {
        "words": [[w.text, w.start, w.end, w.probability] for w in hyp.words],
        "language": hyp.language,
        "language_probability": hyp.language_probability,
        "avg_logprob": hyp.avg_logprob,
        "duration": hyp.duration,
    }


def hypothesis_from_json(data: dict[str, Any]) -> Hypothesis:
    """The inverse of ``hypothesis_to_json``."""
    return Hypothesis(
        words=[Word(str(t), float(s), float(e), float(p)) for t, s, e, p in data["words"]],
        language=str(data["language"]),
        language_probability=float(data["language_probability"]),
        avg_logprob=float(data["avg_logprob"]),
        duration=float(data["duration"]),
    )


def answer(
    job_id: str,
    worker: str,
    *,
    hypothesis: Hypothesis | None = None,
    error: str | None = None,
    dropped: bool = False,
) -> str:
    """The JSON a worker pushes to the reply list."""
    body: dict[str, Any] = {"job_id": job_id, "worker": worker}
    if hypothesis is not None:
        body["hypothesis"] = hypothesis_to_json(hypothesis)
    if error is not None:
        body["error"] = error
    if dropped:
        body["dropped"] = True
    return json.dumps(body)


def ensure_group_sync(r: Any, stream: str, group: str) -> None:
    """Create the stream and its consumer group if missing (synchronous client)."""
    from redis.exceptions import ResponseError

    try:
        r.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


# ---- server side -------------------------------------------------------------------


@dataclass
class RemoteMetrics:
    """What the remote engine saw (beside the scheduler's AsrMetrics)."""

    jobs_sent: int = 0
    answers: int = 0
    final_timeouts: int = 0
    partials_dropped: int = 0
    errors: int = 0


class RedisEngine:
    """A Transcriber whose passes run on `run.py worker` processes (blocking calls).

    Use one scheduler thread per pass that may be outstanding (about the number of
    worker consumers); each thread blocks on its own reply key.
    """

    def __init__(
        self,
        redis_url: str,
        stream: str,
        group: str,
        *,
        partial_ttl_s: float = 2.0,
        partial_wait_s: float = 6.0,
        final_timeout_s: float = 25.0,
        poll_s: float = 0.5,
        record_timeout_s: float = 600.0,
    ) -> None:
        self.record_timeout_s = record_timeout_s
        self.redis_url = redis_url
        self.keys = JobKeys(stream, group)
        self.partial_ttl_s = partial_ttl_s
        self.partial_wait_s = partial_wait_s
        self.final_timeout_s = final_timeout_s
        self.poll_s = poll_s
        self.metrics = RemoteMetrics()
        self.answered_by: OrderedDict[str, str] = OrderedDict()  # job_id → worker, recent
        self._redis: Any = None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisEngine:
        """An engine for ``settings.redis_url`` and the configured stream and group."""
        asr = settings.asr
        claim_s = asr.claim_idle_ms / 1000
        # a dead worker's final is claimed after claim_idle_ms, then run again
        return cls(
            settings.redis_url,
            asr.redis_stream,
            asr.redis_group,
            final_timeout_s=max(25.0, 3 * claim_s + 15.0),
        )

    def start(self) -> None:
        """Connect and create the job streams and their consumer group (blocking)."""
        from analysis.redis_client import sync_redis

        if self._redis is None:
            self._redis = sync_redis(self.redis_url)
        for stream in (self.keys.finals, self.keys.partials, self.keys.records):
            ensure_group_sync(self._redis, stream, self.keys.group)
        self._closed.clear()

    def close(self) -> None:
        """Stop waiting for answers: waiting passes end as dropped within ``poll_s``."""
        self._closed.set()

    def transcribe(
        self,
        audio: np.ndarray,
        prompt: str = "",
        language: str | None = None,
        beam_size: int = 1,
        window_s: float | None = None,
        hotwords: str = "",
    ) -> Hypothesis:
        """One pass at final priority (the Transcriber protocol)."""
        return self.transcribe_pass(
            PassInput(audio, prompt, language, beam_size, window_s, hotwords=hotwords),
            Priority.FINAL,
        )

    def transcribe_pass(self, inp: PassInput, priority: Priority) -> Hypothesis:
        """Queue the pass for the workers and wait for the first answer (blocking)."""
        if self._redis is None:
            self.start()
        if priority == Priority.RECORD:
            return self._record_pass(inp)
        final = priority == Priority.FINAL
        job_id = uuid.uuid4().hex
        deadline = time.time() + (self.final_timeout_s if final else self.partial_ttl_s)
        self._redis.xadd(
            self.keys.finals if final else self.keys.partials,
            encode_job(job_id, inp, priority, deadline),
            maxlen=JOB_STREAM_MAXLEN,
            approximate=True,
        )
        with self._lock:
            self.metrics.jobs_sent += 1
        body = self._wait(job_id, self.final_timeout_s if final else self.partial_wait_s)
        if body is not None:
            self._record(job_id, body)
        if body is None or body.get("dropped"):
            if final and not self._closed.is_set():
                # a worker drops a final only past its deadline (the server gave up, or clocks
                # disagree): report it like silence, never degrade without a word
                with self._lock:
                    self.metrics.final_timeouts += 1
                log.warning(
                    "no transcription worker answered a final pass",
                    extra={"job": job_id, "waited_s": self.final_timeout_s},
                )
                raise RemotePassTimeout(f"no worker answered within {self.final_timeout_s:.0f} s")
            with self._lock:
                self.metrics.partials_dropped += 1
            raise PassDropped(job_id)
        if "error" in body:
            with self._lock:
                self.metrics.errors += 1
            raise RemotePassError(str(body["error"]))
        return hypothesis_from_json(body["hypothesis"])

    def _record_pass(self, inp: PassInput) -> Hypothesis:
        """A long-form pass on the record stream; no answer in time raises (live is used)."""
        job_id = uuid.uuid4().hex
        deadline = time.time() + self.record_timeout_s
        self._redis.xadd(
            self.keys.records,
            encode_job(job_id, inp, Priority.RECORD, deadline),
            maxlen=JOB_STREAM_MAXLEN,
            approximate=True,
        )
        with self._lock:
            self.metrics.jobs_sent += 1
        body = self._wait(job_id, self.record_timeout_s)
        if body is None or body.get("dropped"):
            raise RemotePassTimeout(
                f"no worker ran the record pass in {self.record_timeout_s:.0f} s"
            )
        self._record(job_id, body)
        if "error" in body:
            with self._lock:
                self.metrics.errors += 1
            raise RemotePassError(str(body["error"]))
        return hypothesis_from_json(body["hypothesis"])

    def _wait(self, job_id: str, within: float) -> dict[str, Any] | None:
        key = self.keys.reply(job_id)
        until = time.monotonic() + within
        while not self._closed.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return None
            item = self._redis.blpop([key], timeout=max(0.01, min(self.poll_s, left)))
            if item is not None:
                return dict(json.loads(item[1]))
        return None

    def _record(self, job_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.metrics.answers += 1
            self.answered_by[job_id] = str(body.get("worker", ""))
            while len(self.answered_by) > 256:
                self.answered_by.popitem(last=False)
