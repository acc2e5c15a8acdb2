"""Sessions nobody needs are released; an observer's peer never outlives its session.

Real app, real database, real peers; the wall clock is scripted, so the release delay passes
only when a test moves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientSession, ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient, TestServer
from aioice import ice
from aiortc import RTCPeerConnection

from analysis.followup import FollowupRequest, FollowupStrategy, FollowupSuggestion, make_strategy
from config.settings import Settings
from server.app import create_app
from server.cluster import LEASE_PREFIX
from server.remote_session import RemoteSession
from server.session import RELEASE_AFTER, InterviewSession
from server.sessions import SessionRegistry
from server.storage.models import Interview
from tests.client_peer import PatternVideoTrack
from tests.server.helpers import make_settings, new_interview, services_of, sign_in
from tests.server.test_interviewer_channels import ScriptedClock, join, planned_interview
from tests.server.test_sessions import candor_tasks, non_daemon_threads

Client = TestClient[web.Request, web.Application]
TICK = 0.02  # the sessions' timer interval (the clock itself is scripted)
PAST_THE_DELAY = RELEASE_AFTER.total_seconds() + 1


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


@pytest.fixture
async def api(tmp_path: Path, clock: ScriptedClock) -> AsyncIterator[Client]:
    app = create_app(make_settings(tmp_path), now=clock, tick_seconds=TICK)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    await sign_in(client)
    yield client
    await client.close()


class Made:
    """The registry's own factory, counting the sessions it builds."""

    def __init__(self, registry: SessionRegistry) -> None:
        self.sessions: list[InterviewSession] = []
        self._make = registry._make
        registry._make = self

    def __call__(self, interview_id: str) -> InterviewSession:
        session = self._make(interview_id)
        self.sessions.append(session)
        return session


async def watch(api: Client, iid: str) -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    """An observer's socket, once it has the plan view."""
    ws = await api.ws_connect(f"/ws/observer/{iid}")
    async with asyncio.timeout(20):
        while True:
            msg = await ws.receive_json()
            if msg["type"] == "view":
                return ws, msg


async def until_released(registry: SessionRegistry, iid: str) -> None:
    """The session has released itself (it takes no inputs; it may still be closing).

    Ticks run on real time; the release itself waits for the scripted clock.
    """
    async with asyncio.timeout(20):
        while registry.find(iid) is not None or registry.running():  # noqa: ASYNC110
            await asyncio.sleep(TICK)


async def until_holders(session: InterviewSession | None, holders: int) -> None:
    """The server has seen sockets close (before the test moves the clock)."""
    assert session is not None
    async with asyncio.timeout(20):
        while session.holders != holders:  # noqa: ASYNC110
            await asyncio.sleep(TICK)


async def some_ticks() -> None:
    await asyncio.sleep(20 * TICK)  # ticks run meanwhile; the scripted clock stands still


async def status_of(api: Client, iid: str) -> dict[str, Any]:
    resp = await api.get(f"/api/interviews/{iid}")
    assert resp.status == 200
    return dict(await resp.json())


# -- release ----------------------------------------------------------------------------


async def test_a_session_only_observers_opened_is_released_and_rebuilt_from_the_database(
    api: Client, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api)
    registry = services_of(api).live
    made = Made(registry)
    obs, _view = await watch(api, iv["id"])
    await obs.send_json({"type": "inject_question", "text": "What are you proudest of?"})
    async with asyncio.timeout(20):
        while True:  # the injected question is saved and logged before it is acknowledged
            events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
            if [e for e in events if e["type"] == "question_injected"]:
                break
            await asyncio.sleep(0.05)
    last_seq = events[-1]["seq"]
    first = registry.find(iv["id"])
    assert first is not None and first.holders == 1
    await obs.close()
    await until_holders(first, 0)
    await some_ticks()
    assert registry.find(iv["id"]) is first  # within the delay: a reconnect finds it
    clock.advance(PAST_THE_DELAY)
    await until_released(registry, iv["id"])
    assert first.closed and first.released
    row = await status_of(api, iv["id"])  # watching changed nothing
    assert row["status"] == "scheduled" and row["started_at"] is None
    assert row["ended_at"] is None

    # A later observer gets a new session, rebuilt from the saved machine and the event log.
    again, view = await watch(api, iv["id"])
    assert len(made.sessions) == 2
    assert [q["text"] for q in view["view"]["queued"]] == ["What are you proudest of?"]
    await again.send_json({"type": "inject_question", "text": "And the hardest part?"})
    async with asyncio.timeout(20):
        while True:
            events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
            if len([e for e in events if e["type"] == "question_injected"]) == 2:
                break
            await asyncio.sleep(0.05)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["seq"] > last_seq
    await again.close()
    await until_holders(made.sessions[1], 0)
    clock.advance(PAST_THE_DELAY)
    await until_released(registry, iv["id"])
    assert (await status_of(api, iv["id"]))["status"] == "scheduled"


async def test_a_quick_reconnect_keeps_the_session(api: Client, clock: ScriptedClock) -> None:
    iv = await planned_interview(api)
    registry = services_of(api).live
    obs, _ = await watch(api, iv["id"])
    first = registry.find(iv["id"])
    await obs.close()
    await until_holders(first, 0)
    clock.advance(RELEASE_AFTER.total_seconds() / 2)
    await some_ticks()
    back, _ = await watch(api, iv["id"])
    clock.advance(RELEASE_AFTER.total_seconds())  # past the first leave, not while attached
    await some_ticks()
    assert registry.find(iv["id"]) is first and first is not None and first.holders == 1
    await back.close()
    await until_holders(first, 0)
    clock.advance(PAST_THE_DELAY)
    await until_released(registry, iv["id"])


async def test_a_candidate_page_that_never_offered_media_does_not_keep_the_session(
    api: Client, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api)
    registry = services_of(api).live
    cand = await api.ws_connect(f"/ws/candidate/{iv['invite_token']}")
    assert (await cand.receive_json())["type"] == "welcome"
    session = registry.find(iv["id"])
    assert session is not None and session.holders == 1
    await cand.close()
    await until_holders(session, 0)
    clock.advance(PAST_THE_DELAY)
    await until_released(registry, iv["id"])
    row = await status_of(api, iv["id"])
    assert row["status"] == "scheduled" and row["started_at"] is None


async def test_a_candidate_whose_media_never_arrived_does_not_keep_the_session(
    api: Client, clock: ScriptedClock
) -> None:
    """The offer is answered, but no packet ever flows (its addresses route nowhere) and the
    candidate leaves: the interview stays ``scheduled``, the session is released, and the
    candidate's next join (with media) is served by a new session."""
    iv = await planned_interview(api)
    registry = services_of(api).live
    made = Made(registry)
    cand = await api.ws_connect(f"/ws/candidate/{iv['invite_token']}")
    assert (await cand.receive_json())["type"] == "welcome"
    pc = RTCPeerConnection()
    try:
        pc.addTrack(PatternVideoTrack())
        await pc.setLocalDescription(await pc.createOffer())
        nowhere = re.sub(
            r"(a=candidate:\S+ \d+ udp \d+ )\S+", r"\g<1>192.0.2.1", pc.localDescription.sdp
        )
        await cand.send_json({"type": "offer", "sdp": nowhere})
        async with asyncio.timeout(20):
            while (await cand.receive_json())["type"] != "answer":
                pass
    finally:
        await pc.close()
    await cand.close()
    session = registry.find(iv["id"])
    await until_holders(session, 0)
    await some_ticks()
    clock.advance(PAST_THE_DELAY)
    await until_released(registry, iv["id"])
    assert (await status_of(api, iv["id"]))["status"] == "scheduled"

    async with ClientSession() as http:
        again = await join(api, http, iv["invite_token"])  # media flows this time
        try:
            assert (await status_of(api, iv["id"]))["status"] == "live"
            assert len(made.sessions) == 2 and made.sessions[0].released
        finally:
            await again.leave()


async def test_a_finished_interview_is_released_once_the_last_observer_leaves(
    api: Client, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api)
    registry = services_of(api).live
    assert (await api.post(f"/api/interviews/{iv['id']}/end")).status == 200
    await until_released(registry, iv["id"])  # the ending session closed itself
    assert (await status_of(api, iv["id"]))["status"] == "finished"

    one, view = await watch(api, iv["id"])  # looking at a finished interview
    assert view["view"] is not None
    two, _ = await watch(api, iv["id"])
    session = registry.find(iv["id"])
    assert session is not None and session.holders == 2
    await one.close()
    await until_holders(session, 1)
    clock.advance(PAST_THE_DELAY)
    await some_ticks()
    assert registry.find(iv["id"]) is session  # the second observer is still watching
    await two.close()
    await until_holders(session, 0)
    clock.advance(PAST_THE_DELAY)
    await until_released(registry, iv["id"])
    assert session.released
    row = await status_of(api, iv["id"])
    assert row["status"] == "finished"


async def test_an_interview_without_observers_or_candidate_is_not_kept_by_an_hr_request(
    api: Client, clock: ScriptedClock
) -> None:
    """Ending an already finished interview attaches for the request only."""
    iv = await planned_interview(api)
    registry = services_of(api).live
    assert (await api.post(f"/api/interviews/{iv['id']}/end")).status == 200
    await until_released(registry, iv["id"])
    assert (await api.post(f"/api/interviews/{iv['id']}/end")).status == 200
    session = registry.find(iv["id"])
    assert session is not None and session.holders == 0  # loaded as finished, nobody attached
    clock.advance(PAST_THE_DELAY)
    await until_released(registry, iv["id"])


class GatedStrategy:
    """The default follow-up strategy, whose closing (a session's last step) waits on a gate."""

    def __init__(self, inner: FollowupStrategy) -> None:
        self._inner = inner
        self.gate = asyncio.Event()
        self.closing = asyncio.Event()

    async def propose(self, request: FollowupRequest) -> FollowupSuggestion | None:
        return await self._inner.propose(request)

    async def aclose(self) -> None:
        self.closing.set()
        await self.gate.wait()
        await self._inner.aclose()


async def test_fifty_attaches_during_a_release_make_exactly_one_new_session(
    tmp_path: Path, clock: ScriptedClock
) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings, now=clock, tick_seconds=TICK)
    api: Client = TestClient(TestServer(app))
    await api.start_server()
    before = set(non_daemon_threads())
    try:
        await sign_in(api)
        iv = await new_interview(api)
        registry = services_of(api).live
        gated = GatedStrategy(make_strategy(settings.followup_llm))
        made: list[InterviewSession] = []

        def make(iid: str) -> InterviewSession:
            strategy = gated if not made else None
            made.append(
                InterviewSession(services_of(api), iid, tick_seconds=TICK, strategy=strategy)
            )
            return made[-1]

        registry._make = make
        obs, _ = await watch(api, iv["id"])
        await obs.close()
        await until_holders(made[0], 0)
        clock.advance(PAST_THE_DELAY)
        async with asyncio.timeout(20):
            await gated.closing.wait()  # released: its loop has ended, it is still closing
        old = made[0]
        assert old.closed and old.released and registry.find(iv["id"]) is None

        sockets = await asyncio.gather(
            *[api.ws_connect(f"/ws/observer/{iv['id']}") for _ in range(50)]
        )
        assert len(made) == 2  # one new session for all fifty, registered before any await
        new = made[1]
        assert registry.find(iv["id"]) is new and new.holders == 50
        assert old in registry._runs  # still closing: the attaches came during its release
        gated.gate.set()  # the old session finishes closing; the new one's loop starts after it

        async def view_of(ws: ClientWebSocketResponse) -> dict[str, Any]:
            async with asyncio.timeout(20):
                while True:
                    msg = await ws.receive_json()
                    if msg["type"] == "view":
                        return dict(msg)

        views = await asyncio.gather(*[view_of(ws) for ws in sockets])
        assert all(v["view"] is not None for v in views)
        assert registry.running() == [new] and len(made) == 2
        await asyncio.gather(*[ws.close() for ws in sockets])
        await until_holders(new, 0)
        clock.advance(PAST_THE_DELAY)
        await until_released(registry, iv["id"])
        assert new.released and len(made) == 2
        assert (await status_of(api, iv["id"]))["status"] == "scheduled"
    finally:
        await api.close()
    await asyncio.sleep(0)
    assert candor_tasks() == []
    assert set(non_daemon_threads()) <= before
    assert not [t for t in threading.enumerate() if t.name.startswith("recorder-")]


# -- observer peers --------------------------------------------------------------------------


def with_mdns_candidates(sdp: str) -> str:
    """Host candidates under an mDNS name, as browsers send them (nobody answers for it)."""
    name = f"{uuid.uuid4()}.local"
    return re.sub(
        r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)",
        rf"\g<1>{name}\g<3>",
        sdp,
        flags=re.MULTILINE,
    )


def mdns_subscribers() -> set[object]:
    """aioice's ICE connections subscribed to this thread's mDNS responder."""
    return set(getattr(ice._mdns, "subscribers", set()))


async def test_an_observer_peer_still_negotiating_when_the_app_stops_is_closed(
    tmp_path: Path, clock: ScriptedClock
) -> None:
    """aioice keeps one mDNS responder per thread until its last ICE connection closes.

    An observer's browser sends mDNS host candidates; resolving one takes the server up to a
    second (nobody answers for this name), so the app stops mid-negotiation. Before the fix
    the peer was never closed (no candidate segment to close it with), leaving the responder
    bound to a loop about to end.
    """
    app = create_app(make_settings(tmp_path), now=clock, tick_seconds=TICK)
    api: Client = TestClient(TestServer(app))
    await api.start_server()
    browser = RTCPeerConnection()
    assert mdns_subscribers() == set()
    try:
        await sign_in(api)
        iv = await planned_interview(api)  # no candidate: observers only
        obs, _ = await watch(api, iv["id"])
        browser.addTransceiver("video", direction="recvonly")
        await browser.setLocalDescription(await browser.createOffer())
        offer = with_mdns_candidates(browser.localDescription.sdp)
        assert ".local" in offer
        await obs.send_json({"type": "offer", "sdp": offer})
        async with asyncio.timeout(10):
            while not mdns_subscribers():  # noqa: ASYNC110 - aioice offers no event for it
                await asyncio.sleep(0.005)
        # The server's ICE agent is resolving the browser's name: stop as SIGINT does, with
        # the observer's socket still open.
        await app.shutdown()
    finally:
        await api.close()
        await browser.close()
    assert mdns_subscribers() == set()
    assert getattr(ice._mdns, "protocol", None) is None


async def test_an_observer_peer_of_a_released_session_is_closed(
    api: Client, clock: ScriptedClock
) -> None:
    """The observer's hang-up can come after the session is gone: the session closes it."""
    iv = await planned_interview(api)
    registry = services_of(api).live
    browser = RTCPeerConnection()
    try:
        obs, _ = await watch(api, iv["id"])
        browser.addTransceiver("video", direction="recvonly")
        await browser.setLocalDescription(await browser.createOffer())
        offer = with_mdns_candidates(browser.localDescription.sdp)
        await obs.send_json({"type": "offer", "sdp": offer})
        async with asyncio.timeout(20):
            while True:
                msg = await obs.receive_json()
                if msg["type"] == "answer":
                    break
        assert mdns_subscribers()  # the server's peer resolved the name: it holds the responder
        session = registry.find(iv["id"])
        await obs.close()
        await until_holders(session, 0)
        clock.advance(PAST_THE_DELAY)
        await until_released(registry, iv["id"])
        async with asyncio.timeout(20):  # the released session's last step closes the peer
            while mdns_subscribers():  # noqa: ASYNC110 - aioice offers no event for it
                await asyncio.sleep(TICK)
    finally:
        await browser.close()


@contextlib.asynccontextmanager
async def cluster_node(
    tmp_path: Path, clock: ScriptedClock, name: str, **settings: Any
) -> AsyncIterator[tuple[Client, aioredis.Redis, Settings]]:
    """One node of a cluster on the local Redis (a random database): its app, signed in as
    the admin, a Redis client, and its settings."""
    redis_url = f"redis://127.0.0.1:6379/{random.randint(1, 15)}"
    node = make_settings(
        tmp_path,
        bus="redis",
        redis_url=redis_url,
        cluster=True,
        node_id=f"{name}-{uuid.uuid4().hex[:6]}",
        **settings,
    )
    api: Client = TestClient(TestServer(create_app(node, now=clock, tick_seconds=TICK)))
    await api.start_server()
    redis = aioredis.from_url(redis_url)
    try:
        await sign_in(api)
        yield api, redis, node
    finally:
        await redis.aclose()
        await api.close()


@pytest.mark.redis
async def test_a_released_session_lets_go_of_its_lease(
    tmp_path: Path, clock: ScriptedClock
) -> None:
    """One node of a cluster: an observer-only session takes the lease and gives it back."""
    async with cluster_node(tmp_path, clock, "release") as (api, redis, settings):
        iv = await planned_interview(api)
        registry = services_of(api).live
        obs, _ = await watch(api, iv["id"])
        assert await redis.get(LEASE_PREFIX + iv["id"]) == settings.node_id.encode()
        session = registry.find(iv["id"])
        await obs.close()
        await until_holders(session, 0)
        clock.advance(PAST_THE_DELAY)
        await until_released(registry, iv["id"])
        async with asyncio.timeout(20):  # the registry lets go once the session has closed
            while await redis.get(LEASE_PREFIX + iv["id"]) is not None:  # noqa: ASYNC110
                await asyncio.sleep(TICK)


@pytest.mark.redis
async def test_a_candidate_takes_a_dead_nodes_lease_as_soon_as_it_expires(
    tmp_path: Path, clock: ScriptedClock
) -> None:
    """The owner is asked to hand over one way: a dead owner never answers, and waiting for
    its answer (6 s) kept the candidate waiting after its lease (1 s here) had expired."""
    async with cluster_node(tmp_path, clock, "alive", lease_seconds=1.0) as (api, redis, settings):
        iv = await planned_interview(api)
        registry = services_of(api).live
        await redis.set(LEASE_PREFIX + iv["id"], "dead-node", px=1000)  # it stopped renewing
        async with asyncio.timeout(4), registry.attach(iv["id"], candidate=True) as session:
            assert isinstance(session, InterviewSession)
            assert await redis.get(LEASE_PREFIX + iv["id"]) == settings.node_id.encode()


@pytest.mark.redis
async def test_an_observer_waits_for_the_owner_of_a_live_interview_whose_lease_is_vacant(
    tmp_path: Path, clock: ScriptedClock
) -> None:
    """After a Redis restart no lease is held until each owner renews: an observer's attach
    (or a command retried) must not take a live interview, and its candidate, from its owner.
    A lease vacant for a whole period is taken (the owner is gone)."""
    node = cluster_node(tmp_path, clock, "observers", lease_seconds=1.0)
    async with node as (api, redis, settings):
        svc = services_of(api)
        registry = svc.live
        first, second = await planned_interview(api), await planned_interview(api)
        async with svc.sessions() as db:
            for iv in (first, second):
                row = await db.get(Interview, iv["id"])
                assert row is not None
                row.status = "live"  # its candidate is connected to another node
            await db.commit()

        async def attach(iid: str) -> InterviewSession | RemoteSession:
            async with registry.attach(iid) as session:
                return session

        # The owner renews (takes the lease again) a moment after Redis came back.
        waiting = asyncio.create_task(attach(first["id"]))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await redis.set(LEASE_PREFIX + first["id"], "the-owner", px=1000)
        got = await asyncio.wait_for(waiting, 5)
        assert isinstance(got, RemoteSession) and got.owner == "the-owner"
        assert await redis.get(LEASE_PREFIX + first["id"]) == b"the-owner"

        # Nobody comes back within a lease period: the owner is gone and this node takes it.
        taken = await asyncio.wait_for(attach(second["id"]), 5)
        assert isinstance(taken, InterviewSession)
        assert await redis.get(LEASE_PREFIX + second["id"]) == settings.node_id.encode()
