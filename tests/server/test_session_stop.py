"""A session that stops while its interview goes on (handed over, lease lost, server stopping).

What reaches it after it began stopping is refused as *moved*, never as "the interview has
finished"; a new attach gets the interview's next session, not the stopping one; its observers
are told to reconnect (1012). The full-scale cluster run found 401 of 1,930 observer questions
refused as finished although no interview had ended (docs/operations.md).

Real app, real database, real sockets; the wall clock is scripted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession

from analysis.events import Event
from analysis.interview.commands import InjectQuestion
from server.app import create_app
from server.event_log import StoreHookFor
from server.session import SessionMoved
from server.session_inputs import ObserverAction, Shutdown
from tests.server.helpers import make_settings, services_of, sign_in
from tests.server.test_interviewer_channels import ScriptedClock, join, planned_interview

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Client]:
    app = create_app(make_settings(tmp_path), now=ScriptedClock(), tick_seconds=0.02)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    await sign_in(client)
    yield client
    await client.close()


async def events_of(api: Client, iid: str) -> list[dict[str, Any]]:
    return list(await (await api.get(f"/api/interviews/{iid}/events")).json())


async def audited(api: Client, iid: str) -> list[str]:
    """The audited actions on one interview."""
    entries = await (await api.get("/api/audit")).json()
    return [e["action"] for e in entries if e["target"] == iid]


async def until_logged(api: Client, iid: str, text: str) -> None:
    async with asyncio.timeout(20):
        while True:
            events = await events_of(api, iid)
            if [e for e in events if e["type"] == "question_injected" and e["text"] == text]:
                return
            await asyncio.sleep(0.05)


async def test_a_question_queued_behind_a_handover_is_moved_and_applied_by_the_next_session(
    api: Client,
) -> None:
    iv = await planned_interview(api)
    registry = services_of(api).live
    obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
    async with asyncio.timeout(20):
        while (await obs.receive_json())["type"] != "view":
            pass
    first = registry.find(iv["id"])
    assert first is not None

    # Another node asks for the interview; an observer's question arrives right behind that.
    first.submit(Shutdown(handover=True))
    action = ObserverAction(InjectQuestion(text="Queued behind the handover?", by="hr@x.org"))
    first.submit(action)
    # Whoever attaches now gets the interview's next session, never the stopping one.
    async with registry.attach(iv["id"]) as late:
        assert late is not first
    # The queued question was not applied there, and it is not "finished": it moved.
    with pytest.raises(SessionMoved):
        await action.reply
    assert not first.interview_over

    # The watching observer is told to reconnect, not that the interview ended.
    async with asyncio.timeout(20):
        while (msg := await obs.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            assert not (msg.type == WSMsgType.TEXT and msg.json()["type"] == "error"), msg.data
    assert msg.data == 1012  # the code the server sent (it may close the transport first)
    await obs.close()

    # On reconnecting, the observer's questions are applied by the interview's next session.
    again = await api.ws_connect(f"/ws/observer/{iv['id']}")
    await again.send_json({"type": "inject_question", "text": "Asked after reconnecting?"})
    await until_logged(api, iv["id"], "Asked after reconnecting?")
    second = registry.find(iv["id"])
    assert second is not None and second is not first
    await again.close()


async def test_a_question_sent_through_a_socket_whose_session_stopped_is_applied_once(
    api: Client,
) -> None:
    """The socket still holds the stopped session: its question reaches the next one, once.

    The observer page keeps a question until the server answers ``question_received`` and
    sends it again, with the same id, after it reconnects (web_client/observer.js); the test
    does what the page does. Before, a question whose second try found no session was refused
    "moved" after the socket had closed: the page was never told and the question was lost.
    """
    iv = await planned_interview(api)
    registry = services_of(api).live
    obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
    async with asyncio.timeout(20):
        while (await obs.receive_json())["type"] != "view":
            pass
    first = registry.find(iv["id"])
    assert first is not None
    first.submit(Shutdown(handover=True))
    # Sent at once: the socket's handler may read it before or after the session closes it.
    ask = {"type": "inject_question", "text": "Sent during the handover?", "ask_id": "q-1"}
    await obs.send_json(ask)
    errors: list[str] = []
    received = False
    async with asyncio.timeout(20):
        while (msg := await obs.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            if msg.type == WSMsgType.TEXT and msg.json()["type"] == "error":
                errors.append(msg.json()["message"])
            received |= msg.type == WSMsgType.TEXT and msg.json()["type"] == "question_received"
    assert msg.data == 1012
    await obs.close()
    assert "the interview has finished" not in errors
    if not received:  # the page sends it again once it has reconnected
        again = await api.ws_connect(f"/ws/observer/{iv['id']}")
        await again.send_json(ask)
        async with asyncio.timeout(20):
            while (await again.receive_json())["type"] != "question_received":
                pass
        await again.close()
    await until_logged(api, iv["id"], "Sent during the handover?")
    asked = [e for e in await events_of(api, iv["id"]) if e["type"] == "question_injected"]
    assert [e["ask_id"] for e in asked] == ["q-1"]


async def test_a_question_sent_again_with_its_id_is_applied_once(api: Client) -> None:
    """A page that missed the reply sends the question again: both sends are answered."""
    iv = await planned_interview(api)
    obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
    ask = {"type": "inject_question", "text": "Asked twice?", "ask_id": "q-twice"}
    for _ in range(2):
        await obs.send_json(ask)
        async with asyncio.timeout(20):
            while (msg := await obs.receive_json())["type"] != "question_received":
                assert msg["type"] != "error", msg
        assert msg["ask_id"] == "q-twice"
    await obs.close()
    asked = [e for e in await events_of(api, iv["id"]) if e["type"] == "question_injected"]
    assert [(e["text"], e["ask_id"]) for e in asked] == [("Asked twice?", "q-twice")]


async def test_a_step_whose_events_were_not_stored_leaves_no_state_behind(api: Client) -> None:
    """The machine's state and the step's events commit together.

    Before, the state was saved first and the events appended after: a node killed in between
    left a saved current question the log never showed, and the node taking over showed the
    candidate that question (1 of 6 candidates after the node kill of the full-scale run).
    Here the step's events cannot be stored (a store hook fails, as the database going away
    would); the interview resumed from the database shows the log's current question.
    """
    iv = await planned_interview(api)
    svc = services_of(api)
    async with ClientSession() as http:
        cand = await join(api, http, iv["invite_token"])
        await cand.next_message("show_greeting")
        await cand.send({"type": "ready"})
        await cand.next_message("show_question")
        obs = await api.ws_connect(f"/ws/observer/{iv['id']}")
        await obs.send_json({"type": "inject_question", "text": "Shown and logged?"})
        shown = await cand.next_message("show_question")
        assert shown["text"] == "Shown and logged?"

        async def fail_on_lost(session: AsyncSession, event: Event) -> None:
            if event.type == "question_shown" and event.text == "Never logged?":
                raise RuntimeError("the database went away")

        hook = StoreHookFor(frozenset({"question_shown"}), fail_on_lost)
        svc.events.store_hooks.append(hook)
        session = svc.live.find(iv["id"])
        assert session is not None
        lost = ObserverAction(InjectQuestion(text="Never logged?", by="hr@x.org", position="now"))
        session.submit(lost)
        with pytest.raises(RuntimeError, match="went away"):
            await lost.reply
        svc.events.store_hooks.remove(hook)
        await obs.close()

        # The interview moves (as to another node): its next session loads it from the database.
        await cand.leave(vanish=True)
        await svc.live.stop(iv["id"])
        back = await join(api, http, iv["invite_token"])
        resumed = await back.next_message("show_question")
        events = await events_of(api, iv["id"])
        logged = [e for e in events if e["type"] == "question_shown"]
        assert resumed["question_id"] == logged[-1]["question_id"] == shown["question_id"]
        assert "Never logged?" not in [e.get("text") for e in events]
        await back.leave()
