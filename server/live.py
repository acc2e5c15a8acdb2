"""A live interview room: the candidate's connection, its recording segments and observers."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from analysis.events import (
    AnswerDone,
    CandidateJoined,
    CandidateLeft,
    Event,
    InterviewEnded,
    MediaStarted,
    QuestionInjected,
    QuestionShown,
    RecordingFinalized,
    TranscriptFinal,
)
from analysis.interview.commands import CandidateReady, FinishAnswer, InjectQuestion
from analysis.interview.machine import ObserverView
from analysis.live import LiveAnalysis
from media.candidate_peer import CandidatePeer, ObserverPeer
from server.interviewer import Interviewer, machine_for, strategy_for_settings
from server.services import Services
from server.storage.models import Consent, Interview, Job, Recording

log = logging.getLogger(__name__)


class LiveRoom:
    """Holds what is live for one interview; every change becomes an event."""

    def __init__(self, services: Services, interview_id: str, started_at: datetime) -> None:
        self.services = services
        self.interview_id = interview_id
        self.started_at = started_at
        self.peer: CandidatePeer | None = None
        self.candidate_ws: web.WebSocketResponse | None = None
        self.segment = 0
        self.recording_id: str | None = None
        self.segment_start = 0.0
        self.observers: set[ObserverPeer] = set()
        self.current_question: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        self.ended = False
        self._tasks: set[asyncio.Future[None]] = set()
        self.interviewer: Interviewer | None = None
        self.analysis: LiveAnalysis | None = None
        self._analysis_checked = False
        self.observer_count = 0

    def clock(self) -> float:
        """Seconds on the interview clock."""
        return (self.services.now() - self.started_at).total_seconds()

    async def emit(self, event: Event) -> None:
        """Append to the log and publish; answer boundaries also go to the analyzers."""
        await self.services.events.append(event)
        if self.analysis is not None:
            if event.type == "question_shown":
                await self.analysis.answer_started(event.question_id)
            elif event.type == "answer_done":
                await self.analysis.answer_ended(event.question_id)

    async def _ensure_analysis(self) -> None:
        """Start the analyzers once, if the candidate agreed to AI analysis."""
        if self._analysis_checked:
            return
        self._analysis_checked = True
        async with self.services.sessions() as session:
            consent = await session.scalar(
                select(Consent)
                .where(Consent.interview_id == self.interview_id)
                .order_by(Consent.agreed_at.desc())
            )
            interview = await session.get(Interview, self.interview_id)
            job = await session.get(Job, interview.job_id) if interview else None
        if consent is None or not consent.ai_analysis or job is None:
            return  # no AI analysis without consent: media is only recorded
        settings = self.services.settings
        self.analysis = LiveAnalysis(
            self.interview_id,
            self.emit,
            self.clock,
            facial_mode=consent.facial_analysis,
            models_dir=settings.models_dir,
            language=job.language,
            face_fps=settings.face_sample_fps,
            transcriber=await self.services.transcribers.open(self, job.language)
            if self.services.transcribers is not None
            else None,
        )
        await self.analysis.start()

    # -- candidate --------------------------------------------------------

    async def join(self, sdp: str, ws: web.WebSocketResponse) -> str:
        """Start a new segment for a (re)joining candidate; returns the SDP answer."""
        async with self._lock:
            old_ws = self.candidate_ws
            await self._end_segment("rejoined")
            if old_ws is not None and old_ws is not ws and not old_ws.closed:
                await old_ws.close(code=4409, message=b"joined from another window")
            async with self.services.sessions() as session, session.begin():
                count = await session.scalar(
                    select(func.count()).where(Recording.interview_id == self.interview_id)
                )
                self.segment = int(count or 0) + 1
                path = (
                    self.services.settings.recordings_dir
                    / self.interview_id
                    / (f"segment-{self.segment:03d}-{uuid.uuid4().hex[:8]}.cnd")
                )
                self.segment_start = self.clock()
                row = Recording(
                    interview_id=self.interview_id,
                    segment=self.segment,
                    path=str(path),
                    start=self.segment_start,
                )
                session.add(row)
            self.recording_id = row.id
            segment = self.segment
            peer = CandidatePeer(
                path,
                self.services.master,
                on_first_frame=lambda kind: self._spawn(self._media_started(kind, segment)),
                on_closed=lambda: self._spawn(self.leave(ws, "connection lost")),
            )
            await self._ensure_analysis()
            if self.analysis is not None:
                self.analysis.new_segment()
                peer.sinks.append(self.analysis.sink)
            try:
                answer = await peer.accept(sdp)
            except Exception:
                await peer.close()
                async with self.services.sessions() as session, session.begin():
                    rec = await session.get(Recording, row.id)
                    if rec is not None:
                        await session.delete(rec)
                raise
            self.peer = peer
            self.candidate_ws = ws
        await self.emit(
            CandidateJoined(interview_id=self.interview_id, t=self.clock(), segment=segment)
        )
        return answer

    async def after_join(self) -> None:
        """Bring the candidate's screen up to date after a (re)join."""
        if self.interviewer is not None:
            await self.interviewer.candidate_connected()
        elif self.current_question is not None:
            await self.send_candidate(self.current_question)

    async def candidate_ready(self) -> None:
        """The candidate read the greeting and wants to begin."""
        if self.interviewer is not None:
            await self.interviewer.handle(CandidateReady())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _media_started(self, kind: str, segment: int) -> None:
        await self.emit(
            MediaStarted(
                interview_id=self.interview_id,
                t=self.clock(),
                kind=kind,  # type: ignore[arg-type]
                segment=segment,
            )
        )

    async def leave(self, ws: web.WebSocketResponse | None, reason: str) -> None:
        """The candidate's connection ``ws`` ended; finalize its segment if still current."""
        async with self._lock:
            if ws is not None and ws is not self.candidate_ws:
                return
            await self._end_segment(reason)
            self.candidate_ws = None
        if self.interviewer is not None and not self.ended:
            await self.interviewer.candidate_disconnected()

    async def _end_segment(self, reason: str) -> None:
        peer, self.peer = self.peer, None
        if peer is None:
            return
        segment, rec_id = self.segment, self.recording_id
        for obs in list(self.observers):
            await obs.close()
        self.observers.clear()
        result = await peer.close()
        if self.analysis is not None:
            self.analysis.audio_stopped()
        async with self.services.sessions() as session, session.begin():
            rec = await session.get(Recording, rec_id)
            if rec is not None:
                if result is None:
                    rec.status = "empty"
                else:
                    rec.status = "final"
                    rec.duration = result.duration
                    rec.size = result.size
        await self.emit(
            CandidateLeft(
                interview_id=self.interview_id, t=self.clock(), segment=segment, reason=reason
            )
        )
        if result is not None and rec_id is not None:
            await self.emit(
                RecordingFinalized(
                    interview_id=self.interview_id,
                    t=self.clock(),
                    segment=segment,
                    recording_id=rec_id,
                    duration=result.duration,
                    start=self.segment_start,
                )
            )

    async def send_candidate(self, message: dict[str, Any]) -> None:
        """Send a message to the candidate's page, if connected."""
        ws = self.candidate_ws
        if ws is not None and not ws.closed:
            await ws.send_json(message)

    async def show_question(self, text: str, source: str, question_id: str | None = None) -> None:
        """Put a question on the candidate's screen and log it."""
        qid = question_id or uuid.uuid4().hex[:12]
        self.current_question = {"type": "question", "question_id": qid, "text": text}
        await self.emit(
            QuestionShown(
                interview_id=self.interview_id,
                t=self.clock(),
                question_id=qid,
                text=text,
                source=source,  # type: ignore[arg-type]
            )
        )
        await self.send_candidate(self.current_question)

    async def inject_question(self, text: str, by: str, position: str = "now") -> str | None:
        """An observer's question; returns why it was refused, if it was.

        With an interview plan the machine queues it (``now``: at once if the candidate
        has not started answering, else right after the answer; ``next``: after any
        follow-up). Without a plan it is shown at once.
        """
        if self.interviewer is not None:
            step = await self.interviewer.handle(
                InjectQuestion(text=text, by=by, position=position)  # type: ignore[arg-type]
            )
            return step.rejected
        qid = uuid.uuid4().hex[:12]
        await self.emit(
            QuestionInjected(
                interview_id=self.interview_id, t=self.clock(), question_id=qid, text=text, by=by
            )
        )
        await self.show_question(text, "observer", qid)
        return None

    async def _close_analysis(self) -> None:
        analysis, self.analysis = self.analysis, None
        if analysis is not None:
            if self.services.transcribers is not None:
                await self.services.transcribers.close(self)
            await analysis.aclose()

    async def observer_command(self, kind: str, msg: dict[str, Any], by: str) -> str | None:
        """Approve/skip a suggestion, add a note or a live rating; returns a refusal reason."""
        from pydantic import ValidationError

        from analysis.interview.commands import parse_command

        if self.interviewer is None:
            return "This interview has no plan, so there is nothing to approve or rate."
        try:
            command = parse_command({**msg, "type": kind, "by": by})
        except ValidationError as exc:
            return f"Invalid {kind.replace('_', ' ')}: {exc.errors()[0]['msg']}."
        step = await self.interviewer.handle(command)
        return step.rejected

    def observer_view(self) -> ObserverView | None:
        """Plan, current question, queue and pending suggestion for observers."""
        if self.interviewer is None:
            return None
        return self.interviewer.machine.observer_view()

    async def set_observers(self, delta: int) -> None:
        """Count observers; the machine waits for approvals only while someone watches."""
        from analysis.interview.commands import SetObserversPresent

        self.observer_count = max(0, self.observer_count + delta)
        if self.interviewer is not None:
            await self.interviewer.handle(SetObserversPresent(present=self.observer_count > 0))

    async def transcript_final(self, event: TranscriptFinal) -> None:
        """A finished utterance: log it and give its text to the interviewer."""
        from analysis.interview.commands import AddTranscript

        appended = await self.services.events.append(event)
        if appended and self.interviewer is not None and event.text.strip():
            await self.interviewer.handle(AddTranscript(text=event.text))

    async def answer_done(self, question_id: str, reason: str = "button") -> None:
        """The candidate finished an answer."""
        if self.interviewer is not None:
            await self.interviewer.handle(FinishAnswer())
            return
        await self.emit(
            AnswerDone(
                interview_id=self.interview_id,
                t=self.clock(),
                question_id=question_id,
                reason=reason,  # type: ignore[arg-type]
            )
        )

    async def end(self, reason: str, *, log_event: bool = True) -> None:
        """Finish the interview: finalize media, close the link, mark it finished."""
        if self.ended:
            return
        self.ended = True
        if self.interviewer is not None and not self.interviewer.machine.finished:
            from analysis.interview.commands import EndInterview

            await self.interviewer.handle(EndInterview(reason=reason))
            log_event = False
        ws = self.candidate_ws
        async with self._lock:
            await self._end_segment("interview ended")
            self.candidate_ws = None
        async with self.services.sessions() as session, session.begin():
            interview = await session.get(Interview, self.interview_id)
            if interview is not None:
                interview.status = "finished"
                interview.ended_at = datetime.now(UTC)
        if log_event:
            await self.emit(
                InterviewEnded(interview_id=self.interview_id, t=self.clock(), reason=reason)
            )
        if self.interviewer is not None:
            await self.interviewer.aclose()
        await self._close_analysis()
        if ws is not None and not ws.closed:
            await ws.send_json({"type": "ended", "reason": reason})
            await ws.close(code=1000, message=b"interview finished")
        # Nothing is live any more: let the room go (a later observer gets a fresh one).
        if self.services.rooms.get(self.interview_id) is self:
            del self.services.rooms[self.interview_id]
        self.services.events.forget(self.interview_id)

    # -- observers ----------------------------------------------------------

    async def observe(self, sdp: str) -> tuple[ObserverPeer, str]:
        """Connect an observer's receive-only peer to the candidate's current tracks."""
        peer = ObserverPeer()
        tracks = self.peer.observer_tracks() if self.peer is not None else []
        answer = await peer.accept(sdp, tracks)
        self.observers.add(peer)
        return peer, answer

    async def drop_observer(self, peer: ObserverPeer) -> None:
        """Hang up one observer."""
        self.observers.discard(peer)
        await peer.close()

    async def aclose(self) -> None:
        """Server shutdown: finalize whatever is being recorded."""
        if self.interviewer is not None:
            await self.interviewer.aclose()
        await self._close_analysis()
        async with self._lock:
            await self._end_segment("server stopped")
        for obs in list(self.observers):
            await obs.close()


async def get_room(services: Services, interview: Interview) -> LiveRoom:
    """The live room of an interview, created (and its clock started) on first use."""
    room = services.rooms.get(interview.id)
    if room is None:
        started = interview.started_at
        if started is None:
            started = services.now()
            async with services.sessions() as session, session.begin():
                row = await session.get(Interview, interview.id)
                if row is not None:
                    row.started_at = started
                    row.status = "live"
        elif started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        room = LiveRoom(services, interview.id, started)
        async with services.sessions() as session:
            fresh = await session.get(Interview, interview.id)
            job = await session.get(Job, interview.job_id)
        if fresh is not None and job is not None:
            machine = machine_for(fresh, job)
            if machine is not None:
                room.interviewer = Interviewer(
                    room, machine, strategy_for_settings(services.settings)
                )
        services.rooms[interview.id] = room
    return room
