"""Readiness checks: database, Redis (when used), speech model, free disk for recordings.

Messages are fixed sentences that say what to check; no URL, host or secret is echoed
(the endpoint needs no sign-in).
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass

from sqlalchemy import text

from server.services import Services

CHECK_TIMEOUT = 3.0


@dataclass(frozen=True)
class Check:
    """One readiness check's outcome."""

    ok: bool
    detail: str = ""


async def database(svc: Services) -> Check:
    """The database answers a trivial query."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), svc.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return Check(
            False,
            f"cannot reach the database ({type(exc).__name__}): check CANDOR_DATABASE_URL "
            "and that the database server is running",
        )
    return Check(True)


def uses_redis(svc: Services) -> bool:
    """Whether this process needs Redis (the bus or worker-mode transcription)."""
    s = svc.settings
    return s.bus == "redis" or (s.asr.enabled and s.asr.mode == "redis")


async def redis(svc: Services) -> Check:
    """Redis answers PING (only asked when configured)."""
    from redis.asyncio import Redis

    client = Redis.from_url(
        svc.settings.redis_url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await client.ping()
    except Exception as exc:
        return Check(
            False,
            f"cannot reach Redis ({type(exc).__name__}): check CANDOR_REDIS_URL and that "
            "Redis is running",
        )
    finally:
        await client.aclose()
    return Check(True)


def models(svc: Services) -> Check:
    """The speech model is loaded when transcription is on and preloaded."""
    asr = svc.settings.asr
    if not asr.enabled:
        return Check(True, "transcription is off")
    if getattr(svc.transcribers, "scheduler", None) is not None:
        return Check(True)
    if not asr.preload:
        return Check(True, "the model loads at the first interview (CANDOR_ASR__PRELOAD=false)")
    return Check(
        False,
        "the speech model is still loading (or failed to load: see the log; "
        "`python run.py prepare-models` prepares it)",
    )


def disk(svc: Services) -> Check:
    """The recordings folder's disk has at least ``readyz_min_free_mb`` free."""
    need = svc.settings.readyz_min_free_mb
    try:
        free_mb = shutil.disk_usage(svc.settings.recordings_dir).free // (1024 * 1024)
    except OSError as exc:
        return Check(False, f"cannot read the recordings folder ({type(exc).__name__})")
    if free_mb < need:
        return Check(
            False,
            f"{free_mb} MB free for recordings, fewer than {need} MB "
            "(CANDOR_READYZ_MIN_FREE_MB): free disk space or move CANDOR_DATA_DIR",
        )
    return Check(True, f"{free_mb} MB free")


async def readiness(svc: Services) -> dict[str, Check]:
    """Every check that applies to this process, by name."""
    checks = {"database": await database(svc)}
    if uses_redis(svc):
        checks["redis"] = await redis(svc)
    checks["models"] = models(svc)
    checks["disk"] = disk(svc)
    return checks
