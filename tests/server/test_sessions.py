"""One owner per live interview: the session registry and the session loop, on the real app."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from analysis.asr.stream import Queued
from analysis.events import TranscriptFinal, TranscriptPartial
from analysis.followup import FollowupRequest, FollowupSuggestion, LlmFollowups
from server.abandon import abandon_overdue
from server.app import create_app
from server.services import SERVICES, Services
from server.session import InterviewSession
from server.session_inputs import AnalyzerResult, Barrier, ObserverOffer
from server.storage.models import Interview, Recording
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import consent, make_settings, new_interview, sign_in
from tests.server.test_interviewer_channels import (
    FAST_PLAN,
    ScriptedClock,
    join,
    planned_interview,
)
from tests.server.test_live_media import wait_for_event

ROOT = Path(__file__).resolve().parents[2]
Client = TestClient[web.Request, web.Application]
TICK = 0.02  # the sessions' timer interval in these tests (the clock itself is scripted)


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


@pytest.fixture
async def api(tmp_path: Path, clock: ScriptedClock) -> AsyncIterator[Client]:
    app = create_app(make_settings(tmp_path), now=clock, tick_seconds=TICK)
    client = TestClient(TestServer(app))
    await client.start_server()
    await sign_in(client)
    yield client
    await client.close()


def services_of(api: Client) -> Services:
    app = api.app
    assert app is not None
    return app[SERVICES]


async def interview_row(api: Client, iid: str) -> Interview:
    async with services_of(api).sessions() as session:
        row: Interview | None = await session.get(Interview, iid)
    assert row is not None
    return row


async def wait_for_status(api: Client, iid: str, status: str, timeout: float = 20) -> Interview:
    async with asyncio.timeout(timeout):
        while True:
            row = await interview_row(api, iid)
            if row.status == status:
                return row
            await asyncio.sleep(0.05)


# -- one session per interview ----------------------------------------------------------


async def test_fifty_concurrent_observers_and_candidate_sockets_share_one_session(
    api: Client,
) -> None:
    iv = await planned_interview(api)
    made: list[object] = []
    registry = services_of(api).live
    make = registry._make  # count what the registry creates, through its own factory

    def counting(iid: str) -> Any:
        session = make(iid)
        made.append(session)
        return session

    registry._make = counting
    observers = await asyncio.gather(
        *[api.ws_connect(f"/ws/observer/{iv['id']}") for _ in range(50)]
    )
    async with ClientSession() as http:
        url = str(api.make_url(f"/ws/candidate/{iv['invite_token']}")).replace("http", "ws", 1)
        candidates = await asyncio.gather(*[http.ws_connect(url) for _ in range(50)])
        # Every observer asks one question at the same moment: all land in the one machine.
        await asyncio.gather(
            *[
                obs.send_json({"type": "inject_question", "text": f"Question {i}?"})
                for i, obs in enumerate(observers)
            ]
        )
        await wait_for_event(api, iv["id"], "question_injected", 50)
        await asyncio.gather(*[c.close() for c in candidates])
    await asyncio.gather(*[obs.close() for obs in observers])
    assert len(made) == 1
    assert len(registry.running()) == 1
    row = await interview_row(api, iv["id"])
    assert row.state is not None and row.state["injected_count"] == 50
    assert row.status == "scheduled"  # watching and connecting without media start nothing
    assert row.started_at is None


# -- order ----------------------------------------------------------------------------------


def check_machine_order(messages: list[dict[str, Any]]) -> list[str]:
    """Replay what the candidate saw: every screen belongs to the question on screen."""
    current: str | None = None
    shown: list[str] = []
    for msg in messages:
        if msg["type"] == "show_question":
            current = msg["question_id"]  # new, resumed, or an observer's "now" interrupting
            shown.append(current)
        elif msg["type"] == "answer_clock_started":
            assert msg["question_id"] == current, msg
        elif msg["type"] == "show_acknowledgement":
            assert msg["question_id"] == current, msg
            current = None
    return shown


async def test_candidate_messages_follow_the_machine_under_concurrent_inputs(
    api: Client, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api, {**FAST_PLAN, "question_count": 4, "thinking_time": 1})
    observers = [await api.ws_connect(f"/ws/observer/{iv['id']}") for _ in range(3)]
    async with ClientSession() as http:
        cand = await join(api, http, iv["invite_token"])
        await cand.next_message("show_greeting")
        await cand.send({"type": "ready"})
        seen: list[dict[str, Any]] = []
        all_injected = asyncio.Event()

        async def inject(obs: Any, n: int) -> None:
            for i in range(n):
                position = "now" if i % 2 else "next"
                await obs.send_json(
                    {
                        "type": "inject_question",
                        "text": f"Observer question {i}?",
                        "position": position,
                    }
                )
                clock.advance(0.7)  # ticks keep firing meanwhile, on the scripted clock
                await asyncio.sleep(0.01)

        async def answer() -> None:
            while True:
                msg = await cand.messages.get()
                seen.append(msg)
                if msg["type"] == "show_question":
                    if msg["progress"] == "Question 4 of 4":
                        await all_injected.wait()  # so that no injection comes after the end
                    # Done twice: the second is late and must not end the next question.
                    await cand.send({"type": "answer_done", "question_id": msg["question_id"]})
                    await cand.send({"type": "answer_done", "question_id": msg["question_id"]})
                if msg["type"] in ("show_completion", "_closed", "ended"):
                    return

        answering = asyncio.create_task(answer())
        await asyncio.gather(*[inject(obs, 4) for obs in observers])
        await wait_for_event(api, iv["id"], "question_injected", 12)
        all_injected.set()
        async with asyncio.timeout(30):
            await answering
        for obs in observers:
            await obs.close()
        await cand.leave()
    shown = check_machine_order(seen)
    events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
    logged = [e["question_id"] for e in events if e["type"] == "question_shown"]
    assert shown == logged  # the candidate saw exactly what the log says, in that order
    injected = [e["question_id"] for e in events if e["type"] == "question_injected"]
    assert len(injected) == 12 and set(injected) <= set(shown)  # none lost
    done = [e["question_id"] for e in events if e["type"] == "answer_done"]
    assert len(done) == len(set(done))  # a late second "done" never ended another question
    assert set(done) == set(shown)


# -- status follows what happened --------------------------------------------------------


async def test_status_scheduled_live_paused_live_finished(
    api: Client, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api)  # consent given: still scheduled
    obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
    assert (await api.get(f"/observe/{iv['id']}")).status == 200
    row = await interview_row(api, iv["id"])
    assert row.status == "scheduled" and row.started_at is None
    async with ClientSession() as http:
        first = await join(api, http, iv["invite_token"])  # media arrived
        row = await wait_for_status(api, iv["id"], "live")
        assert row.started_at is not None and row.reconnect_deadline is None
        await first.leave()
        row = await wait_for_status(api, iv["id"], "paused")
        assert row.reconnect_deadline is not None
        deadline = row.reconnect_deadline.replace(tzinfo=UTC)
        assert deadline == clock.now + timedelta(minutes=10)
        clock.advance(300)  # back within the deadline
        second = await join(api, http, iv["invite_token"])
        row = await wait_for_status(api, iv["id"], "live")
        assert row.reconnect_deadline is None
        await second.send({"type": "finish"})
        await second.next_message("ended")
        row = await wait_for_status(api, iv["id"], "finished")
        assert row.ended_at is not None
        await second.leave()
    await obs.close()


async def test_a_candidate_who_never_comes_back_is_abandoned_after_the_deadline(
    api: Client, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api)
    async with ClientSession() as http:
        cand = await join(api, http, iv["invite_token"])
        await wait_for_status(api, iv["id"], "live")
        await cand.leave()
    await wait_for_status(api, iv["id"], "paused")
    clock.advance(9 * 60)
    await asyncio.sleep(20 * TICK)  # ticks run: still within the deadline
    assert (await interview_row(api, iv["id"])).status == "paused"
    clock.advance(61)
    row = await wait_for_status(api, iv["id"], "abandoned")
    assert row.ended_at is not None
    events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "interview_ended" and "recording_finalized" in kinds
    async with services_of(api).sessions() as session:
        recs = (await session.scalars(select(Recording))).all()
    assert recs and all(r.status != "recording" for r in recs)
    resp = await api.get(f"/api/join/{iv['invite_token']}")
    assert resp.status == 410 and (await resp.json())["error"] == "interview_abandoned"
    async with asyncio.timeout(10):  # the session closes itself
        while services_of(api).live.find(iv["id"]) is not None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


# -- nothing is left behind ------------------------------------------------------------------


def candor_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks running the project's code (not the test's own)."""
    found = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task() or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if any(f"{ROOT}/{part}/" in filename for part in ("server", "media", "analysis")):
            found.append(task)
    return found


def non_daemon_threads() -> list[threading.Thread]:
    """Threads that would keep the process alive (the loop's own executor is the loop's)."""
    return [
        t
        for t in threading.enumerate()
        if not t.daemon and t is not threading.main_thread() and not t.name.startswith("asyncio_")
    ]


async def live_app_cycle(tmp_path: Path) -> int:
    """Start the app, have a candidate stream and an observer watch, stop it within 5 s.

    Returns how many of Candor's tasks ran while the interview was live.
    """
    app = create_app(make_settings(tmp_path), tick_seconds=TICK)
    api = TestClient(TestServer(app))
    await api.start_server()
    http = ClientSession()
    cand: CandidateClient | None = None
    try:
        await sign_in(api)
        iv = await new_interview(api)
        await consent(api, iv["invite_token"])
        cand = CandidateClient(str(api.make_url("")), iv["invite_token"], http)
        await cand.join(video=PatternVideoTrack())
        await wait_for_event(api, iv["id"], "media_started")
        obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
        await obs.send_json({"type": "inject_question", "text": "Still there?"})
        await cand.next_message("show_question")
        running = len(candor_tasks())
    finally:
        async with asyncio.timeout(5):
            await api.close()  # the app stops with the interview live
        if cand is not None and cand.pc is not None:
            await cand.pc.close()
        await http.close()
    return running


async def test_after_app_cleanup_no_task_or_thread_of_candor_is_left(tmp_path: Path) -> None:
    before = set(non_daemon_threads())
    assert await live_app_cycle(tmp_path) >= 3  # the session, its ticker, the sweeper ...
    await asyncio.sleep(0)
    assert candor_tasks() == []
    assert set(non_daemon_threads()) <= before
    assert not [t for t in threading.enumerate() if t.name.startswith("recorder-")]


async def test_twenty_start_stop_cycles_with_a_live_interview_each_stop_in_time(
    tmp_path: Path,
) -> None:
    for i in range(20):
        await live_app_cycle(tmp_path / str(i))
        assert candor_tasks() == []


async def test_an_overdue_paused_interview_without_a_session_is_abandoned_too(
    api: Client, clock: ScriptedClock
) -> None:
    iv = await planned_interview(api)
    async with ClientSession() as http:
        cand = await join(api, http, iv["invite_token"])
        await wait_for_status(api, iv["id"], "live")
        await cand.leave()
    await wait_for_status(api, iv["id"], "paused")
    svc = services_of(api)
    await svc.live.stop(iv["id"])  # as after a restart: nothing runs for this interview
    assert svc.live.find(iv["id"]) is None
    assert await abandon_overdue(svc) == []  # not yet overdue
    clock.advance(10 * 60 + 1)
    assert await abandon_overdue(svc) == [iv["id"]]
    row = await wait_for_status(api, iv["id"], "abandoned")
    assert row.reconnect_deadline is None and row.ended_at is not None


class WatchedLlm(LlmFollowups):
    """The real LLM strategy, remembering the HTTP session it used."""

    used: ClientSession | None = None

    async def propose(self, request: FollowupRequest) -> FollowupSuggestion | None:
        suggestion = await super().propose(request)
        self.used = self._client()
        return suggestion


async def test_the_llm_strategy_closes_its_http_session_when_the_interview_ends(
    tmp_path: Path, clock: ScriptedClock
) -> None:
    calls: list[object] = []

    async def chat(request: web.Request) -> web.Response:
        calls.append(await request.json())
        reply = '{"followup": null, "reason": "complete answer"}'
        return web.json_response({"choices": [{"message": {"content": reply}}]})

    stub = web.Application()
    stub.router.add_post("/v1/chat/completions", chat)
    llm = TestServer(stub, host="127.0.0.1")
    await llm.start_server()
    settings = make_settings(
        tmp_path,
        followup_llm={"enabled": True, "base_url": str(llm.make_url("/v1")), "model": "m"},
    )
    api: Client = TestClient(TestServer(create_app(settings, now=clock, tick_seconds=TICK)))
    await api.start_server()
    strategies: list[WatchedLlm] = []

    def make(iid: str) -> InterviewSession:
        strategies.append(WatchedLlm(settings.followup_llm))
        return InterviewSession(services_of(api), iid, tick_seconds=TICK, strategy=strategies[-1])

    services_of(api).live._make = make
    try:
        await sign_in(api)
        iv = await planned_interview(api)
        async with ClientSession() as http:
            cand = await join(api, http, iv["invite_token"])
            await cand.next_message("show_greeting")
            await cand.send({"type": "ready"})
            q1 = await cand.next_message("show_question")
            session = services_of(api).live.get(iv["id"])
            said = "I led the migration of our billing service and we shipped it on time."
            heard = TranscriptFinal(interview_id=iv["id"], utterance_id="u1", text=said)
            session.submit(AnalyzerResult(heard))
            await cand.send({"type": "answer_done", "question_id": q1["question_id"]})
            await cand.next_message("show_question")  # the LLM was asked, and said no
            await cand.send({"type": "finish"})
            await cand.next_message("ended")
            await cand.leave()
        await wait_for_status(api, iv["id"], "finished")
        async with asyncio.timeout(10):
            while services_of(api).live.find(iv["id"]) is not None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert len(calls) == 1
        [strategy] = strategies
        assert strategy.used is not None and strategy.used.closed
    finally:
        await api.close()
        await llm.close()


async def at_first_question(
    api: Client, http: ClientSession, iv: dict[str, Any]
) -> tuple[CandidateClient, InterviewSession]:
    """The candidate joined, pressed "Ready" and sees the first question; its session."""
    cand = await join(api, http, iv["invite_token"])
    await cand.next_message("show_greeting")
    await cand.send({"type": "ready"})
    await cand.next_message("show_question")
    return cand, services_of(api).live.get(iv["id"])


class HeldObserverPeer:
    """An observer's media peer whose negotiation waits until the test lets it go."""

    def __init__(self) -> None:
        self.go = asyncio.Event()

    async def accept(self, sdp: str, tracks: list[Any]) -> str:
        await self.go.wait()
        return "answer"

    async def close(self) -> None:
        self.go.set()


class OneFinal:
    """A transcription stream that hears one final, then ends."""

    def __init__(self, final: TranscriptFinal) -> None:
        self.final = final

    async def timed_batches(self) -> AsyncIterator[list[Queued]]:
        yield [Queued(self.final, time.monotonic())]


class Batches:
    """A transcription stream whose events waited in batches (a busy loop), each ``waited``."""

    def __init__(self, *batches: list[Any], waited: float = 0.0) -> None:
        self.batches = batches
        self.waited = waited

    async def timed_batches(self) -> AsyncIterator[list[Queued]]:
        for batch in self.batches:
            yield [Queued(e, time.monotonic() - self.waited) for e in batch]


async def test_a_final_is_logged_while_the_session_is_busy_and_the_machine_gets_it_after(
    api: Client,
) -> None:
    """Transcripts do not queue behind the session's inputs (a loaded node's inbox can be
    seconds long): the log and observers have a final at once, the machine in its turn."""
    svc = services_of(api)
    iv = await planned_interview(api)
    async with ClientSession() as http:
        cand, session = await at_first_question(api, http, iv)
        peer = HeldObserverPeer()
        busy = ObserverOffer(peer=peer, sdp="offer")
        session.submit(busy)  # the session's loop now waits for this negotiation
        said = "We rebuilt the billing service in six weeks."
        heard = TranscriptFinal(
            interview_id=iv["id"], utterance_id="u1", text=said, start=1.0, end=3.0
        )
        async with svc.bus.subscribe(iv["id"]) as sub:
            await session._read_transcripts(OneFinal(heard))  # type: ignore[arg-type]
            got = await sub.get(2.0)
        assert isinstance(got, TranscriptFinal) and got.text == said and got.seq
        logged = await svc.events.history(iv["id"], ["transcript_final"])
        assert [e.text for e in logged if isinstance(e, TranscriptFinal)] == [said]
        assert not busy.reply.done()
        machine = session._machine
        assert machine is not None and machine.state.current is not None
        assert machine.state.current.transcript == []  # the machine has not had it yet
        peer.go.set()
        assert await busy.reply == ("answer", True)
        done = Barrier()
        session.submit(done)
        await done.reply
        assert machine.state.current.transcript == [said]
        await cand.leave()


async def test_transcripts_that_waited_are_stored_together_and_each_reaches_the_machine(
    api: Client,
) -> None:
    svc = services_of(api)
    iv = await planned_interview(api)
    async with ClientSession() as http:
        cand, session = await at_first_question(api, http, iv)
        iid = iv["id"]
        first = TranscriptFinal(interview_id=iid, utterance_id="u1", text="First.", end=2.0)
        again = TranscriptFinal(interview_id=iid, utterance_id="u1", text="First.", end=2.0)
        partial = TranscriptPartial(interview_id=iid, utterance_id="u2", text="Sec")
        second = TranscriptFinal(interview_id=iid, utterance_id="u2", text="Second.", end=4.0)
        third = TranscriptFinal(interview_id=iid, utterance_id="u3", text="Third.", end=6.0)
        stream = Batches(
            [first], [partial, second, third], [again, third.model_copy()], waited=2.0
        )
        async with svc.bus.subscribe(iid) as sub:
            await session._read_transcripts(stream)  # type: ignore[arg-type]
            heard: list[tuple[str, str]] = []
            async with asyncio.timeout(5):
                while len(heard) < 4:
                    got = await sub.get(2.0)
                    if isinstance(got, TranscriptFinal | TranscriptPartial):
                        heard.append((got.type, got.text))
        assert heard == [
            ("transcript_final", "First."),
            ("transcript_partial", "Sec"),
            ("transcript_final", "Second."),
            ("transcript_final", "Third."),
        ]
        logged = await svc.events.history(iid, ["transcript_final"])
        # the repeated finals (a worker's redelivery) were dropped, each once
        assert [e.text for e in logged if isinstance(e, TranscriptFinal)] == [
            "First.", "Second.", "Third."
        ]
        seqs = [e.seq for e in await svc.events.history(iid)]
        assert seqs == list(range(1, len(seqs) + 1))
        done = Barrier()
        session.submit(done)
        await done.reply
        machine = session._machine
        assert machine is not None and machine.state.current is not None
        assert machine.state.current.transcript == ["First.", "Second.", "Third."]
        # /metrics shows how long events waited to be stored, and in what batches
        sample = svc.metrics.registry.get_sample_value
        assert sample("candor_transcript_store_batch_events_count") == 3
        assert sample("candor_transcript_store_batch_events_sum") == 6
        assert sample("candor_transcript_store_wait_seconds_count") == 6
        assert sample("candor_transcript_store_wait_seconds_bucket", {"le": "1.0"}) == 0
        assert (sample("candor_transcript_store_wait_seconds_sum") or 0) >= 6 * 2.0
        await cand.leave()
