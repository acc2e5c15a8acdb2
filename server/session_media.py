"""The candidate's current recording segment and the observers' peers of one live interview.

Used only from its session's loop (server/session.py), so it needs no lock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from media.candidate_peer import CandidatePeer, FrameSink
from media.recorder import RecordingResult, finalize_recording
from server.ice import peer_configuration
from server.services import Services
from server.session_inputs import ObserverMedia
from server.storage.models import Recording

log = logging.getLogger(__name__)


async def recover_segments(services: Services, interview_id: str) -> int:
    """Finalize the interview's segments a dead node left open (its file stays playable)."""
    fixed = 0
    async with services.sessions() as session, session.begin():
        rows = (
            await session.scalars(
                select(Recording).where(
                    Recording.interview_id == interview_id, Recording.status == "recording"
                )
            )
        ).all()
        for rec in rows:
            path = Path(rec.path)
            if not path.exists():
                rec.status = "empty"
                continue
            try:
                result = await asyncio.to_thread(
                    finalize_recording, path, services.master, unclosed=True
                )
            except Exception:
                log.exception("could not recover a recording segment", extra={"recording": rec.id})
                rec.status = "damaged"
                continue
            rec.status, rec.duration, rec.size = "final", result.duration, result.size
            fixed += 1
    return fixed


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
                if result is None:
                    rec.status = "empty"
                else:
                    rec.status = "final"
                    rec.duration = result.duration
                    rec.size = result.size
        return ClosedSegment(self.segment, self._recording_id, self._start, result)

    async def add_observer(self, peer: ObserverMedia, sdp: str) -> str:
        """Connect an observer's peer to the candidate's current tracks; returns the answer."""
        tracks = self._peer.observer_tracks() if self._peer is not None else []
        answer = await peer.accept(sdp, tracks)
        self._observers.add(peer)
        return answer

    async def drop_observer(self, peer: ObserverMedia) -> None:
        """Hang up one observer's peer."""
        self._observers.discard(peer)
        await peer.close()

    async def close_observers(self) -> None:
        """Hang up every observer's peer (their tracks end with the segment)."""
        observers, self._observers = list(self._observers), set()
        for peer in observers:
            await peer.close()
