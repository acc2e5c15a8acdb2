"""Real speech over real WebRTC into the real model: transcripts reach observers and the log."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.media_files import duration_of, speech_file
from tests.server.helpers import consent, make_settings, new_interview, sign_in
from tests.server.test_health_metrics import samples

pytestmark = pytest.mark.model


def words(text: str) -> str:
    return re.sub(r"[^a-z ]+", "", text.lower())


async def test_jfk_over_webrtc_yields_finals_with_the_famous_line(tmp_path: Path) -> None:
    audio = speech_file(tmp_path)
    app = create_app(make_settings(tmp_path, asr={"enabled": True, "preload": False}))
    async with TestClient(TestServer(app)) as api:
        await sign_in(api)
        iv = await new_interview(api)
        await consent(api, iv["invite_token"], ai=True)
        obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
        seen: list[dict[str, Any]] = []

        async def watch() -> None:
            async for msg in obs:
                data = msg.json()
                if data["type"] == "event" and data["event"]["type"].startswith("transcript"):
                    seen.append(data["event"])

        watcher = asyncio.create_task(watch())
        async with ClientSession() as http:
            cand = CandidateClient(str(api.make_url("")), iv["invite_token"], http)
            await cand.join(audio_file=audio, video=PatternVideoTrack())
            await asyncio.sleep(duration_of(audio) + 4.0)
            live = [e for e in seen if e["type"] == "transcript_final"]
            await cand.leave()
        await asyncio.sleep(1.0)
        watcher.cancel()
        await obs.close()
        for _ in range(100):  # the stream's last final may still be on its way to the log
            scraped = samples(await (await api.get("/metrics")).text())
            events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
            stored = sum(1 for e in events if e["type"] == "transcript_final")
            if scraped[("candor_transcription_finals_total", ())] == stored:
                break
            await asyncio.sleep(0.1)
    finals = [e for e in events if e["type"] == "transcript_final"]
    text = words(" ".join(f["text"] for f in finals))
    # Real speech (../shared) must give the famous line; the espeak-ng stand-in only the gist.
    line = "ask not what your country can do for you" if "jfk" in audio.name else "your country"
    assert line in text, text
    assert live, "observers saw finals while the candidate was still connected"
    assert any(e["type"] == "transcript_partial" for e in seen)
    ids = [f["utterance_id"] for f in finals]
    assert len(ids) == len(set(ids))
    # every final the stream emitted is counted for operators, and stored once
    assert scraped[("candor_transcription_finals_total", ())] == len(finals)
    assert scraped[
        ("candor_transcription_load_shedding_total", (("action", "final_degraded"),))
    ] == 0
    for f in finals:
        assert f["words"] and all(w["end"] >= w["start"] >= 0 for w in f["words"])
        assert f["language"] == "en"
