"""The socket message unions: every type parses, every limit holds, protocol.js is generated."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web import Application, Request
from pydantic import TypeAdapter

from analysis.interview.commands import InjectQuestion
from server.protocol import (
    CANDIDATE_IN,
    CANDIDATE_OUT,
    CLOSE_BAD_MESSAGE,
    CLOSE_TOO_LARGE,
    CLOSE_UNKNOWN_TYPE,
    MAX_SDP_CHARS,
    OBSERVER_IN,
    OBSERVER_OUT,
    ProtocolError,
    parse_candidate,
    parse_observer,
)
from server.protocol_js import OUTPUT, render
from tests.server.helpers import new_interview

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"
EVENT = {"type": "candidate_joined", "interview_id": "iv", "segment": 1, "seq": 3}

VALID: dict[str, dict[str, dict[str, Any]]] = {
    "candidate_in": {
        "offer": {"sdp": SDP},
        "answer_done": {"question_id": "q1"},
        "ready": {},
        "heartbeat": {},
        "finish": {},
    },
    "candidate_out": {
        "welcome": {"interview_id": "iv"},
        "answer": {"sdp": SDP, "segment": 1},
        "error": {"code": "bad_sdp", "message": "The offer is not valid SDP."},
        "heartbeat_ack": {},
        "ended": {"reason": "completed"},
        "show_greeting": {"text": "Hello", "language": "en"},
        "show_question": {
            "question_id": "q1",
            "text": "Why?",
            "kind": "question",
            "index": 1,
            "total": 3,
            "progress": "1 / 3",
            "language": "en",
            "thinking_left": 5.0,
            "time_limit": 120.0,
            "time_left": 120.0,
        },
        "answer_clock_started": {"question_id": "q1", "time_left": 60.0},
        "show_acknowledgement": {"question_id": "q1", "text": "Thank you."},
        "show_completion": {"text": "Done.", "next_steps": "We will write."},
    },
    "observer_in": {
        "offer": {"sdp": SDP},
        "inject_question": {"text": "What failed?", "position": "next", "ask_id": "a1-b2"},
        "approve_followup": {"question_id": "f1"},
        "skip_followup": {"question_id": "f1"},
        "add_observer_note": {"text": "Clear answer."},
        "give_live_rating": {"competency_id": "c1", "score": 4},
        "view": {},
        "ping": {},
    },
    "observer_out": {
        "history": {"after": 0, "last_seq": 3, "events": [EVENT]},
        "event": {"event": EVENT},
        "view": {"view": None},
        "answer": {"sdp": SDP, "live": True},
        "error": {"code": "refused", "message": "No."},
        "pong": {},
        "question_received": {"ask_id": "q-1"},
    },
}
ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "candidate_in": CANDIDATE_IN,
    "candidate_out": CANDIDATE_OUT,
    "observer_in": OBSERVER_IN,
    "observer_out": OBSERVER_OUT,
}


def tags(adapter: TypeAdapter[Any]) -> set[str]:
    return set(adapter.json_schema()["discriminator"]["mapping"])


@pytest.mark.parametrize("direction", list(VALID))
def test_every_message_type_has_a_valid_example_that_round_trips(direction: str) -> None:
    adapter = ADAPTERS[direction]
    assert set(VALID[direction]) == tags(adapter)  # a new type needs an example here
    for kind, fields in VALID[direction].items():
        msg = adapter.validate_json(json.dumps({"type": kind, **fields}))
        assert msg.type == kind
        assert adapter.validate_json(msg.model_dump_json()) == msg


@pytest.mark.parametrize("direction", list(VALID))
def test_every_message_type_refuses_unknown_fields(direction: str) -> None:
    for kind, fields in VALID[direction].items():
        with pytest.raises(ValueError):
            ADAPTERS[direction].validate_json(json.dumps({"type": kind, **fields, "x": 1}))


def violation(raw: str, observer: bool = False) -> tuple[int, str | None]:
    with pytest.raises(ProtocolError) as info:
        (parse_observer if observer else parse_candidate)(raw)
    v = info.value.violation
    return v.close_code, v.error.code if v.error else None


def test_malformed_messages_map_to_clear_close_codes() -> None:
    assert violation("hello?") == (CLOSE_BAD_MESSAGE, None)
    assert violation("[1, 2]") == (CLOSE_BAD_MESSAGE, None)
    assert violation('{"sdp": "v=0"}') == (CLOSE_BAD_MESSAGE, None)
    assert violation('{"type": "launch_rockets"}') == (CLOSE_UNKNOWN_TYPE, "unknown_type")
    assert violation('{"type": "offer", "sdp": "not sdp"}') == (CLOSE_BAD_MESSAGE, "bad_sdp")
    assert violation('{"type": "heartbeat", "pad": 1}') == (CLOSE_BAD_MESSAGE, "bad_message")
    # A type of the other socket is unknown here.
    assert violation('{"type": "ping"}') == (CLOSE_UNKNOWN_TYPE, "unknown_type")
    assert violation('{"type": "ready"}', observer=True) == (CLOSE_UNKNOWN_TYPE, "unknown_type")


def test_limits_hold_exactly_at_their_edge() -> None:
    at_limit = SDP + "a" * (MAX_SDP_CHARS - len(SDP))
    assert parse_candidate(json.dumps({"type": "offer", "sdp": at_limit})).type == "offer"
    too_long = json.dumps({"type": "offer", "sdp": at_limit + "a"})
    assert violation(too_long) == (CLOSE_TOO_LARGE, "bad_sdp")
    assert violation(json.dumps({"type": "answer_done", "question_id": "q" * 65}))[0] == (
        CLOSE_TOO_LARGE
    )
    ok = parse_observer(json.dumps({"type": "inject_question", "text": "x" * 1000}))
    assert ok.type == "inject_question"
    long_question = json.dumps({"type": "inject_question", "text": "x" * 1001})
    assert violation(long_question, observer=True) == (CLOSE_TOO_LARGE, "bad_message")
    blank = json.dumps({"type": "inject_question", "text": "   "})
    assert violation(blank, observer=True) == (CLOSE_BAD_MESSAGE, "bad_question")
    rating = json.dumps({"type": "give_live_rating", "competency_id": "c", "score": 6})
    assert violation(rating, observer=True) == (CLOSE_BAD_MESSAGE, "bad_message")


def test_the_socket_and_the_machine_share_one_question_limit() -> None:
    def limit(schema: dict[str, Any]) -> int:
        return int(schema["properties"]["text"]["maxLength"])

    socket = OBSERVER_IN.json_schema()["$defs"]["AskQuestion"]
    assert limit(socket) == limit(InjectQuestion.model_json_schema()) == 1000


def test_committed_protocol_js_is_what_the_generator_writes() -> None:
    committed = OUTPUT.read_text(encoding="utf-8")
    assert committed == render(), "web_client/protocol.js is stale: run scripts/gen_protocol.py"


def test_protocol_js_carries_types_limits_and_live_only_events() -> None:
    text = render()
    assert '"INJECT_QUESTION": "inject_question"' in text
    assert '"text": {"type": "string", "minLength": 1, "maxLength": 1000, "required": true}' in text
    assert 'LIVE_ONLY_EVENTS = Object.freeze(["transcript_partial"])' in text
    assert "@typedef {Object} ShowQuestion" in text


async def observer(admin: TestClient[Request, Application], iid: str, after: int = 0) -> Any:
    ws = await admin.ws_connect(f"/ws/observer/{iid}?after={after}")
    assert (await ws.receive_json())["type"] == "history"
    assert (await ws.receive_json())["type"] == "view"
    return ws


async def test_observer_mistakes_are_answered_and_the_socket_stays_open(
    admin: TestClient[Request, Application],
) -> None:
    iv = await new_interview(admin)
    ws = await observer(admin, iv["id"])
    await ws.send_json({"type": "inject_question", "text": "x" * 1001})
    err = await ws.receive_json()
    assert err["type"] == "error" and "at most 1000" in err["message"]
    await ws.send_json({"type": "give_live_rating", "competency_id": "c", "score": 0})
    assert (await ws.receive_json())["code"] == "bad_message"
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json() == {"type": "pong"}
    await ws.send_json({"type": "launch_rockets"})
    assert (await ws.receive_json())["code"] == "unknown_type"
    msg = await ws.receive(timeout=5)
    assert ws.close_code == CLOSE_UNKNOWN_TYPE, msg
    await ws.close()


async def test_observer_with_a_bad_after_gets_a_clear_400(
    admin: TestClient[Request, Application],
) -> None:
    iv = await new_interview(admin)
    resp = await admin.get(f"/ws/observer/{iv['id']}?after=last", headers={"Accept": "x"})
    assert resp.status == 400
    resp = await admin.get(f"/api/interviews/{iv['id']}/events?after=-1")
    assert resp.status == 400
    assert "whole number" in (await resp.json())["message"]
