"""Worker mode end to end: the server cuts utterances, `run.py worker` processes transcribe.

Real Redis, real model in two worker processes, real WebRTC from an aiortc candidate. One
worker is killed while it holds a final-priority pass; the other claims and finishes it, and
the event log holds each final once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from analysis.asr.remote import JobKeys, RedisEngine
from server.app import create_app
from server.services import SERVICES
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.media_files import duration_of, speech_file
from tests.server.helpers import consent, make_settings, new_interview, sign_in

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
CLAIM_IDLE_MS = 2_000

pytestmark = [pytest.mark.model, pytest.mark.redis]


def words(text: str) -> str:
    return re.sub(r"[^a-z ]+", "", text.lower())


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    """An async client of the local Redis (skips when it is not running)."""
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError

    r = aioredis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await r.ping()
    except ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    yield r
    await r.aclose()


@pytest.fixture
async def keys(redis: Any) -> AsyncIterator[JobKeys]:
    """Job streams of this test run only; deleted afterwards."""
    k = JobKeys(f"candor:test:worker-mode:{uuid.uuid4().hex[:8]}", "asr-workers")
    yield k
    async for key in redis.scan_iter(match=f"{k.stream}*"):
        await redis.delete(key)


def start_worker(keys: JobKeys, models_dir: Path) -> subprocess.Popen[bytes]:
    """``python run.py worker`` configured by environment, as an operator would run it."""
    env = {
        **os.environ,
        "CANDOR_REDIS_URL": REDIS_URL,
        "CANDOR_ASR__MODE": "redis",
        "CANDOR_ASR__REDIS_STREAM": keys.stream,
        "CANDOR_ASR__REDIS_GROUP": keys.group,
        "CANDOR_ASR__CLAIM_IDLE_MS": str(CLAIM_IDLE_MS),
        "CANDOR_MODELS_DIR": str(models_dir),
    }
    return subprocess.Popen([sys.executable, "run.py", "worker"], cwd=ROOT, env=env)


async def wait_for_consumers(redis: Any, keys: JobKeys, count: int, within: float) -> None:
    """Workers join the group once their model is loaded."""
    from redis.exceptions import ResponseError

    async with asyncio.timeout(within):
        while True:
            try:
                if len(await redis.xinfo_consumers(keys.finals, keys.group)) >= count:
                    return
            except ResponseError:
                pass  # the stream or group does not exist yet
            await asyncio.sleep(0.2)


async def kill_a_worker_holding_a_final(
    redis: Any,
    keys: JobKeys,
    engine: RedisEngine,
    workers: list[subprocess.Popen[bytes]],
) -> tuple[str, subprocess.Popen[bytes]]:
    """Freeze the worker that holds a final-priority pass; if it has not answered, kill it."""
    while True:
        for row in await redis.xpending_range(keys.finals, keys.group, "-", "+", 10):
            holder = row["consumer"].decode()
            proc = next((p for p in workers if f"-{p.pid}-" in holder), None)
            entries = await redis.xrange(keys.finals, row["message_id"], row["message_id"])
            if proc is None or not entries:
                continue
            job_id = entries[0][1][b"job_id"].decode()
            proc.send_signal(signal.SIGSTOP)  # a frozen process cannot answer any more
            await asyncio.sleep(0.2)  # an answer sent just before would have arrived by now
            if job_id in engine.answered_by:
                proc.send_signal(signal.SIGCONT)  # it finished just before; wait for another
                continue
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return job_id, proc
        await asyncio.sleep(0.02)


async def test_a_killed_worker_loses_no_final_and_duplicates_none(
    tmp_path: Path, models_dir: Path, redis: Any, keys: JobKeys, shared_data: Path
) -> None:
    # Needs real speech with several utterances (jfk) so a final can be caught in flight.
    audio = speech_file(tmp_path)
    workers = [start_worker(keys, models_dir) for _ in range(2)]
    try:
        await wait_for_consumers(redis, keys, 2, within=60)
        settings = make_settings(
            tmp_path,
            redis_url=REDIS_URL,
            asr={
                "enabled": True,
                "preload": True,
                "mode": "redis",
                "workers": 2,
                "redis_stream": keys.stream,
                "redis_group": keys.group,
                "claim_idle_ms": CLAIM_IDLE_MS,
            },
        )
        app = create_app(settings)
        async with TestClient(TestServer(app)) as api:
            await sign_in(api)
            iv = await new_interview(api)
            await consent(api, iv["invite_token"], ai=True)
            async with ClientSession() as http:
                cand = CandidateClient(str(api.make_url("")), iv["invite_token"], http)
                await cand.join(audio_file=audio, video=PatternVideoTrack())
                until = asyncio.get_running_loop().time() + duration_of(audio) + 6.0
                transcribers = app[SERVICES].transcribers
                assert transcribers is not None
                scheduler = await transcribers.preload()  # the running one
                engine = scheduler.engine
                assert isinstance(engine, RedisEngine)
                killed_job, killed = await asyncio.wait_for(
                    kill_a_worker_holding_a_final(redis, keys, engine, workers),
                    timeout=duration_of(audio) + 10,
                )
                await asyncio.sleep(until - asyncio.get_running_loop().time())
                await cand.leave()
            await asyncio.sleep(1.0)
            events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
            pending = await redis.xpending(keys.finals, keys.group)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # in case it was left frozen
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)

    survivor = next(p for p in workers if p is not killed)
    assert str(survivor.pid) in engine.answered_by[killed_job], "the other worker finished it"
    finals = [e for e in events if e["type"] == "transcript_final"]
    ids = [f["utterance_id"] for f in finals]
    assert len(ids) == len(set(ids)), "each final once in the event log"
    text = words(" ".join(f["text"] for f in finals))
    # Real speech (../shared) must give the famous line; the espeak-ng stand-in only the gist.
    line = "ask not what your country can do for you" if "jfk" in audio.name else "your country"
    assert line in text, text
    assert not [e for e in events if e["type"] == "analyzer_failed"]
    assert engine.metrics.final_timeouts == 0
    assert pending["pending"] == 0
