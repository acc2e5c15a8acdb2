"""Everything that can happen to a live interview, as inputs to its session's one queue.

Routes, peer callbacks, analyzers, follow-up strategies and the ticker only ever build one
of these and hand it to :meth:`server.session.InterviewSession.submit`. Inputs that need an
answer carry a future the session's loop resolves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import MediaStreamTrack

from analysis.events import Event, TranscriptFinal
from analysis.followup.types import FollowupRequest, FollowupSuggestion
from analysis.interview.commands import (
    AddObserverNote,
    ApproveFollowup,
    GiveLiveRating,
    InjectQuestion,
    SkipFollowup,
)
from analysis.interview.machine import ObserverView


class Link(Protocol):
    """A browser's socket as the session sees it (an aiohttp WebSocketResponse fits)."""

    @property
    def closed(self) -> bool:
        """True once the socket is closed."""
        ...

    async def send_json(self, data: Any) -> None:
        """Send one JSON message."""
        ...

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        """Close the socket with a code and a reason."""
        ...


class ObserverMedia(Protocol):
    """An observer's receive-only peer (media.candidate_peer.ObserverPeer fits)."""

    async def accept(self, sdp: str, tracks: list[MediaStreamTrack]) -> str:
        """Apply the observer's offer with the candidate's tracks; return the answer SDP."""
        ...

    async def close(self) -> None:
        """Hang up."""
        ...


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


# -- the candidate ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CandidateOffer:
    """A (re)joining candidate's SDP offer; the session sends the answer on ``link``.

    ``reply`` resolves with the new segment number, or fails with ``BadOffer``.
    """

    sdp: str
    link: Link
    reply: asyncio.Future[int] = field(default_factory=_future)


@dataclass(frozen=True)
class CandidateReadyPressed:
    """The candidate read the greeting and pressed "Ready"."""


@dataclass(frozen=True)
class CandidateAnswerDone:
    """The candidate pressed "Done" for ``question_id``."""

    question_id: str


@dataclass(frozen=True)
class CandidateFinished:
    """The candidate pressed "Finish": the interview ends."""


@dataclass(frozen=True, eq=False)
class CandidateGone:
    """The candidate's socket ``link`` or its peer connection for ``segment`` ended."""

    link: Link
    reason: str
    segment: int | None = None


@dataclass(frozen=True)
class MediaArrived:
    """The first frame of ``kind`` arrived in recording segment ``segment``."""

    kind: str
    segment: int


# -- observers ---------------------------------------------------------------------------

ObserverCommand = InjectQuestion | ApproveFollowup | SkipFollowup | AddObserverNote | GiveLiveRating


@dataclass(frozen=True, eq=False)
class ObserverAction:
    """An observer's command for the interview machine; ``reply`` resolves with a refusal."""

    command: ObserverCommand
    reply: asyncio.Future[str | None] = field(default_factory=_future)


@dataclass(frozen=True, eq=False)
class ObserverJoined:
    """An observer's socket opened (the machine waits for approvals while anyone watches)."""

    link: Link


@dataclass(frozen=True, eq=False)
class ObserverLeft:
    """An observer's socket closed."""

    link: Link


@dataclass(frozen=True, eq=False)
class ObserverOffer:
    """An observer's media offer; ``reply`` resolves with (answer SDP, candidate live)."""

    peer: ObserverMedia
    sdp: str
    reply: asyncio.Future[tuple[str, bool]] = field(default_factory=_future)


@dataclass(frozen=True, eq=False)
class ObserverHangup:
    """An observer's media peer is no longer wanted."""

    peer: ObserverMedia


@dataclass(frozen=True, eq=False)
class ViewRequested:
    """Plan, current question, queue and suggestion for an observer."""

    reply: asyncio.Future[ObserverView | None] = field(default_factory=_future)


# -- analyzers, strategies, time, and the owner ------------------------------------------


@dataclass(frozen=True)
class AnalyzerResult:
    """An event an analyzer found (transcripts, delivery signals, failures)."""

    event: Event


@dataclass(frozen=True)
class SpeechHeard:
    """Transcription heard the candidate; the log has it already, the machine learns it here.

    ``started_at``: an utterance began (its first partial or, without one, its final).
    ``final``: an utterance ended with this final; ``stored``: the log took it (False: a
    duplicate from an at-least-once worker).
    """

    started_at: float | None
    final: TranscriptFinal | None = None
    stored: bool = False


@dataclass(frozen=True)
class FollowupDecided:
    """A strategy's answer to a follow-up request (None: no follow-up)."""

    request: FollowupRequest
    suggestion: FollowupSuggestion | None


@dataclass(frozen=True)
class TimerTick:
    """Time has passed (the session's ticker sends one every tick interval)."""


@dataclass(frozen=True, eq=False)
class EndRequested:
    """Someone with the right ends the interview (a recruiter, the candidate's finish)."""

    reason: str
    reply: asyncio.Future[None] = field(default_factory=_future)


@dataclass(frozen=True, eq=False)
class Shutdown:
    """The server stops: finalize what is recorded, keep the interview resumable.

    ``handover``: another node takes the interview over now, so transcription gets only a
    short drain (the candidate waits for the new node). ``lease_lost``: another node already
    runs the interview (this one's lease expired and was taken): a short drain too, and the
    interview's row (machine state, status) is no longer written from here.
    """

    reply: asyncio.Future[None] = field(default_factory=_future)
    handover: bool = False
    lease_lost: bool = False


@dataclass(frozen=True, eq=False)
class Barrier:
    """Resolves once every input submitted before it has been applied."""

    reply: asyncio.Future[None] = field(default_factory=_future)


SessionInput = (
    CandidateOffer
    | CandidateReadyPressed
    | CandidateAnswerDone
    | CandidateFinished
    | CandidateGone
    | MediaArrived
    | ObserverAction
    | ObserverJoined
    | ObserverLeft
    | ObserverOffer
    | ObserverHangup
    | ViewRequested
    | AnalyzerResult
    | SpeechHeard
    | FollowupDecided
    | TimerTick
    | EndRequested
    | Shutdown
    | Barrier
)
