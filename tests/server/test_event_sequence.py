"""Event sequence numbers: per-interview order, live-only partials, catch-up, no repeats."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web import Application, Request
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from analysis.bus import InMemoryBus
from analysis.events import (
    CandidateJoined,
    Event,
    InterviewEnded,
    TranscriptFinal,
    TranscriptPartial,
)
from server.app import create_app
from server.event_log import EventLog, StoreHookFor
from server.services import SERVICES, Services
from server.storage.models import EventRow
from tests.server.helpers import make_settings, new_interview, sign_in

Client = TestClient[Request, Application]


def svc_of(client: Client) -> Services:
    return client.app[SERVICES]


def joined(iid: str, segment: int) -> CandidateJoined:
    return CandidateJoined(interview_id=iid, segment=segment)


def partial(iid: str, text: str) -> TranscriptPartial:
    return TranscriptPartial(interview_id=iid, utterance_id="u1", text=text)


async def events_after(client: Client, iid: str, after: int = 0) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/interviews/{iid}/events?after={after}")
    assert resp.status == 200, await resp.text()
    return list(await resp.json())


async def test_stored_events_are_numbered_one_by_one_per_interview(admin: Client) -> None:
    a, b = (await new_interview(admin))["id"], (await new_interview(admin))["id"]
    events = svc_of(admin).events
    for i in range(1, 6):
        await events.append(joined(a, i))
        if i % 2:
            await events.append(joined(b, i))
    assert [e.seq for e in await events.history(a)] == [1, 2, 3, 4, 5]
    assert [e.seq for e in await events.history(b)] == [1, 2, 3]
    later = await events.history(a, after=3)
    assert [e.segment if isinstance(e, CandidateJoined) else None for e in later] == [4, 5]


async def test_concurrent_appends_get_distinct_consecutive_numbers(admin: Client) -> None:
    iid = (await new_interview(admin))["id"]
    events = svc_of(admin).events
    async with svc_of(admin).bus.subscribe(iid) as sub:
        await asyncio.gather(*(events.append(joined(iid, i)) for i in range(20)))
        published = [await sub.get(2.0) for _ in range(20)]
    assert [e.seq for e in published if e is not None] == list(range(1, 21))  # in seq order
    assert [e.seq for e in await events.history(iid)] == list(range(1, 21))


async def test_partials_are_published_live_but_never_stored(admin: Client) -> None:
    iid = (await new_interview(admin))["id"]
    events = svc_of(admin).events
    async with svc_of(admin).bus.subscribe(iid) as sub:
        await events.append(partial(iid, "hel"))
        await events.append(joined(iid, 1))
        await events.append(partial(iid, "hello"))
        got = [await sub.get(2.0) for _ in range(3)]
    assert [(e.type, e.seq) for e in got if e is not None] == [
        ("transcript_partial", 0),
        ("candidate_joined", 1),
        ("transcript_partial", 1),  # carries the newest stored seq: a gap shows at once
    ]
    assert [e["type"] for e in await events_after(admin, iid)] == ["candidate_joined"]


async def test_the_catch_up_endpoint_returns_only_events_after_n(admin: Client) -> None:
    iid = (await new_interview(admin))["id"]
    for i in range(4):
        await svc_of(admin).events.append(joined(iid, i))
    assert [e["seq"] for e in await events_after(admin, iid, 2)] == [3, 4]
    assert await events_after(admin, iid, 4) == []
    assert len(await events_after(admin, iid)) == 4


async def next_event(ws: Any) -> dict[str, Any]:
    while True:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == "event":
            return dict(msg["event"])


async def test_a_reconnecting_observer_gets_each_event_once(admin: Client) -> None:
    iid = (await new_interview(admin))["id"]
    svc = svc_of(admin)
    await svc.events.append(joined(iid, 1))
    ws = await admin.ws_connect(f"/ws/observer/{iid}")
    history = await ws.receive_json()
    assert [e["seq"] for e in history["events"]] == [1] and history["last_seq"] == 1
    await svc.events.append(joined(iid, 2))
    assert (await next_event(ws))["seq"] == 2
    await ws.close()

    await svc.events.append(joined(iid, 3))  # happens while the observer is away
    ws = await admin.ws_connect(f"/ws/observer/{iid}?after=2")
    history = await ws.receive_json()
    assert [e["seq"] for e in history["events"]] == [3] and history["after"] == 2
    # An event both in the history and still on the bus (it was published while the history
    # was read) is not sent again.
    [stored] = await svc.events.history(iid, after=2)
    await svc.bus.publish(stored)
    await svc.events.append(joined(iid, 4))
    assert (await next_event(ws))["seq"] == 4
    await ws.close()


async def test_dropped_and_unpublished_events_are_counted_not_silent(admin: Client) -> None:
    iid = (await new_interview(admin))["id"]
    bus = InMemoryBus()
    async with bus.subscribe(iid):
        for i in range(1010):
            await bus.publish(joined(iid, i))
    assert bus.metrics.dropped_slow_subscriber == 10

    class BrokenBus(InMemoryBus):
        async def _send(self, event: Event) -> None:
            raise ConnectionError("redis went away")

    broken = BrokenBus()
    log = EventLog(svc_of(admin).sessions, broken)
    assert await log.append(joined(iid, 1)) is True  # stored; viewers catch up from the log
    assert broken.metrics.publish_failed == 1
    assert [e["seq"] for e in await events_after(admin, iid)] == [1]
    metrics = await (await admin.get("/api/metrics")).json()
    assert metrics["bus"] == {"dropped_slow_subscriber": 0, "publish_failed": 0, "malformed": 0}



async def test_appends_read_the_log_once_then_number_from_memory(admin: Client) -> None:
    """A live interview's loop waits for every round trip: the next seq is not read each time,
    and a step's events go out in one publish."""
    iid = (await new_interview(admin))["id"]
    svc = svc_of(admin)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.lower())

    sync_engine = svc.engine.sync_engine
    sa_event.listen(sync_engine, "before_cursor_execute", seen)
    try:
        for i in range(1, 4):
            await svc.events.append(joined(iid, i))
        await svc.events.append_together(iid, [joined(iid, 4), partial(iid, "x"), joined(iid, 5)])
    finally:
        sa_event.remove(sync_engine, "before_cursor_execute", seen)
    assert sum("max(" in s for s in statements) == 1, statements
    assert [e.seq for e in await svc.events.history(iid)] == [1, 2, 3, 4, 5]


async def test_an_append_by_another_process_is_noticed_and_numbered_after(
    admin: Client,
) -> None:
    iid = (await new_interview(admin))["id"]
    svc = svc_of(admin)
    other = EventLog(svc.sessions, InMemoryBus())  # another node's log, on the same database
    await svc.events.append(joined(iid, 1))
    await other.append(joined(iid, 2))
    await other.append(joined(iid, 3))
    await svc.events.append(joined(iid, 4))  # its remembered seq is taken: it reads the log
    await svc.events.append_together(iid, [joined(iid, 5)])
    await other.append_together(iid, [joined(iid, 6), joined(iid, 7)])
    await svc.events.append_together(iid, [joined(iid, 8), joined(iid, 9)])
    logged = await svc.events.history(iid)
    assert [e.seq for e in logged] == list(range(1, 10))
    assert [e.segment for e in logged if isinstance(e, CandidateJoined)] == list(range(1, 10))


async def test_store_hooks_run_only_for_the_types_they_want(admin: Client) -> None:
    iid = (await new_interview(admin))["id"]
    svc = svc_of(admin)
    ran: list[tuple[str, int | None]] = []

    async def hook(session: AsyncSession, event: Event) -> None:
        # the row is in the transaction already: hooks may query the log
        count = await session.scalar(
            select(func.count()).select_from(EventRow).where(EventRow.interview_id == iid)
        )
        ran.append((event.type, count))

    wanted = StoreHookFor(frozenset({"interview_ended"}), hook)
    svc.events.store_hooks.append(wanted)
    try:
        await svc.events.append(joined(iid, 1))
        await svc.events.append(InterviewEnded(interview_id=iid, reason="done"))
    finally:
        svc.events.store_hooks.remove(wanted)
    assert ran == [("interview_ended", 2)]

# -- two server processes sharing PostgreSQL and Redis ------------------------------





@pytest.mark.redis
@pytest.mark.postgres
async def test_two_processes_on_one_redis_bus_number_events_without_gaps_or_repeats(
    tmp_path: Path, pg_url: str
) -> None:
    settings = make_settings(tmp_path, bus="redis", database_url=pg_url)
    app_a = create_app(settings)
    async with TestClient(TestServer(app_a)) as a:
        app_b = create_app(settings)
        async with TestClient(TestServer(app_b)) as b:
            await sign_in(a)
            await sign_in(b)
            iid = (await new_interview(a))["id"]
            ws = await b.ws_connect(f"/ws/observer/{iid}")
            assert (await ws.receive_json())["events"] == []
            n = 30
            await asyncio.gather(
                *(svc_of(a).events.append(joined(iid, i)) for i in range(n)),
                *(svc_of(b).events.append(joined(iid, 100 + i)) for i in range(n)),
                svc_of(a).events.append(partial(iid, "live only")),
            )
            seen: list[dict[str, Any]] = []
            async with asyncio.timeout(10):
                while sum(e["type"] == "candidate_joined" for e in seen) < 2 * n:
                    seen.append(await next_event(ws))
            await ws.close()
            stored = [e["seq"] for e in seen if e["type"] == "candidate_joined"]
            assert sorted(stored) == list(range(1, 2 * n + 1))  # each number once
            logged = await events_after(b, iid)
            assert [e["seq"] for e in logged] == list(range(1, 2 * n + 1))
            assert all(e["type"] == "candidate_joined" for e in logged)


async def test_a_batch_is_stored_in_one_transaction_and_a_repeated_final_alone_is_dropped(
    admin: Client,
) -> None:
    iid = (await new_interview(admin))["id"]
    svc = svc_of(admin)

    def final(utterance: str) -> TranscriptFinal:
        return TranscriptFinal(interview_id=iid, utterance_id=utterance, text=utterance)

    commits: list[Any] = []

    def committed(conn: Any) -> None:
        commits.append(conn)

    sync_engine = svc.engine.sync_engine
    async with svc.bus.subscribe(iid) as sub:
        sa_event.listen(sync_engine, "commit", committed)
        try:
            kept = await svc.events.append_batch(
                iid, [final("u1"), partial(iid, "u2 so far"), final("u2"), joined(iid, 1)]
            )
        finally:
            sa_event.remove(sync_engine, "commit", committed)
        published = [await sub.get(2.0) for _ in range(4)]
        assert kept == [True, True, True, True]
        assert len(commits) == 1  # the three rows in one transaction
        assert [(e.type, e.seq) for e in published if e is not None] == [
            ("transcript_final", 1),
            ("transcript_partial", 1),
            ("transcript_final", 2),
            ("candidate_joined", 3),
        ]
        # a worker delivered u2 again: the batch falls back to one by one, u2 alone is dropped
        kept = await svc.events.append_batch(iid, [final("u3"), final("u2"), final("u4")])
        assert kept == [True, False, True]
    logged = await svc.events.history(iid, ["transcript_final"])
    assert [(e.seq, e.utterance_id) for e in logged if isinstance(e, TranscriptFinal)] == [
        (1, "u1"), (2, "u2"), (4, "u3"), (5, "u4"),
    ]
