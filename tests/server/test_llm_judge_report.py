"""The report shows the optional LLM judge beside the scorer, with verified quotes and flags."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.server.test_interviewer_channels import ScriptedClock, make_client
from tests.server.test_reports import SENTENCES, logged_interview


@pytest.fixture
async def fake_llm() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    """Rates every competency 1 and quotes one real sentence and one invented one."""
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        user = json.loads(body["messages"][1]["content"])
        transcript = user["transcript"]
        real = next((s for s in SENTENCES if s in transcript), transcript[:20])
        reply = {
            "competencies": [
                {
                    "competency_id": c["competency_id"],
                    "level": 1,
                    "quotes": [real, "I single-handedly saved the company."],
                    "reason": "No story.",
                }
                for c in user["competencies"]
            ]
        }
        return web.json_response({"choices": [{"message": {"content": json.dumps(reply)}}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield seen, str(server.make_url("/v1"))
    await server.close()


async def test_the_report_shows_both_judges_and_flags_big_differences(
    tmp_path: Path, fake_llm: tuple[list[dict[str, Any]], str]
) -> None:
    seen, url = fake_llm
    clock = ScriptedClock()
    api = await make_client(
        tmp_path, clock,
        scoring_llm={"enabled": True, "base_url": url, "model": "fake", "timeout": 5},
    )
    try:
        job = await (
            await api.post(
                "/api/jobs",
                json={"title": "Engineer", "language": "en", "template": "software_engineer"},
            )
        ).json()
        cand = await (await api.post("/api/candidates", json={"name": "Li Lei"})).json()
        iid = await logged_interview(api, job["id"], cand["id"], 4)
        report = await (await api.get(f"/api/interviews/{iid}/report.json")).json()
        body = report["report"]
        assert seen, "the LLM endpoint was called"
        assert seen[0]["temperature"] == 0
        judged = [j for j in body["llm"] if j["status"] == "judged"]
        assert judged
        verdicts = [v for j in judged for v in j["verdicts"]]
        assert all(len(v["quotes"]) == 1 and v["dropped_quotes"] == 1 for v in verdicts)
        assert body["llm_dropped_quotes"] == len(verdicts)
        flagged = [v for v in verdicts if v["differs"]]
        assert flagged, [v["deterministic_level"] for v in verdicts]
        assert body["llm_differences"] == len(flagged)
        assert all(v["deterministic_level"] >= 3 for v in flagged)
        # Stored once with the score: a second view does not call the endpoint again.
        calls = len(seen)
        await api.get(f"/api/interviews/{iid}/report.json")
        assert len(seen) == calls
    finally:
        await api.close()


@pytest.fixture
async def broken_llm() -> AsyncIterator[tuple[list[str], str]]:
    """Answers malformed JSON for the first interview's calls and never answers afterwards
    (until the server closes): a broken and a hanging endpoint."""
    calls: list[str] = []
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        calls.append((await request.json())["model"])
        if len(calls) <= MALFORMED_CALLS:
            return web.json_response({"choices": [{"message": {"content": "{not json"}}]})
        await release.wait()  # hangs: the judge's own time bound must end the wait
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield calls, str(server.make_url("/v1"))
    release.set()
    await server.close()


MALFORMED_CALLS = 6  # three answers x (one attempt + one retry)


async def test_the_report_falls_back_to_the_scorer_on_malformed_or_hanging_endpoints(
    tmp_path: Path, broken_llm: tuple[list[str], str]
) -> None:
    calls, url = broken_llm
    api = await make_client(
        tmp_path, ScriptedClock(),
        scoring_llm={"enabled": True, "base_url": url, "model": "fake", "timeout": 0.5,
                     "retries": 1},
    )
    try:
        job = await (
            await api.post(
                "/api/jobs",
                json={"title": "Engineer", "language": "en", "template": "software_engineer"},
            )
        ).json()
        cand = await (await api.post("/api/candidates", json={"name": "Li Lei"})).json()
        for _ in range(2):  # first malformed JSON, then an endpoint that never answers
            iid = await logged_interview(api, job["id"], cand["id"], 4)
            resp = await api.get(f"/api/interviews/{iid}/report.json")
            assert resp.status == 200
            body = (await resp.json())["report"]
            assert body["llm"] and all(j["status"] == "fallback" for j in body["llm"])
            assert all(j["error"] for j in body["llm"])
            assert body["llm_differences"] == 0 and body["llm_dropped_quotes"] == 0
            # the deterministic score stands alone
            score = await (await api.get(f"/api/interviews/{iid}/score")).json()
            assert score["total"] is not None
            assert (await api.get(f"/api/interviews/{iid}/report.pdf")).status == 200
        assert len(calls) == MALFORMED_CALLS + 6  # every attempt was made, none more
    finally:
        await api.close()
