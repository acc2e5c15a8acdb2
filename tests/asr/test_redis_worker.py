"""Worker mode against the real Redis: a killed worker's utterance is finished by another,
and the consumer sees each final once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from analysis.asr.redis_worker import RedisTranscriptionClient, final_from_job
from analysis.events import TranscriptFinal

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"

pytestmark = [pytest.mark.redis]


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")


def start_worker(
    mode: str, stream: str, group: str, models_dir: Path, marker: Path | None = None
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "tests.asr.worker_proc",
        "--mode",
        mode,
        "--stream",
        stream,
        "--group",
        group,
        "--claim-idle-ms",
        "1500",
        "--models-dir",
        str(models_dir),
    ]
    if marker is not None:
        cmd += ["--marker", str(marker)]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


async def first_final(client: RedisTranscriptionClient, within: float) -> TranscriptFinal:
    async with asyncio.timeout(within):
        async for final in client.results(block_ms=500):
            return final
    raise AssertionError("results ended")


@pytest.mark.model
async def test_a_killed_workers_utterance_is_transcribed_by_another_once(
    espeak_speech: np.ndarray, models_dir: Path, tmp_path: Path
) -> None:
    _redis_or_skip()
    name = f"candor:test:asr:{uuid.uuid4().hex[:8]}"
    group = "asr-test"
    marker = tmp_path / "busy"
    hanging = start_worker("hang", name, group, models_dir, marker)
    rescuer: subprocess.Popen[bytes] | None = None
    client = RedisTranscriptionClient(REDIS_URL, stream=name, group=group)
    try:
        await client.start()
        await client.submit("iv-u0001", "iv", espeak_speech, t0=12.0, language="en")
        for _ in range(200):
            if marker.exists():
                break
            await asyncio.sleep(0.1)
        assert marker.exists(), "the first worker never took the job"
        hanging.send_signal(signal.SIGKILL)
        hanging.wait(timeout=10)

        rescuer = start_worker("real", name, group, models_dir)
        final = await first_final(client, within=90)
        assert final.utterance_id == "iv-u0001"
        assert "country" in final.text.lower()
        assert final.words and final.words[0].start >= 12.0

        # a late duplicate answer for the same utterance (a retried job) is dropped
        r = client._redis
        raw = await r.xrange(client.reply_to)
        await r.xadd(client.reply_to, raw[0][1])
        await client.submit("iv-u0002", "iv", espeak_speech[:16_000], t0=20.0, language="en")
        second = await first_final(client, within=60)
        assert second.utterance_id == "iv-u0002"
        assert client.duplicates_dropped == 1
        pending = await r.xpending(name, group)
        assert pending["pending"] == 0
    finally:
        for proc in (hanging, rescuer):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
        if client._redis is not None:
            await client._redis.delete(name, client.reply_to)
        await client.aclose()


def test_a_job_becomes_a_final_on_the_interview_clock() -> None:
    class Fake:
        def transcribe(self, audio, prompt="", language=None, beam_size=1):  # type: ignore[no-untyped-def]
            from analysis.asr.engine import Hypothesis
            from analysis.asr.policy import Word

            return Hypothesis(
                [Word(" hello", 0.5, 0.9, 0.9), Word(" there", 1.0, 1.4, 0.8)],
                language=language or "en",
                avg_logprob=-0.2,
                duration=2.0,
            )

    pcm = (np.zeros(32_000)).astype("<i2").tobytes()
    final = final_from_job(
        {
            b"audio": pcm,
            b"t0": b"30.0",
            b"language": b"en",
            b"prompt": b"",
            b"interview_id": b"iv",
            b"utterance_id": b"iv-u0009",
            b"reply_to": b"x",
        },
        Fake(),
    )
    assert final.text == "hello there"
    assert (final.start, final.end) == (30.5, 31.4)
    assert final.utterance_id == "iv-u0009"
