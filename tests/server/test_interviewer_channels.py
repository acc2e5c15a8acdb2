"""The interview machine driven through the real candidate and observer channels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer

from analysis.events import TranscriptFinal
from server.app import create_app
from server.services import SERVICES
from server.session_inputs import AnalyzerResult
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import AppClient, consent, make_settings, sign_in
from tests.server.test_live_media import wait_for_event

FAST_PLAN = {"question_count": 3, "transcript_grace": 0, "include_practice": False}


class ScriptedClock:
    """Wall time that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


async def make_client(tmp_path: Path, clock: ScriptedClock, **overrides: Any) -> AppClient:
    app = create_app(make_settings(tmp_path, **overrides), now=clock)
    client = TestClient(TestServer(app))
    await client.start_server()
    await sign_in(client)
    return client


@pytest.fixture
async def api(tmp_path: Path, clock: ScriptedClock) -> AsyncIterator[AppClient]:
    client = await make_client(tmp_path, clock)
    yield client
    await client.close()


async def planned_interview(api: AppClient, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    job = await (
        await api.post(
            "/api/jobs",
            json={
                "title": "Software engineer",
                "language": "en",
                "template": "software_engineer",
                "plan_settings": plan or FAST_PLAN,
            },
        )
    ).json()
    cand = await (await api.post("/api/candidates", json={"name": "Han Meimei"})).json()
    resp = await api.post("/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]})
    iv = dict(await resp.json())
    await consent(api, iv["invite_token"])
    return iv


async def join(api: AppClient, http: ClientSession, token: str) -> CandidateClient:
    cand = CandidateClient(str(api.make_url("")), token, http)
    answer = await cand.join(video=PatternVideoTrack())
    # Media flowing means the peer connection is up (and there is something to record).
    iid = answer["interview_id"]
    async with asyncio.timeout(30):
        while True:
            events = await (await api.get(f"/api/interviews/{iid}/events")).json()
            if any(e["type"] == "media_started" and e["segment"] == cand.segment for e in events):
                return cand
            await asyncio.sleep(0.1)


async def test_a_three_question_interview_runs_to_completion(api: AppClient) -> None:
    iv = await planned_interview(api)
    async with ClientSession() as http:
        cand = await join(api, http, iv["invite_token"])
        greeting = await cand.next_message("show_greeting")
        assert greeting["text"]
        await cand.send({"type": "ready"})
        asked = []
        for _ in range(3):
            q = await cand.next_message("show_question")
            assert "by" not in q and "reason" not in q
            asked.append(q)
            await cand.send({"type": "answer_done", "question_id": q["question_id"]})
            await cand.next_message("show_acknowledgement")
        completion = await cand.next_message("show_completion")
        assert completion["next_steps"]
        await cand.next_message("ended")
    assert [q["progress"] for q in asked] == [
        "Question 1 of 3",
        "Question 2 of 3",
        "Question 3 of 3",
    ]
    events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
    kinds = [e["type"] for e in events]
    assert kinds.count("question_shown") == 3 and kinds.count("answer_done") == 3
    assert kinds.count("interview_ended") == 1
    assert "recording_finalized" in kinds
    assert (await api.get(f"/api/join/{iv['invite_token']}")).status == 410


async def test_reconnect_mid_answer_resumes_the_same_question(
    api: AppClient, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api)
    async with ClientSession() as http:
        first = await join(api, http, iv["invite_token"])
        await first.next_message("show_greeting")
        await first.send({"type": "ready"})
        q1 = await first.next_message("show_question")
        await first.send({"type": "answer_done", "question_id": q1["question_id"]})
        q2 = await first.next_message("show_question")
        clock.advance(20)  # 20 s into answering question 2 ...
        await first.leave(vanish=True)  # ... the network drops
        await wait_for_event(api, iv["id"], "candidate_left")
        clock.advance(60)  # away for a minute: not charged to the candidate
        second = await join(api, http, iv["invite_token"])
        resumed = await second.next_message("show_question")
        assert resumed["question_id"] == q2["question_id"] and resumed["resumed"] is True
        assert resumed["progress"] == "Question 2 of 3"
        assert resumed["time_left"] >= q2["time_limit"] - 21  # the minute away was not counted
        await second.leave()
    events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
    answered = [e for e in events if e["type"] == "answer_done"]
    assert [a["question_id"] for a in answered] == [q1["question_id"]]


async def test_two_simultaneous_injections_are_both_asked_in_order(api: AppClient) -> None:
    iv = await planned_interview(api)
    async with ClientSession() as http:
        cand = await join(api, http, iv["invite_token"])
        await cand.next_message("show_greeting")
        await cand.send({"type": "ready"})
        q1 = await cand.next_message("show_question")
        obs_a = await api.ws_connect(f"/ws/observer/{iv['id']}")
        obs_b = await api.ws_connect(f"/ws/observer/{iv['id']}")
        await asyncio.gather(
            obs_a.send_json(
                {"type": "inject_question", "text": "First observer question?", "position": "next"}
            ),
            obs_b.send_json(
                {"type": "inject_question", "text": "Second observer question?", "position": "next"}
            ),
        )
        await wait_for_event(api, iv["id"], "question_injected", 2)
        await cand.send({"type": "answer_done", "question_id": q1["question_id"]})
        shown = []
        for _ in range(2):
            q = await cand.next_message("show_question")
            shown.append(q["text"])
            await cand.send({"type": "answer_done", "question_id": q["question_id"]})
        await obs_a.close()
        await obs_b.close()
        await cand.leave()
    events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
    injected = [e for e in events if e["type"] == "question_injected"]
    assert [e["text"] for e in injected] == shown  # same order, none lost
    assert {e["by"] for e in injected} == {"admin@example.com"}


async def test_time_limit_on_the_scripted_clock_ends_an_answer(
    api: AppClient, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api, {**FAST_PLAN, "answer_time_limit": 60, "thinking_time": 5})
    async with ClientSession() as http:
        cand = await join(api, http, iv["invite_token"])
        await cand.next_message("show_greeting")
        await cand.send({"type": "ready"})
        q1 = await cand.next_message("show_question")
        clock.advance(5 + 61)  # thinking time, then the whole answer time, in silence
        q2 = await cand.next_message("show_question", timeout=10)
        assert q2["question_id"] != q1["question_id"]
        await cand.leave()
    events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
    done = [e for e in events if e["type"] == "answer_done"]
    assert done[0]["reason"] == "timeout"


async def test_a_hanging_llm_endpoint_falls_back_to_the_rules(
    tmp_path: Path, clock: ScriptedClock
) -> None:
    hang = asyncio.Event()
    calls = []

    async def chat(request: web.Request) -> web.Response:
        calls.append(await request.json())
        await hang.wait()
        return web.json_response({})

    stub = web.Application()
    stub.router.add_post("/v1/chat/completions", chat)
    stub_server = TestServer(stub, host="127.0.0.1")
    await stub_server.start_server()
    api = await make_client(
        tmp_path,
        clock,
        followup_llm={
            "enabled": True,
            "base_url": str(stub_server.make_url("/v1")),
            "model": "m",
            "timeout": 0.5,
        },
    )
    try:
        iv = await planned_interview(api)
        async with ClientSession() as http:
            cand = await join(api, http, iv["invite_token"])
            await cand.next_message("show_greeting")
            await cand.send({"type": "ready"})
            q1 = await cand.next_message("show_question")
            obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
            session = api.app[SERVICES].live.get(iv["id"])
            heard = TranscriptFinal(
                interview_id=iv["id"],
                t=session.clock(),
                utterance_id="u1",
                language="en",
                text="We rebuilt the billing service and we shipped it on time.",
            )
            session.submit(AnalyzerResult(heard))
            loop = asyncio.get_running_loop()
            started = loop.time()
            await cand.send({"type": "answer_done", "question_id": q1["question_id"]})
            nxt = await cand.next_message("show_question", timeout=5)
            assert loop.time() - started < 2.5
            assert len(calls) == 1 and "billing" in str(calls[0])  # the LLM was asked ...
            assert nxt["kind"] == "followup"  # ... and the rules answered in its place
            events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
            [suggested] = [e for e in events if e["type"] == "followup_suggested"]
            assert suggested["source"] == "rules" and suggested["reason"]
            await obs.close()
            await cand.leave()
    finally:
        hang.set()
        await api.close()
        await stub_server.close()
