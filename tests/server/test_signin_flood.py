"""A login flood does not slow a live interview: hashing runs off the event loop (issue 11).

A real aiortc candidate streams audio to the real app; the recorder counts the frames it
receives. The frame rate during a burst of 50 sign-ins (each a full argon2id check) must stay
within 5 % of the rate in a quiet period of the same length. Rates are frames per second of the
app's clock over the whole interval, so a stalled loop (frames held back) shows as a lower count.
"""

from __future__ import annotations

import asyncio
import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, DummyCookieJar, web
from aiohttp.test_utils import TestClient

from server.services import SERVICES, Services
from tests.client_peer import CandidateClient
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, consent, new_interview
from tests.server.test_live_media import wait_for_event

Client = TestClient[web.Request, web.Application]
LOGINS = 50
INTERVAL = 0.5  # seconds of the app clock per counted interval


def tone(path: Path, seconds: float) -> Path:
    """A 440 Hz tone, 48 kHz mono (the player paces it in real time)."""
    rate = 48_000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = (
            int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(rate * seconds))
        )
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def received(svc: Services, iid: str) -> int:
    """Frames the recorder of the interview has received so far."""
    session = svc.live.find(iid)
    assert session is not None and session.candidate_connected
    frames, _dropped = session.recorder_counts()
    return frames


@dataclass
class Rates:
    """Frame rates while some work ran: over the whole interval and per half second."""

    whole: float
    intervals: list[float]


async def frames_during(svc: Services, iid: str, work: asyncio.Future[Any]) -> Rates:
    """Frames per second of the app clock received while ``work`` runs."""
    samples = [(svc.now(), received(svc, iid))]
    while not work.done():
        await asyncio.wait({work}, timeout=0.1)
        samples.append((svc.now(), received(svc, iid)))
    intervals, (start, first) = [], samples[0]
    for at, frames in samples[1:]:
        if (at - start).total_seconds() >= INTERVAL:
            intervals.append((frames - first) / (at - start).total_seconds())
            start, first = at, frames
    (t0, f0), (t1, f1) = samples[0], samples[-1]
    return Rates((f1 - f0) / (t1 - t0).total_seconds(), intervals)


async def login_burst(base: str) -> list[int]:
    """50 sign-ins at once from another client (correct password: no throttling)."""
    async with ClientSession(cookie_jar=DummyCookieJar()) as http:

        async def one() -> int:
            async with http.post(
                f"{base}/api/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            ) as resp:
                return resp.status

        return list(await asyncio.gather(*(one() for _ in range(LOGINS))))


async def test_a_login_flood_keeps_audio_frames_flowing(admin: Client, tmp_path: Path) -> None:
    assert admin.app is not None
    svc = admin.app[SERVICES]
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    base = str(admin.make_url("")).rstrip("/")
    async with ClientSession() as http:
        cand = CandidateClient(base, iv["invite_token"], http)
        await cand.join(audio_file=tone(tmp_path / "tone.wav", 40.0))
        await wait_for_event(admin, iv["id"], "media_started")
        await asyncio.sleep(1.0)  # past the start-up transient
        started = svc.now()
        burst = asyncio.ensure_future(login_burst(base))
        flood = await frames_during(svc, iv["id"], burst)
        assert set(burst.result()) == {200}
        length = max(2.0, (svc.now() - started).total_seconds())
        quiet = await frames_during(svc, iv["id"], asyncio.ensure_future(asyncio.sleep(length)))
        await cand.leave()
    assert quiet.whole > 40  # 50 audio frames of 20 ms per second
    assert abs(flood.whole - quiet.whole) <= 0.05 * quiet.whole, (flood, quiet)
    # Held-back frames arrive in a bunch later, so the whole rate alone can hide a stalled
    # loop; no half second of the flood may fall to half the rate (hashing on the loop: 0-26 /s).
    assert min(flood.intervals) >= 0.5 * quiet.whole, (flood, quiet)
