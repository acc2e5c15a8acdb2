"""What one command produces: candidate messages, log events, follow-up requests."""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis.events import Event
from analysis.followup.types import FollowupRequest
from analysis.interview.messages import CandidateMessage


@dataclass
class Step:
    """The outcome of one command."""

    messages: list[CandidateMessage] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    requests: list[FollowupRequest] = field(default_factory=list)
    rejected: str | None = None
