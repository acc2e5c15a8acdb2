"""The wire protocol of the two live sockets, as typed message unions.

Four unions, one per direction: candidate → server (:data:`CandidateIn`), server →
candidate (:data:`CandidateOut`), observer → server (:data:`ObserverIn`) and server →
observer (:data:`ObserverOut`). Messages are parsed once at the socket boundary
(:func:`parse_candidate`, :func:`parse_observer`); a message that does not fit becomes a
:class:`Violation` that says how to answer it. ``web_client/protocol.js`` is generated from
these models (``python run.py gen-protocol``), so the browser and the server share one
definition of every type name, field and limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from analysis.events import Event
from analysis.interview.commands import (
    AskId,
    CompetencyId,
    NoteText,
    QuestionId,
    QuestionText,
    Score,
)
from analysis.interview.machine import ObserverView
from analysis.interview.messages import (
    AnswerClockStarted,
    ShowAcknowledgement,
    ShowCompletion,
    ShowGreeting,
    ShowQuestion,
)

# Close codes: 4000 + the closest HTTP status.
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNKNOWN_TYPE = 4404
CLOSE_REPLACED = 4409
CLOSE_TOO_LARGE = 4413

MAX_SDP_CHARS = 32 * 1024
"""An SDP offer with audio, video and gathered candidates is 3 to 8 KiB; 32 KiB is ample."""

Sdp = Annotated[str, StringConstraints(pattern=r"^v=0", max_length=MAX_SDP_CHARS)]
Position = Literal["now", "next"]
ErrorCode = Literal[
    "bad_message", "bad_sdp", "bad_question", "unknown_type", "refused", "forbidden"
]


class Incoming(BaseModel):
    """A message from a browser: closed (unknown fields are refused) and immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Outgoing(BaseModel):
    """A message to a browser."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# -- shared -------------------------------------------------------------------------


class Offer(Incoming):
    """A WebRTC offer (non-trickle: all ICE candidates are in the SDP)."""

    type: Literal["offer"] = "offer"
    sdp: Sdp


class ErrorMessage(Outgoing):
    """Something the browser sent was refused; ``message`` is for people."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str


# -- candidate → server -------------------------------------------------------------


class AnswerDoneRequest(Incoming):
    """The candidate pressed Done; ``question_id`` names the question on their screen."""

    type: Literal["answer_done"] = "answer_done"
    question_id: QuestionId | None = None


class ReadyRequest(Incoming):
    """The candidate read the greeting and wants to begin."""

    type: Literal["ready"] = "ready"


class Heartbeat(Incoming):
    """Keeps the channel open through proxies; answered with ``heartbeat_ack``."""

    type: Literal["heartbeat"] = "heartbeat"


class FinishRequest(Incoming):
    """The candidate ends the interview."""

    type: Literal["finish"] = "finish"


CandidateIn = Annotated[
    Offer | AnswerDoneRequest | ReadyRequest | Heartbeat | FinishRequest,
    Field(discriminator="type"),
]

# -- server → candidate -------------------------------------------------------------


class Welcome(Outgoing):
    """The channel is open."""

    type: Literal["welcome"] = "welcome"
    interview_id: str


class CandidateAnswer(Outgoing):
    """The server's SDP answer; ``segment`` is the recording segment this join started."""

    type: Literal["answer"] = "answer"
    sdp: str
    segment: int


class HeartbeatAck(Outgoing):
    """The reply to a heartbeat."""

    type: Literal["heartbeat_ack"] = "heartbeat_ack"


class Ended(Outgoing):
    """The interview is over; the server closes the channel next."""

    type: Literal["ended"] = "ended"
    reason: str


CandidateOut = Annotated[
    Welcome
    | CandidateAnswer
    | ErrorMessage
    | HeartbeatAck
    | Ended
    | ShowGreeting
    | ShowQuestion
    | AnswerClockStarted
    | ShowAcknowledgement
    | ShowCompletion,
    Field(discriminator="type"),
]

# -- observer → server --------------------------------------------------------------


class AskQuestion(Incoming):
    """Ask the candidate a question: ``now`` (right away or after the answer) or ``next``."""

    type: Literal["inject_question"] = "inject_question"
    text: QuestionText
    position: Position = "now"
    ask_id: AskId | None = None
    """The page's id for this question: answered by ``question_received``; a question re-sent
    with the same id after a reconnect is applied once."""


class ApproveSuggestion(Incoming):
    """Ask the pending follow-up."""

    type: Literal["approve_followup"] = "approve_followup"
    question_id: QuestionId


class SkipSuggestion(Incoming):
    """Do not ask the pending follow-up."""

    type: Literal["skip_followup"] = "skip_followup"
    question_id: QuestionId


class AddNote(Incoming):
    """A private note about the current (or last) question."""

    type: Literal["add_observer_note"] = "add_observer_note"
    text: NoteText


class RateCompetency(Incoming):
    """A live rating of one competency, 1 to 5."""

    type: Literal["give_live_rating"] = "give_live_rating"
    competency_id: CompetencyId
    score: Score


class ViewRequest(Incoming):
    """Send the observer view again."""

    type: Literal["view"] = "view"


class Ping(Incoming):
    """Answered with ``pong``."""

    type: Literal["ping"] = "ping"


ObserverCommand = AskQuestion | ApproveSuggestion | SkipSuggestion | AddNote | RateCompetency

ObserverIn = Annotated[
    Offer
    | AskQuestion
    | ApproveSuggestion
    | SkipSuggestion
    | AddNote
    | RateCompetency
    | ViewRequest
    | Ping,
    Field(discriminator="type"),
]

# -- server → observer --------------------------------------------------------------


class History(Outgoing):
    """Stored events after ``after`` (all of them on a first connect), in order.

    ``last_seq`` is the sequence number of the newest stored event at sending; live events
    with a ``seq`` up to it are already included and are dropped.
    """

    type: Literal["history"] = "history"
    after: int = 0
    last_seq: int
    events: list[Event]


class LiveEvent(Outgoing):
    """One event as it happens (see ``Event.seq`` for ordering and gaps)."""

    type: Literal["event"] = "event"
    event: Event


class ViewMessage(Outgoing):
    """The plan, current question, queue and pending suggestion (None without a plan)."""

    type: Literal["view"] = "view"
    view: ObserverView | None


class ObserverAnswer(Outgoing):
    """The server's SDP answer; ``live`` says whether the candidate's media is flowing."""

    type: Literal["answer"] = "answer"
    sdp: str
    live: bool


class Pong(Outgoing):
    """The reply to a ping."""

    type: Literal["pong"] = "pong"


class QuestionReceived(Outgoing):
    """The question ``ask_id`` was dealt with: applied, or refused (an ``error`` came first).

    A question without this reply (the interview moved while it was on its way) is the
    page's to send again after it reconnects.
    """

    type: Literal["question_received"] = "question_received"
    ask_id: AskId


ObserverOut = Annotated[
    History | LiveEvent | ViewMessage | ObserverAnswer | ErrorMessage | Pong | QuestionReceived,
    Field(discriminator="type"),
]

CANDIDATE_IN: TypeAdapter[CandidateIn] = TypeAdapter(CandidateIn)
CANDIDATE_OUT: TypeAdapter[CandidateOut] = TypeAdapter(CandidateOut)
OBSERVER_IN: TypeAdapter[ObserverIn] = TypeAdapter(ObserverIn)
OBSERVER_OUT: TypeAdapter[ObserverOut] = TypeAdapter(ObserverOut)


# -- parsing at the socket boundary -------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """How to answer a message that does not fit the protocol."""

    close_code: int
    reason: str
    error: ErrorMessage | None = None


class ProtocolError(Exception):
    """A message broke the protocol; ``violation`` says how to answer."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.reason)
        self.violation = violation


def parse_candidate(raw: str | bytes) -> CandidateIn:
    """One candidate message from JSON text; raises :class:`ProtocolError`."""
    try:
        return CANDIDATE_IN.validate_json(raw)
    except ValidationError as exc:
        raise ProtocolError(violation_of(exc)) from None


def parse_observer(raw: str | bytes) -> ObserverIn:
    """One observer message from JSON text; raises :class:`ProtocolError`."""
    try:
        return OBSERVER_IN.validate_json(raw)
    except ValidationError as exc:
        raise ProtocolError(violation_of(exc)) from None


_NOT_AN_OBJECT = {"json_invalid", "json_type", "union_tag_not_found"}


def violation_of(exc: ValidationError) -> Violation:
    """The answer to a message that failed validation (close code, reason, error to send)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    kind, loc = first["type"], first["loc"]
    if kind in _NOT_AN_OBJECT or not loc or loc == ("type",):
        if kind == "union_tag_invalid":
            return Violation(
                CLOSE_UNKNOWN_TYPE,
                "unknown message type",
                ErrorMessage(code="unknown_type", message="Unknown message type."),
            )
        return Violation(CLOSE_BAD_MESSAGE, "messages must be JSON objects with a type")
    tag = str(loc[0]) if loc else ""
    field = ".".join(str(part) for part in loc[1:]) or "message"
    if kind == "string_too_long":
        limit = first.get("ctx", {}).get("max_length")
        name = "SDP offer" if field == "sdp" else field.replace("_", " ")
        return Violation(
            CLOSE_TOO_LARGE,
            f"{field} too large",
            ErrorMessage(
                code="bad_sdp" if field == "sdp" else "bad_message",
                message=f"The {name} is too long (at most {limit} characters).",
            ),
        )
    if field == "sdp":
        return Violation(
            CLOSE_BAD_MESSAGE,
            "malformed SDP offer",
            ErrorMessage(code="bad_sdp", message="The offer is not valid SDP."),
        )
    return Violation(
        CLOSE_BAD_MESSAGE,
        f"invalid {tag} message",
        ErrorMessage(
            code="bad_question" if tag == "inject_question" else "bad_message",
            message=f"Invalid {tag.replace('_', ' ')} message: {field}: {first['msg']}.",
        ),
    )


async def send(ws: web.WebSocketResponse, message: Outgoing) -> None:
    """Send one typed message as JSON, if the socket is still open."""
    if not ws.closed:
        await ws.send_str(message.model_dump_json())


async def refuse(ws: web.WebSocketResponse, violation: Violation) -> None:
    """Answer a protocol violation: send its error (if any), then close with its code."""
    if violation.error is not None:
        await send(ws, violation.error)
    await ws.close(code=violation.close_code, message=violation.reason.encode())
