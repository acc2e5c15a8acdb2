"""What the candidate's page shows. Never carries a score, a rule, a reason or an observer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from analysis.competency.model import Language

QuestionKind = Literal["practice", "question", "followup"]
"""How the candidate page labels a question."""


class MessageBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ShowGreeting(MessageBase):
    type: Literal["show_greeting"] = "show_greeting"
    text: str
    language: Language


class ShowQuestion(MessageBase):
    """A question to show as text and speak; times are seconds remaining at sending."""

    type: Literal["show_question"] = "show_question"
    question_id: str
    text: str
    kind: QuestionKind
    index: int
    total: int
    progress: str
    language: Language
    thinking_left: float
    time_limit: float
    time_left: float
    answering: bool = False
    resumed: bool = False


class AnswerClockStarted(MessageBase):
    """The answer clock runs from now (speech began or thinking time is over)."""

    type: Literal["answer_clock_started"] = "answer_clock_started"
    question_id: str
    time_left: float


class ShowAcknowledgement(MessageBase):
    """A neutral thank-you after an answer; the next question follows."""

    type: Literal["show_acknowledgement"] = "show_acknowledgement"
    question_id: str
    text: str


class ShowCompletion(MessageBase):
    type: Literal["show_completion"] = "show_completion"
    text: str
    next_steps: str


CandidateMessage = Annotated[
    ShowGreeting | ShowQuestion | AnswerClockStarted | ShowAcknowledgement | ShowCompletion,
    Field(discriminator="type"),
]

MESSAGE_ADAPTER: TypeAdapter[CandidateMessage] = TypeAdapter(CandidateMessage)
