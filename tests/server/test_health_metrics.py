"""/healthz, /readyz and /metrics on the real app: scraped and parsed as Prometheus text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from analysis.events import AnalyzerFailed, TranscriptFinal
from server.app import create_app
from server.metrics import Metrics
from server.services import SERVICES
from server.storage.db import make_engine
from server.workflow.outbox import enqueue
from server.workflow.service import WORKFLOW
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.mail import free_port
from tests.server.helpers import consent, make_settings, new_interview, sign_in
from tests.server.test_interviewer_channels import ScriptedClock

Client = TestClient[web.Request, web.Application]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[Any]:
    """Start apps with settings overrides; all are closed at the end."""
    clients: list[Client] = []

    async def start(**overrides: Any) -> Client:
        settings = make_settings(tmp_path / f"app{len(clients)}", **overrides)
        client: Client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def samples(text: str) -> Samples:
    """Every sample of a scrape by (name, sorted labels), via the Prometheus text parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(
    client: Client, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    return samples(await resp.text())


async def test_healthz_and_readyz_need_no_sign_in(make_client: Any) -> None:
    client = await make_client()
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200, body
    assert set(body["checks"]) == {"database", "models", "disk"}  # no Redis configured
    assert all(c["ok"] for c in body["checks"].values())


async def test_readyz_fails_when_the_database_is_unreachable(make_client: Any) -> None:
    client = await make_client()
    svc = client.server.app[SERVICES]
    good = svc.engine
    svc.engine = make_engine("postgresql+asyncpg://candor@127.0.0.1:1/none")
    try:
        resp = await client.get("/readyz")
        body = await resp.json()
    finally:
        await svc.engine.dispose()
        svc.engine = good
    assert resp.status == 503
    assert not body["ready"] and not body["checks"]["database"]["ok"]
    assert "CANDOR_DATABASE_URL" in body["checks"]["database"]["detail"]
    assert "127.0.0.1:1" not in str(body)  # no address or URL echoed to anyone
    assert (await client.get("/readyz")).status == 200


async def test_readyz_fails_below_the_free_disk_threshold(make_client: Any) -> None:
    client = await make_client(readyz_min_free_mb=10**12)
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and not body["checks"]["disk"]["ok"]
    assert "CANDOR_READYZ_MIN_FREE_MB" in body["checks"]["disk"]["detail"]


async def test_readyz_checks_redis_when_transcription_uses_it(make_client: Any) -> None:
    client = await make_client(
        redis_url="redis://127.0.0.1:1/0", asr={"enabled": True, "mode": "redis", "preload": False}
    )
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and not body["checks"]["redis"]["ok"]
    assert body["checks"]["models"]["ok"]  # loads at the first interview


@pytest.mark.redis
async def test_readyz_waits_for_the_transcription_backend(make_client: Any) -> None:
    client = await make_client(asr={"enabled": True, "mode": "redis", "preload": True})
    for _ in range(100):
        resp = await client.get("/readyz")
        if resp.status == 200:
            break
        await asyncio.sleep(0.2)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["checks"]["redis"]["ok"] and body["checks"]["models"]["ok"]
    metrics = await scrape(client)
    assert metrics[("candor_transcription_model_loaded", ())] == 1


async def test_metrics_parse_and_count_requests_by_route_pattern(make_client: Any) -> None:
    client = await make_client()
    await sign_in(client)
    iv = await new_interview(client)
    for _ in range(3):
        assert (await client.get(f"/api/interviews/{iv['id']}")).status == 200
    await client.get(f"/api/join/{iv['invite_token']}")
    await client.get("/no/such/page")
    resp = await client.get("/metrics")
    text = await resp.text()
    got = samples(text)
    route = (("method", "GET"), ("route", "/api/interviews/{iid}"), ("status", "200"))
    assert got[("candor_http_request_duration_seconds_count", route)] == 3
    assert (
        got[
            (
                "candor_http_request_duration_seconds_count",
                (("method", "GET"), ("route", "/api/join/{token}"), ("status", "200")),
            )
        ]
        == 1
    )
    assert (
        got[
            (
                "candor_http_request_duration_seconds_count",
                (("method", "GET"), ("route", "<unmatched>"), ("status", "404")),
            )
        ]
        == 1
    )
    assert iv["id"] not in text and iv["invite_token"] not in text  # patterns, never raw paths
    assert got[("candor_live_interviews", ())] == 0
    assert got[("candor_live_observers", ())] == 0
    assert got[("candor_transcript_reader_queue_events", ())] == 0
    assert got[("candor_transcript_store_wait_seconds_count", ())] == 0
    assert got[("candor_transcription_queue_depth", ())] == 0
    assert got[("candor_transcription_backlog_seconds", ())] == 0
    assert got[("candor_transcription_passes_total", (("priority", "final"),))] == 0
    assert got[("candor_transcription_finals_total", ())] == 0
    for action in ("partial_skipped", "pause_pass_dropped", "final_shortened", "final_degraded"):
        assert got[("candor_transcription_load_shedding_total", (("action", action),))] == 0
    assert got[("candor_join_seconds_count", ())] == 0
    assert got[("candor_transcript_final_latency_seconds_count", ())] == 0


async def test_a_real_join_is_timed_and_counted_live(make_client: Any) -> None:
    client = await make_client()
    await sign_in(client)
    iv = await new_interview(client)
    await consent(client, iv["invite_token"], ai=False)
    async with ClientSession() as http:
        cand = CandidateClient(str(client.make_url("")), iv["invite_token"], http)
        await cand.join(video=PatternVideoTrack())
        try:
            for _ in range(100):
                got = await scrape(client)
                if got[("candor_join_seconds_count", ())] == 1:
                    break
                await asyncio.sleep(0.1)
            assert got[("candor_join_seconds_count", ())] == 1
            assert 0 < got[("candor_join_seconds_sum", ())] < 20
            assert got[("candor_live_interviews", ())] == 1
        finally:
            await cand.leave()


async def test_metrics_are_open_to_allowed_networks_or_a_token(make_client: Any) -> None:
    open_client = await make_client()
    assert (await open_client.get("/metrics")).status == 200  # loopback by default
    # through a reverse proxy the address is the proxy's: only the token opens /metrics
    assert (await open_client.get("/metrics", headers={"X-Forwarded-For": "1.2.3.4"})).status == 403
    closed = await make_client(metrics_allow=["10.0.0.0/8"], metrics_token="t0ken-123")
    resp = await closed.get("/metrics")
    assert resp.status == 403
    assert "CANDOR_METRICS_TOKEN" in await resp.text()
    assert (await closed.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 403
    await scrape(closed, Authorization="Bearer t0ken-123")
    await scrape(closed, Authorization="Bearer t0ken-123", **{"X-Forwarded-For": "1.2.3.4"})


async def test_two_apps_keep_separate_registries(make_client: Any) -> None:
    first, second = await make_client(), await make_client()
    await first.get("/healthz")
    key = (
        "candor_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/healthz"), ("status", "200")),
    )
    assert (await scrape(first))[key] == 1
    assert key not in await scrape(second)


async def test_a_blocked_event_loop_shows_as_loop_lag(make_client: Any) -> None:
    client = await make_client()
    lag = "candor_event_loop_lag_seconds"
    late = (lag + "_bucket", (("le", "0.25"),))
    before = await scrape(client)
    slow_before = before[(lag + "_count", ())] - before[late]
    time.sleep(1.0)  # noqa: ASYNC251  (on purpose: the probe's timer, due every 0.5 s, is late)
    for _ in range(100):
        got = await scrape(client)
        if got[(lag + "_count", ())] - got[late] > slow_before:
            break
        await asyncio.sleep(0.1)
    assert got[(lag + "_count", ())] - got[late] > slow_before, "no observation above 0.25 s"
    assert got[(lag + "_sum", ())] >= 0.5


def test_room_events_feed_failures_and_final_latency() -> None:
    metrics = Metrics()
    metrics.observe_event(AnalyzerFailed(interview_id="i", t=1.0, analyzer="face", error="X"))
    metrics.observe_event(AnalyzerFailed(interview_id="i", t=2.0, analyzer="face", error="X"))
    metrics.observe_event(
        TranscriptFinal(interview_id="i", utterance_id="u", text="hi", t=11.2, start=9, end=10.0)
    )
    assert metrics.analyzer_failures == {"face": 2}
    got = samples(metrics.render().decode())
    assert got[("candor_transcript_final_latency_seconds_count", ())] == 1
    assert got[("candor_transcript_final_latency_seconds_sum", ())] == pytest.approx(1.2)


def depth(got: Samples, outbox: str, state: str) -> float:
    """``candor_outbox_depth{outbox, state}`` of a scrape."""
    return got[("candor_outbox_depth", (("outbox", outbox), ("state", state)))]


async def test_outbox_depth_counts_each_outbox_at_scrape_time(tmp_path: Path) -> None:
    clock = ScriptedClock()
    clock.now = datetime.now(UTC).replace(microsecond=0)  # webhook rows carry the real time
    settings = make_settings(
        tmp_path,
        outbox_max_attempts=1,  # no SMTP here: an email fails at its first try
        workflow_poll_seconds=3600,
        webhooks={"retry_delays_s": [], "poll_s": 0.02, "timeout_s": 2.0},  # no retries
    )
    client: Client = TestClient(TestServer(create_app(settings, now=clock)))
    await client.start_server()
    try:
        await sign_in(client)
        # invitations wake the workflow's background pass: stop it and run passes here
        await client.app[WORKFLOW].aclose()
        got = await scrape(client)
        assert got[("candor_outbox_depth_ok", ())] == 1
        for outbox in ("email", "wecom", "webhook"):
            assert depth(got, outbox, "pending") == depth(got, outbox, "failed") == 0
            assert got[("candor_outbox_oldest_pending_seconds", (("outbox", outbox),))] == 0

        # a receiver nobody listens on, told of every stage change
        dead = f"http://127.0.0.1:{free_port()}/hook"
        made = await client.post(
            "/api/webhooks", json={"url": dead, "events": ["candidate.stage_changed"]}
        )
        assert made.status == 201, await made.text()
        job = (await (await client.post("/api/jobs", json={"title": "Engineer"})).json())["id"]

        async def invite(email: str) -> None:
            card = await (
                await client.post(f"/api/jobs/{job}/candidates", json={"name": "A", "email": email})
            ).json()
            resp = await client.post(
                f"/api/jobs/{job}/invitations", json={"candidate_ids": [card["id"]]}
            )
            assert (await resp.json())["results"][0]["status"] == "invited"

        await invite("a@example.com")  # an invitation email and a stage_changed delivery
        got = await scrape(client)
        assert depth(got, "email", "pending") == 1 and depth(got, "webhook", "pending") == 1
        await client.app[WORKFLOW].tick()  # the email fails (no SMTP) and is given up
        # the delivery (queued at the real time) is due; it fails and, with no retry, is given up
        clock.now = datetime.now(UTC) + timedelta(minutes=1)

        async def webhook_failed() -> bool:
            return depth(await scrape(client), "webhook", "failed") == 1

        for _ in range(1000):
            if await webhook_failed():
                break
            await asyncio.sleep(0.02)
        assert await webhook_failed()

        await invite("b@example.com")  # waits: the email is not sent yet, the endpoint is off
        async with client.app[SERVICES].sessions() as session, session.begin():
            enqueue(
                session,
                channel="wecom_robot",
                template="hr_completion",
                recipient="robot",
                payload={"markdown": "**An interview finished**"},
                now=clock.now,
            )
        clock.advance(90)
        got = await scrape(client)
        assert {
            (o, s): depth(got, o, s)
            for o in ("email", "wecom", "webhook")
            for s in ("pending", "failed")
        } == {
            ("email", "pending"): 1,
            ("email", "failed"): 1,
            ("wecom", "pending"): 1,
            ("wecom", "failed"): 0,
            ("webhook", "pending"): 1,
            ("webhook", "failed"): 1,
        }
        oldest = {
            o: got[("candor_outbox_oldest_pending_seconds", (("outbox", o),))]
            for o in ("email", "wecom", "webhook")
        }
        assert oldest["email"] == oldest["wecom"] == 90
        assert oldest["webhook"] > 0
    finally:
        await client.close()
