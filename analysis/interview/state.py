"""The machine's whole state as one JSON-serialisable model (persist it after every step)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from analysis.interview.plan import InterviewPlan

Phase = Literal[
    "not_started", "greeting", "waiting", "thinking", "answering", "deciding", "finished"
]
AskedKind = Literal["practice", "main", "followup", "observer"]
EndReason = Literal["button", "silence", "timeout", "left"]
STATE_VERSION = 1


class AskedQuestion(BaseModel):
    """A question as asked, and (once done) its answer."""

    id: str
    kind: AskedKind
    text: str
    index: int = Field(description="Progress position: 0 practice, 1..N main questions.")
    main_id: str | None = Field(default=None, description="Plan question this follows up on.")
    competency_id: str | None = None
    by: str | None = Field(default=None, description="Observer who injected it (observer-only).")
    rule: str | None = None
    reason: str | None = None
    time_limit: float
    thinking_time: float
    shown_at: float = 0.0
    clock_started_at: float | None = None
    first_speech_at: float | None = None
    transcript: list[str] = Field(default_factory=list)
    ended_at: float | None = None
    end_reason: EndReason | None = None


class QueuedQuestion(BaseModel):
    id: str
    text: str
    by: str
    position: Literal["next", "now"]
    injected_at: float


class PendingSuggestion(BaseModel):
    id: str
    parent_id: str
    main_id: str
    text: str
    reason: str
    rule: str
    source: Literal["rules", "llm"]
    suggested_at: float
    wait_until: float


class InterviewState(BaseModel):
    """Everything needed to resume an interview after a restart or a reconnect."""

    version: int = STATE_VERSION
    interview_id: str
    plan: InterviewPlan
    phase: Phase = "not_started"
    next_plan_index: int = 0
    practice_done: bool = False
    current: AskedQuestion | None = None
    answered: list[AskedQuestion] = Field(default_factory=list)
    queue_now: list[QueuedQuestion] = Field(default_factory=list)
    queue_next: list[QueuedQuestion] = Field(default_factory=list)
    deciding_for: str | None = None
    request_at: float | None = None
    decision_started_at: float | None = None
    suggestion: PendingSuggestion | None = None
    followups_asked: dict[str, int] = Field(default_factory=dict)
    rules_used: dict[str, list[str]] = Field(default_factory=dict)
    speaking: bool = False
    silence_since: float | None = None
    observers_present: bool = False
    disconnected_at: float | None = None
    paused_total: float = 0.0
    started_at: float | None = None
    last_now: float = 0.0
    injected_count: int = 0
    suggestion_count: int = 0
    ack_count: int = 0
    last_acknowledgement: str | None = None
    end_reason: str | None = None
