"""Inputs to the interview machine: imperative, typed, JSON-friendly.

Candidate channel: Start, CandidateReady, FinishAnswer, CandidateDisconnected, CandidateReconnected.
Media/ASR: SpeechStarted, SpeechStopped, AddTranscript.  Server: Tick, SuggestFollowup,
NoFollowup, SetObserversPresent, EndInterview.  Observers: InjectQuestion, ApproveFollowup,
SkipFollowup, AddObserverNote, GiveLiveRating.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

# Field limits, defined once: the observer socket (server/protocol.py) and the browser
# (web_client/protocol.js, generated) use these same types.
QuestionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10000)]
QuestionId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
CompetencyId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# The observer page's own id for one question: a re-sent question is applied once.
AskId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Score = Annotated[int, Field(ge=1, le=5)]


class CommandBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Start(CommandBase):
    """The candidate has joined and consented: show the greeting."""

    type: Literal["start"] = "start"


class CandidateReady(CommandBase):
    """The candidate pressed "Ready" after the greeting."""

    type: Literal["candidate_ready"] = "candidate_ready"


class FinishAnswer(CommandBase):
    """The candidate pressed "Done"."""

    type: Literal["finish_answer"] = "finish_answer"


class SpeechStarted(CommandBase):
    """Voice activity began; ``at`` (interview clock) defaults to the handling time."""

    type: Literal["speech_started"] = "speech_started"
    at: float | None = None


class SpeechStopped(CommandBase):
    """Voice activity ended; the answer ends only after a long enough pause."""

    type: Literal["speech_stopped"] = "speech_stopped"
    at: float | None = None


class AddTranscript(CommandBase):
    """Committed text of the candidate's speech (from TranscriptFinal)."""

    type: Literal["add_transcript"] = "add_transcript"
    text: str


class Tick(CommandBase):
    """Time has passed; send about once a second."""

    type: Literal["tick"] = "tick"


class SuggestFollowup(CommandBase):
    """A strategy's answer to a FollowupRequest."""

    type: Literal["suggest_followup"] = "suggest_followup"
    parent_id: str
    text: str
    reason: str
    rule: str
    source: Literal["rules", "llm"] = "rules"


class NoFollowup(CommandBase):
    """A strategy found nothing to ask about this answer."""

    type: Literal["no_followup"] = "no_followup"
    parent_id: str


class SetObserversPresent(CommandBase):
    """Whether anyone watches live (suggestions then wait ``approval_window`` for a decision)."""

    type: Literal["set_observers_present"] = "set_observers_present"
    present: bool


class InjectQuestion(CommandBase):
    """An observer's question: ``next`` after the current question and its follow-ups,
    ``now`` right after the current answer."""

    type: Literal["inject_question"] = "inject_question"
    text: QuestionText
    by: str
    position: Literal["next", "now"] = "next"
    ask_id: AskId | None = None


class ApproveFollowup(CommandBase):
    type: Literal["approve_followup"] = "approve_followup"
    question_id: QuestionId
    by: str


class SkipFollowup(CommandBase):
    type: Literal["skip_followup"] = "skip_followup"
    question_id: QuestionId
    by: str


class AddObserverNote(CommandBase):
    type: Literal["add_observer_note"] = "add_observer_note"
    by: str
    text: NoteText


class GiveLiveRating(CommandBase):
    type: Literal["give_live_rating"] = "give_live_rating"
    by: str
    competency_id: CompetencyId
    score: Score


class CandidateDisconnected(CommandBase):
    """The candidate's connection dropped: timers pause."""

    type: Literal["candidate_disconnected"] = "candidate_disconnected"


class CandidateReconnected(CommandBase):
    """The candidate is back: resume where they were and re-send the current screen."""

    type: Literal["candidate_reconnected"] = "candidate_reconnected"


class EndInterview(CommandBase):
    """Stop now (admin action or the candidate left for good)."""

    type: Literal["end_interview"] = "end_interview"
    reason: str = "ended"


Command = Annotated[
    Start
    | CandidateReady
    | FinishAnswer
    | SpeechStarted
    | SpeechStopped
    | AddTranscript
    | Tick
    | SuggestFollowup
    | NoFollowup
    | SetObserversPresent
    | InjectQuestion
    | ApproveFollowup
    | SkipFollowup
    | AddObserverNote
    | GiveLiveRating
    | CandidateDisconnected
    | CandidateReconnected
    | EndInterview,
    Field(discriminator="type"),
]

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(data: str | bytes | dict[str, object]) -> Command:
    """Parse a command from JSON text or a dict, checking its type tag."""
    if isinstance(data, dict):
        return COMMAND_ADAPTER.validate_python(data)
    return COMMAND_ADAPTER.validate_json(data)
