"""Ownership leases and the command channel between two nodes, on the local Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from analysis.interview.commands import InjectQuestion
from server.cluster import LEASE_PREFIX, Cluster, NoOwner, RemoteRefused
from server.remote_session import RemoteInputs, RemoteLink, RemoteSession
from server.session import InterviewSession, SessionMoved
from server.session_inputs import ObserverAction, ObserverJoined, ObserverLeft, ViewRequested

pytestmark = pytest.mark.redis


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Cluster, Cluster]]:
    url = f"redis://127.0.0.1:6379/{random.randint(1, 15)}"
    a = Cluster(url, f"a-{uuid.uuid4().hex[:6]}", lease_seconds=0.6)
    b = Cluster(url, f"b-{uuid.uuid4().hex[:6]}", lease_seconds=0.6)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


async def test_one_holder_at_a_time_and_only_the_holder_renews_or_releases(
    pair: tuple[Cluster, Cluster],
) -> None:
    a, b = pair
    iid = uuid.uuid4().hex
    assert await a.acquire(iid)
    assert await a.acquire(iid)  # taking it again is fine: already ours
    assert not await b.acquire(iid)
    assert await b.holder(iid) == a.node_id
    await b.release(iid)  # not b's to release
    assert await a.holder(iid) == a.node_id
    assert await a.renew(iid)
    # a stops renewing (as a dead node): the lease expires and b takes it.
    await asyncio.sleep(0.8)
    assert await b.acquire(iid)
    assert not await a.renew(iid)  # lost: a must stop its session
    await b.release(iid)
    assert await a.holder(iid) is None


async def test_two_renewals_at_once_after_a_redis_restart_both_keep_the_lease(
    pair: tuple[Cluster, Cluster],
) -> None:
    """The renewal loop and a step's lease check may renew at once; after a Redis restart
    (no key) both find it vacant and race to take it: the loser must not report it lost."""
    a, b = pair
    for _ in range(5):
        iid = uuid.uuid4().hex
        assert await a.acquire(iid)
        await a._redis.delete(LEASE_PREFIX + iid)  # what a restarted Redis has
        assert list(await asyncio.gather(a.renew(iid), a.renew(iid), a.renew(iid))) == [True] * 3
        assert await b.holder(iid) == a.node_id
        assert not await b.renew(iid)  # another node's renewal still fails


async def test_commands_reach_the_node_that_runs_the_session(
    pair: tuple[Cluster, Cluster],
) -> None:
    a, b = pair
    iid = uuid.uuid4().hex

    async def owner(interview_id: str, msg: dict[str, Any]) -> Any:
        if interview_id != iid:
            raise LookupError(interview_id)
        if msg["op"] == "refuse":
            raise ValueError("no such question")
        if msg["op"] == "stopping":
            raise SessionMoved()  # the session there stopped before applying it
        return {"echo": msg["text"], "by": msg["from"]}

    async def bystander(interview_id: str, msg: dict[str, Any]) -> Any:
        raise LookupError(interview_id)  # runs no session: never answers

    a.on_command = owner
    b.on_command = bystander
    assert await b.request(iid, "say", text="hello") == {"echo": "hello", "by": b.node_id}
    with pytest.raises(RemoteRefused, match="no such question") as refused:
        await b.request(iid, "refuse")
    assert refused.value.code is None
    # A refusal the requester can act on carries its code: "moved" means ask again.
    with pytest.raises(RemoteRefused) as moved:
        await b.request(iid, "stopping")
    assert moved.value.code == SessionMoved.code
    with pytest.raises(NoOwner):
        await a.request(uuid.uuid4().hex, "say", timeout=0.5, text="nobody runs this")


class Inbox:
    """Stands in for the owner's session: records the inputs it is given and who holds it."""

    def __init__(self) -> None:
        self.inputs: list[object] = []
        self.holders = 0

    def submit(self, item: object) -> None:
        self.inputs.append(item)

    def hold(self) -> None:
        self.holders += 1

    def let_go(self) -> None:
        self.holders -= 1


async def test_observers_of_a_node_that_stops_reporting_them_leave() -> None:
    now = [100.0]
    cluster = Cluster("redis://127.0.0.1:6379/0", "owner", lease_seconds=2.0)
    inputs = RemoteInputs(cluster, clock=lambda: now[0])
    inbox = Inbox()
    session = cast(InterviewSession, inbox)
    for key in ("on-dead-node", "on-live-node", "on-live-node"):  # a repeated "joined"
        await inputs.handle(session, {"op": "joined", "link": key, "from": "x"})
    assert [type(i) for i in inbox.inputs] == [ObserverJoined] * 3
    assert inbox.holders == 2  # remote observers keep the owner's session from being released
    now[0] += 4.0
    inputs.sweep(session)  # heard 4 s ago: within 3 lease periods (6 s)
    assert not [i for i in inbox.inputs if isinstance(i, ObserverLeft)]
    # Only the live node keeps reporting its observer.
    await inputs.handle(session, {"op": "presence", "links": ["on-live-node"], "from": "x"})
    now[0] += 3.0  # the dead node's observer: unheard for 7 s, more than 3 lease periods
    inputs.sweep(session)
    left = [i for i in inbox.inputs if isinstance(i, ObserverLeft)]
    assert len(left) == 1
    assert isinstance(left[0].link, RemoteLink) and left[0].link.key == "on-dead-node"
    assert inbox.holders == 1
    await inputs.handle(session, {"op": "left", "link": "on-live-node", "from": "x"})
    await inputs.handle(session, {"op": "left", "link": "on-live-node", "from": "x"})  # again
    assert inbox.holders == 0


class LeaseBoard:
    """What ``Cluster.holder`` says, set by the test (and the calls ``post`` gets)."""

    def __init__(self, holder: str | None, lease_seconds: float) -> None:
        self.holder_now = holder
        self.lease_seconds = lease_seconds
        self.node_id = "here"

    async def holder(self, interview_id: str) -> str | None:
        return self.holder_now

    async def post(self, interview_id: str, op: str, **body: Any) -> None:
        return None

    gate: asyncio.Event | None = None  # set by a test that holds the owner's answers back

    async def request(self, interview_id: str, op: str, **body: Any) -> Any:
        if self.gate is not None:
            await self.gate.wait()
        return None


class SeenClose:
    """An observer's socket here: records the close code it was sent."""

    def __init__(self) -> None:
        self.codes: list[int] = []

    @property
    def closed(self) -> bool:
        return bool(self.codes)

    async def send_json(self, data: Any) -> None:
        return None

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.codes.append(code)
        return True


async def until_told(*links: SeenClose, timeout: float = 2.0) -> None:
    """Wait until every link was sent a close (the remote session's tasks send it)."""
    async with asyncio.timeout(timeout):
        while not all(link.codes for link in links):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_observers_stay_while_a_restarted_redis_has_no_lease_until_the_owner_retakes_it(
) -> None:
    board = LeaseBoard("owner", lease_seconds=1.5)
    remote = RemoteSession(cast(Cluster, board), "iv", "owner")
    link = SeenClose()
    remote._links["k"] = link
    try:
        await asyncio.sleep(0.6)
        board.holder_now = None  # Redis restarted: every lease is gone
        await asyncio.sleep(1.1)  # the watch looked twice and saw nobody
        assert not remote.closed and link.codes == []
        board.holder_now = "owner"  # the owner's next renewal took it again
        await asyncio.sleep(0.6)
        assert not remote.closed and link.codes == []
        board.holder_now = None  # and now the owner is gone for good
        await until_told(link, timeout=5)
        assert remote.closed and link.codes == [1012]
    finally:
        await remote.aclose()


async def test_observers_are_sent_to_the_new_owner_at_once_when_another_node_holds_it() -> None:
    board = LeaseBoard("owner", lease_seconds=1.5)
    remote = RemoteSession(cast(Cluster, board), "iv", "owner")
    link = SeenClose()
    remote._links["k"] = link
    try:
        board.holder_now = "another"
        await until_told(link)
        assert link.codes == [1012]
    finally:
        await remote.aclose()


async def test_a_remote_session_whose_owner_moved_forwards_nothing_more() -> None:
    """An observer who joins a remote session just as its owner moves is sent to reconnect,
    and its inputs are answered "moved" (the route then asks whoever runs the interview now);
    before, such a socket stayed bound to the old owner and every question was refused."""
    board = LeaseBoard("owner", lease_seconds=60.0)
    remote = RemoteSession(cast(Cluster, board), "iv", "owner")
    try:
        # The owner moves just after an observer's "joined" was handed over (its forwarding
        # has not run yet, so the move's sweep cannot see the socket) ...
        first = SeenClose()
        remote.submit(ObserverJoined(first))
        remote._moved()
        # ... and while another's "joined" is on its way to the owner.
        other = RemoteSession(cast(Cluster, board), "iv2", "owner")
        board.gate = asyncio.Event()
        second = SeenClose()
        other.submit(ObserverJoined(second))
        await asyncio.sleep(0.05)
        other._moved()
        board.gate.set()
        await until_told(first, second)
        await asyncio.sleep(0.1)
        assert first.codes == [1012] and second.codes == [1012]  # each told once
        await other.aclose()
        # After the move: a new socket is sent away at once, inputs are answered "moved".
        late = SeenClose()
        remote.submit(ObserverJoined(late))
        action = ObserverAction(InjectQuestion(text="And then?", by="hr"))
        remote.submit(action)
        view = ViewRequested()
        remote.submit(view)
        with pytest.raises(SessionMoved):
            await asyncio.wait_for(action.reply, 2)
        with pytest.raises(SessionMoved):
            await asyncio.wait_for(view.reply, 2)
        await until_told(late)
        assert late.codes == [1012]
    finally:
        await remote.aclose()
