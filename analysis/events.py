"""Typed events: the single source of truth for the event log and the wire protocol.

Every event is a past-tense fact about one interview. ``t`` is the interview clock
(seconds since the candidate first joined), so the review page can line events up
with recording segments, which carry their start on the same clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class EventBase(BaseModel):
    """Fields every event carries.

    ``seq`` is the event's position in its interview's log (1, 2, 3, ...), assigned when it
    is appended (0 before). A live-only event (``durable`` False) is published but never
    stored; it carries the ``seq`` of the newest stored event its publisher knew of, so a
    client that sees a larger ``seq`` than it holds knows it missed a stored event.
    """

    model_config = ConfigDict(frozen=True)

    durable: ClassVar[bool] = True

    interview_id: str
    at: datetime = Field(default_factory=utcnow)
    t: float = 0.0
    seq: int = 0


class ConsentRecorded(EventBase):
    type: Literal["consent_recorded"] = "consent_recorded"
    notice_version: str
    recording: bool
    ai_analysis: bool


class CandidateJoined(EventBase):
    type: Literal["candidate_joined"] = "candidate_joined"
    segment: int


class CandidateLeft(EventBase):
    type: Literal["candidate_left"] = "candidate_left"
    segment: int
    reason: str


class MediaStarted(EventBase):
    type: Literal["media_started"] = "media_started"
    kind: Literal["audio", "video"]
    segment: int


class RecordingFinalized(EventBase):
    type: Literal["recording_finalized"] = "recording_finalized"
    segment: int
    recording_id: str
    duration: float
    start: float


class QuestionShown(EventBase):
    type: Literal["question_shown"] = "question_shown"
    question_id: str
    text: str
    source: Literal["plan", "followup", "observer"] = "plan"
    index: int = 0
    total: int = 0


class QuestionInjected(EventBase):
    """An observer asked for a question; ``by`` is visible to observers only."""

    type: Literal["question_injected"] = "question_injected"
    question_id: str
    text: str
    by: str
    position: Literal["next", "now"] = "next"
    ask_id: str | None = None  # the observer page's id: a re-sent question is applied once


class AnswerDone(EventBase):
    type: Literal["answer_done"] = "answer_done"
    question_id: str
    reason: Literal["button", "silence", "timeout", "left"] = "button"


class InterviewEnded(EventBase):
    type: Literal["interview_ended"] = "interview_ended"
    reason: str


class QuestionAnswered(EventBase):
    """The candidate finished answering one question; ``transcript`` is personal data."""

    type: Literal["question_answered"] = "question_answered"
    question_id: str
    kind: Literal["practice", "main", "followup", "observer"]
    competency_id: str | None = None
    transcript: str = ""
    started: float = 0.0
    ended: float = 0.0
    reason: Literal["button", "silence", "timeout", "left"] = "button"


class FollowupSuggested(EventBase):
    """A follow-up was proposed for the current answer (observers see the reason)."""

    type: Literal["followup_suggested"] = "followup_suggested"
    question_id: str
    parent_id: str
    text: str
    reason: str
    rule: str
    source: Literal["rules", "llm"] = "rules"


class FollowupApproved(EventBase):
    """A suggested follow-up will be asked; ``by`` is an observer or "auto"."""

    type: Literal["followup_approved"] = "followup_approved"
    question_id: str
    by: str


class FollowupSkipped(EventBase):
    """A suggested follow-up will not be asked; ``by`` is an observer or "auto"."""

    type: Literal["followup_skipped"] = "followup_skipped"
    question_id: str
    by: str
    reason: str = ""


class ObserverNoteAdded(EventBase):
    """A private observer note; never shown to the candidate."""

    type: Literal["observer_note_added"] = "observer_note_added"
    by: str
    text: str
    question_id: str | None = None


class LiveRatingGiven(EventBase):
    """An observer's live rating of one competency (1 to 5)."""

    type: Literal["live_rating_given"] = "live_rating_given"
    by: str
    competency: str
    score: int
    question_id: str | None = None


class WordTiming(BaseModel):
    """One recognised word with times on the interview clock."""

    model_config = ConfigDict(frozen=True)

    word: str
    start: float
    end: float
    probability: float


class TranscriptPartial(EventBase):
    """Tentative text of the utterance in progress: may still change (live only, not stored)."""

    durable: ClassVar[bool] = False

    type: Literal["transcript_partial"] = "transcript_partial"
    utterance_id: str
    text: str
    words: list[WordTiming] = Field(default_factory=list)
    language: str = ""


class TranscriptFinal(EventBase):
    """Committed text of one finished utterance."""

    type: Literal["transcript_final"] = "transcript_final"
    utterance_id: str
    text: str
    words: list[WordTiming] = Field(default_factory=list)
    language: str = ""
    avg_logprob: float = 0.0
    start: float = 0.0
    end: float = 0.0


class TranscriptRecord(EventBase):
    """The transcript of record of one answer: its whole audio decoded again offline.

    ``status`` is ``pending`` when the answer ended and its pass was queued, then ``ready``
    (``text``/``words`` on the interview clock) or ``failed``. Reports, scores and feedback
    use the newest record of an answer; the live finals stay as what observers saw.
    """

    type: Literal["transcript_record"] = "transcript_record"
    question_id: str
    status: Literal["pending", "ready", "failed"] = "ready"
    text: str = ""
    words: list[WordTiming] = Field(default_factory=list)
    language: str = ""
    start: float = 0.0
    end: float = 0.0
    error: str = ""


class TranscriptionBacklogged(EventBase):
    """Transcription is behind real time; partials are being thinned."""

    type: Literal["transcription_backlogged"] = "transcription_backlogged"
    pending_seconds: float
    skipped_partials: int


class AnalyzerFailed(EventBase):
    """An analyzer raised; the pipeline goes on without it."""

    type: Literal["analyzer_failed"] = "analyzer_failed"
    analyzer: str
    error: str


class MeasureStats(BaseModel):
    """Mean and standard deviation of one measure over an answer's usable samples."""

    model_config = ConfigDict(frozen=True)

    mean: float
    std: float


class FaceSampled(EventBase):
    """About one per second: face presence and delivery measures (no emotion inference).

    ``integrity_only`` fills only present, faces and facing; the rest stay None.
    Definitions: docs/measures.md.
    """

    type: Literal["face_sampled"] = "face_sampled"
    mode: Literal["integrity_only", "full"]
    present: bool
    faces: int
    facing: bool | None = None
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    smile: float | None = None
    brow_raise: float | None = None
    mouth_open: float | None = None
    blink_rate: float | None = None
    too_dark: bool | None = None
    blurred: bool | None = None


class FaceDeliverySummarized(EventBase):
    """Facial presence, integrity flags and (full mode) delivery measures for one answer."""

    type: Literal["face_delivery_summarized"] = "face_delivery_summarized"
    question_id: str
    mode: Literal["integrity_only", "full"]
    start: float
    end: float
    samples: int
    share_present: float | None = None
    share_facing: float | None = None
    max_faces: int = 0
    longest_absence: float = 0.0
    face_missing: bool = False
    second_face: bool = False
    yaw: MeasureStats | None = None
    pitch: MeasureStats | None = None
    roll: MeasureStats | None = None
    smile: MeasureStats | None = None
    brow_raise: MeasureStats | None = None
    mouth_open: MeasureStats | None = None
    blink_rate: float | None = None
    share_too_dark: float | None = None
    share_blurred: float | None = None


class VoiceDeliverySummarized(EventBase):
    """Speaking rate, pauses, fillers and loudness of one answer (definitions: docs/measures.md)."""

    type: Literal["voice_delivery_summarized"] = "voice_delivery_summarized"
    question_id: str
    language: str
    start: float
    end: float
    unit: Literal["word", "char"]
    units: int
    speaking_time: float
    speaking_rate: float | None = None
    pause_ratio: float | None = None
    long_pauses: int = 0
    long_pause_total: float = 0.0
    fillers: int = 0
    filler_counts: dict[str, int] = Field(default_factory=dict)
    loudness_dbfs: float | None = None


class FeedbackSent(EventBase):
    """A person approved the candidate message and it was emailed (no text, no address)."""

    type: Literal["feedback_sent"] = "feedback_sent"
    feedback_id: int
    approved_by: str
    language: str


Event = Annotated[
    ConsentRecorded
    | CandidateJoined
    | CandidateLeft
    | MediaStarted
    | RecordingFinalized
    | QuestionShown
    | QuestionInjected
    | AnswerDone
    | InterviewEnded
    | QuestionAnswered
    | FollowupSuggested
    | FollowupApproved
    | FollowupSkipped
    | ObserverNoteAdded
    | LiveRatingGiven
    | TranscriptPartial
    | TranscriptFinal
    | TranscriptRecord
    | TranscriptionBacklogged
    | AnalyzerFailed
    | FaceSampled
    | FaceDeliverySummarized
    | VoiceDeliverySummarized
    | FeedbackSent,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: str | bytes | dict[str, object]) -> Event:
    """Parse an event from JSON text or a dict, checking its type tag."""
    if isinstance(data, dict):
        return EVENT_ADAPTER.validate_python(data)
    return EVENT_ADAPTER.validate_json(data)
