"""Delivery signals in a live interview, and the switch that turns facial analysis off."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.services import SERVICES
from server.storage.models import EventRow
from tests.client_peer import CandidateClient, StillVideoTrack
from tests.server.helpers import consent, make_settings, sign_in
from tests.server.test_live_media import wait_for_event

FACIAL_TYPES = {"face_sampled", "face_delivery_summarized"}


def astronaut() -> Any:
    from skimage import data

    return data.astronaut()


async def run_interview(
    tmp_path: Path, mode: str, seconds: float = 4.0
) -> tuple[list[dict[str, Any]], Any]:
    app = create_app(make_settings(tmp_path, facial_analysis=mode))
    async with TestClient(TestServer(app)) as api:
        await sign_in(api)
        job = await (
            await api.post("/api/jobs", json={"title": "Support", "language": "en"})
        ).json()
        cand = await (await api.post("/api/candidates", json={"name": "Ana"})).json()
        iv = await (
            await api.post(
                "/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}
            )
        ).json()
        await consent(api, iv["invite_token"], ai=True)
        obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
        async with ClientSession() as http:
            c = CandidateClient(str(api.make_url("")), iv["invite_token"], http)
            await c.join(video=StillVideoTrack(astronaut()))
            await wait_for_event(api, iv["id"], "media_started")
            await obs.send_json({"type": "inject_question", "text": "Introduce yourself."})
            q = await c.next_message("show_question")
            await asyncio.sleep(seconds)
            await c.send({"type": "answer_done", "question_id": q["question_id"]})
            await wait_for_event(api, iv["id"], "answer_done")
            await asyncio.sleep(0.5)
            analysis = app[SERVICES].live.get(iv["id"]).analysis
            await c.leave()
        await obs.close()
        events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
        async with app[SERVICES].sessions() as session:
            from sqlalchemy import select

            rows = [r.payload for r in (await session.scalars(select(EventRow))).all()]
        return events + [dict(r) for r in rows], analysis


async def test_with_facial_analysis_off_no_frame_is_analysed_and_nothing_facial_is_stored(
    tmp_path: Path,
) -> None:
    events, analysis = await run_interview(tmp_path, "off")
    assert analysis is not None and analysis.face is None
    assert analysis.frames_analyzed == 0
    assert not FACIAL_TYPES & {e["type"] for e in events}
    assert not any("smile" in str(e) or "yaw" in str(e) for e in events)
    assert "voice_delivery_summarized" in {e["type"] for e in events}


@pytest.mark.model
async def test_full_mode_samples_the_face_and_summarises_the_answer(tmp_path: Path) -> None:
    events, analysis = await run_interview(tmp_path, "full")
    assert analysis.frames_analyzed >= 5
    samples = [e for e in events if e["type"] == "face_sampled"]
    assert samples and all(s["present"] for s in samples)
    [summary] = [e for e in events if e["type"] == "face_delivery_summarized"][:1]
    assert summary["share_present"] > 0.9
