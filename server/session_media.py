"""The candidate's current recording segment and the observers' peers of one live interview.

Used only from its session's loop (server/session.py), so it needs no lock. Every observer peer
is tracked from the moment its negotiation starts until it is hung up, so ``aclose`` (the
session's last step, however it ended) closes each one, even one still negotiating.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from media.candidate_peer import CandidatePeer, FrameSink
from media.recorder import RecordingResult
from server.ice import peer_configuration
from server.segments import record_result
from server.services import Services
from server.session_inputs import ObserverMedia
from server.storage.models import Recording

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClosedSegment:
    """A segment that just ended, with its recording (None if nothing was recorded)."""

    segment: int
    recording_id: str
    start: float
    result: RecordingResult | None


class CandidateMedia:
    """One peer per segment: each (re)join records a new encrypted segment file."""

    def __init__(self, services: Services, interview_id: str) -> None:
        self._svc = services
        self._interview_id = interview_id
        self._peer: CandidatePeer | None = None
        self._recording_id = ""
        self._start = 0.0
        self.segment = 0
        self._observers: set[ObserverMedia] = set()

    @property
    def live(self) -> bool:
        """True while a candidate peer is connected (or connecting)."""
        return self._peer is not None

    def recorder_counts(self) -> tuple[int, int]:
        """(frames in, frames dropped) of the current segment's recorder."""
        recorder = self._peer.recorder if self._peer is not None else None
        return (recorder.frames_in, recorder.dropped) if recorder is not None else (0, 0)

    async def open(
        self,
        sdp: str,
        *,
        start: float,
        on_first_frame: Callable[[str, int], None],
        on_closed: Callable[[int], None],
        sink: FrameSink | None,
    ) -> tuple[int, str]:
        """Accept the candidate's offer into a new segment; returns (segment, answer SDP)."""
        iid = self._interview_id
        async with self._svc.sessions() as session, session.begin():
            count = await session.scalar(select(func.count()).where(Recording.interview_id == iid))
            segment = int(count or 0) + 1
            path = (
                self._svc.settings.recordings_dir
                / iid
                / f"segment-{segment:03d}-{uuid.uuid4().hex[:8]}.cnd"
            )
            row = Recording(interview_id=iid, segment=segment, path=str(path), start=start)
            session.add(row)
        peer = CandidatePeer(
            path,
            self._svc.master,
            on_first_frame=lambda kind: on_first_frame(kind, segment),
            on_closed=lambda: on_closed(segment),
            ice=peer_configuration(self._svc.settings, iid, self._svc.now()),
            public_ip=self._svc.settings.ice_public_ip,
            port_range=self._svc.settings.ice_port_range,
        )
        if sink is not None:
            peer.sinks.append(sink)
        try:
            answer = await peer.accept(sdp)  # closes itself and removes its file on failure
        except BaseException:
            await peer.close()
            path.unlink(missing_ok=True)
            async with self._svc.sessions() as session, session.begin():
                rec = await session.get(Recording, row.id)
                if rec is not None:
                    rec.status = "failed"  # kept, so segment numbers stay unique
            raise
        self._peer, self._recording_id, self._start, self.segment = peer, row.id, start, segment
        return segment, answer

    async def close(self) -> ClosedSegment | None:
        """Hang up observers and the candidate; finalize the segment's recording."""
        peer, self._peer = self._peer, None
        if peer is None:
            return None
        await self.close_observers()
        result = await peer.close()
        async with self._svc.sessions() as session, session.begin():
            rec = await session.get(Recording, self._recording_id)
            if rec is not None:
                record_result(rec, result)
        return ClosedSegment(self.segment, self._recording_id, self._start, result)

    async def aclose(self) -> ClosedSegment | None:
        """The session's end: close the segment, then every observer peer, with or without one.

        Observers can watch with no candidate connected (before the interview starts, or
        while the candidate is away): their peers are closed here, not only with a segment.
        """
        closed = await self.close()
        await self.close_observers()
        return closed

    async def add_observer(self, peer: ObserverMedia, sdp: str) -> str:
        """Connect an observer's peer to the candidate's current tracks; returns the answer."""
        tracks = self._peer.observer_tracks() if self._peer is not None else []
        # Tracked before negotiating: if the session stops meanwhile, aclose closes it (aioice
        # keeps an unclosed connection subscribed to its per-thread mDNS responder).
        self._observers.add(peer)
        try:
            return await peer.accept(sdp, tracks)
        except Exception:
            self._observers.discard(peer)  # a refused offer: accept closed it already
            raise

    async def drop_observer(self, peer: ObserverMedia) -> None:
        """Hang up one observer's peer."""
        self._observers.discard(peer)
        await peer.close()

    async def close_observers(self) -> None:
        """Hang up every observer's peer (their tracks end with the segment)."""
        observers, self._observers = list(self._observers), set()
        for peer in observers:
            try:
                await peer.close()
            except Exception:  # one peer failing to close must not keep the others open
                log.exception("could not close an observer's peer")
