"""One live interview, owned by one loop: inputs in through one queue, effects out in order.

Everything that happens to the interview (candidate and observer messages, media and
analyzer results, follow-up decisions, timer ticks, the owner's end or shutdown) arrives
as one input from server/session_inputs.py. ``run()`` applies them one at a time; each
step's effects happen in order before the next input is read: save the machine's state,
append and publish events, message the candidate, feed the analyzers. Helper tasks (the
ticker, follow-up proposals, the transcript reader) live in the session's TaskGroup and
only ever submit inputs back, so nothing outside the loop touches its state.

The registry counts who is attached (``hold``/``let_go``, plain counters like ``submit``). A
session nobody is attached to that has nothing live to keep (a finished interview, or one
whose candidate never joined) releases itself on the first tick ``release_after`` after the
last one left, on the injected clock; the decision and ``closed`` turning true happen in one
step without an await, so an attach either keeps the session or gets a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, assert_never, cast

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analysis.asr.stream import StreamingTranscriber
from analysis.events import (
    CandidateJoined,
    CandidateLeft,
    Event,
    MediaStarted,
    QuestionInjected,
    RecordingFinalized,
    TranscriptFinal,
    TranscriptPartial,
)
from analysis.followup import FollowupRequest, FollowupStrategy, make_strategy
from analysis.followup.types import FollowupSuggestion
from analysis.interview import InterviewMachine, Step
from analysis.interview.commands import (
    AddTranscript,
    CandidateDisconnected,
    CandidateReady,
    CandidateReconnected,
    Command,
    EndInterview,
    FinishAnswer,
    InjectQuestion,
    NoFollowup,
    SetObserversPresent,
    SpeechStarted,
    SpeechStopped,
    Start,
    SuggestFollowup,
    Tick,
)
from analysis.live import LiveAnalysis
from media.candidate_peer import BadOffer
from server.protocol import CandidateAnswer, Ended
from server.segments import recover_segments
from server.services import Services
from server.session_inputs import (
    AnalyzerResult,
    Barrier,
    CandidateAnswerDone,
    CandidateFinished,
    CandidateGone,
    CandidateOffer,
    CandidateReadyPressed,
    EndRequested,
    FollowupDecided,
    Link,
    MediaArrived,
    ObserverAction,
    ObserverHangup,
    ObserverJoined,
    ObserverLeft,
    ObserverOffer,
    SessionInput,
    Shutdown,
    SpeechHeard,
    TimerTick,
    ViewRequested,
)
from server.session_media import CandidateMedia
from server.session_setup import InterviewGone, load
from server.storage.models import Consent, Interview

log = logging.getLogger(__name__)

TRANSCRIPT_DRAIN_SECONDS = 35.0  # a little over Transcribers' own close timeout
# Handing the interview to another node: the candidate waits for it, so the last finals get
# only this long (later ones are still stored by the closing stream, not applied here).
HANDOVER_DRAIN_SECONDS = 3.0
MEDIA_KINDS = ("audio", "video")
# How long a session nobody is attached to waits before releasing itself: a page reload or a
# dropped observer socket reconnects within this without the session being rebuilt.
RELEASE_AFTER = timedelta(seconds=10)
PREDECESSOR_SECONDS = 4.0  # the longest a new session waits for the previous one to close
CLOSE_RECONNECT = 1012  # "service restart": observers' pages reconnect and find the new owner


class SessionClosed(RuntimeError):
    """The interview's session has ended; nothing more can happen in it."""


class SessionMoved(SessionClosed):
    """The session stopped (handed over, lease lost, server stopping) but the interview goes on.

    Inputs it had not applied yet are refused with this: the sender tries again on whichever
    session runs the interview now (an observer's page reconnects, a question is re-sent).
    """

    code = "moved"

    def __init__(self, message: str = "the interview moved to another server") -> None:
        super().__init__(message)


class InterviewSession:
    """The single owner of one live interview."""

    def __init__(
        self,
        services: Services,
        interview_id: str,
        *,
        tick_seconds: float = 1.0,
        strategy: FollowupStrategy | None = None,
        release_after: timedelta = RELEASE_AFTER,
    ) -> None:
        self.interview_id = interview_id
        self._svc = services
        self._tick_seconds = tick_seconds
        self._release_after = release_after
        self._holders = 0
        self._idle_since: datetime | None = None
        self._released = False
        self._strategy = strategy or make_strategy(services.settings.followup_llm)
        self._inbox: asyncio.Queue[SessionInput] = asyncio.Queue()
        self._accepting = True
        self._stopping = False
        self._writes_row = True  # False once another node took the lease from this one
        self._lease_check: Callable[[], Awaitable[bool]] | None = None
        self._stopped = asyncio.Event()
        self._done = False
        self._ending = False
        self._tick_queued = False
        self._tasks: asyncio.TaskGroup | None = None
        self._helpers: set[asyncio.Task[None]] = set()
        self._machine: InterviewMachine | None = None
        self._status = "scheduled"
        self._started_at: datetime | None = None
        self._deadline: datetime | None = None
        self._language = "en"
        self._vocabulary: list[str] = []
        self._saved: dict[str, Any] | None = None
        self._link: Link | None = None
        self._observers: set[Link] = set()
        self._observers_present = False
        self._media = CandidateMedia(services, interview_id)
        self._analysis: LiveAnalysis | None = None
        self._analysis_checked = False
        self._stream: StreamingTranscriber | None = None
        self._reader: asyncio.Task[None] | None = None
        self._speaking: set[str] = set()

    # -- what others may ask ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the session takes no more inputs."""
        return not self._accepting

    @property
    def stopping(self) -> bool:
        """True from the start of a shutdown or handover: new attaches go elsewhere."""
        return self._stopping

    @property
    def interview_over(self) -> bool:
        """True once the interview itself has ended (not just this session)."""
        return self._ending

    async def wait_stopped(self) -> None:
        """Return once the session's loop has ended (for whatever reason)."""
        await self._stopped.wait()

    @property
    def candidate_connected(self) -> bool:
        """True while the candidate's media peer is up."""
        return self._media.live

    @property
    def observer_count(self) -> int:
        """Observers connected to this interview now (for metrics)."""
        return len(self._observers)

    @property
    def transcript_queue(self) -> int:
        """Transcription events waiting for this session's reader to store them (metrics)."""
        return self._stream.queued if self._stream is not None else 0

    @property
    def analysis(self) -> LiveAnalysis | None:
        """The interview's analyzers (None without AI-analysis consent); read-only use."""
        return self._analysis

    def recorder_counts(self) -> tuple[int, int]:
        """(frames in, frames dropped) of the segment being recorded."""
        return self._media.recorder_counts()

    def clock(self) -> float:
        """Seconds on the interview clock (0 until the candidate first joins)."""
        if self._started_at is None:
            return 0.0
        return max(0.0, (self._svc.now() - self._started_at).total_seconds())

    @property
    def released(self) -> bool:
        """True if the session ended because nobody needed it (not by the interview's end)."""
        return self._released

    @property
    def holders(self) -> int:
        """How many are attached (sockets, requests, other nodes' observers)."""
        return self._holders

    def check_lease_with(self, check: Callable[[], Awaitable[bool]]) -> None:
        """With several nodes: ``check`` says whether this node still holds the interview.

        Asked before each write of a step: a node stalled past its lease (a starved loop) must
        not apply and store a step after another node took the interview over.
        """
        self._lease_check = check

    def hold(self) -> None:
        """Someone attached (the registry's ``attach``): the session is not released."""
        self._holders += 1
        self._idle_since = None

    def let_go(self) -> None:
        """Someone detached; with nobody left, the release delay starts now."""
        self._holders = max(0, self._holders - 1)
        if self._holders == 0:
            self._idle_since = self._svc.now()

    def submit(self, item: SessionInput) -> None:
        """Queue one input; after the session has closed, inputs are refused at once."""
        if self._accepting:
            if isinstance(item, Shutdown):
                # From now on a new attach gets the interview's next session (here or on the
                # node taking over), never this one: it would not be told when this one ends.
                self._stopping = True
            self._inbox.put_nowait(item)
        else:
            _refuse(item, over=self._ending)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, after: asyncio.Future[Any] | None = None) -> None:
        """Load the interview, then apply inputs one at a time until it ends or stops.

        ``after``: the interview's previous session, still closing; this one starts once it
        has ended (its inputs wait in the queue), so the two never hold the interview at once.
        A stuck predecessor is not waited for longer than a shutdown would take.
        """
        try:
            if after is not None:
                await asyncio.wait({after}, timeout=PREDECESSOR_SECONDS)
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                try:
                    await self._load()
                    self._spawn(self._tick_loop(), "session-ticker")
                    while not self._done:
                        await self._apply(await self._inbox.get())
                finally:
                    self._accepting = False
                    for task in list(self._helpers):
                        if task is not self._reader:  # the reader ends with its stream
                            task.cancel()
                    await self._release()
        finally:
            self._tasks = None
            self._accepting = False
            while not self._inbox.empty():
                _refuse(self._inbox.get_nowait(), over=self._ending)
            self._stopped.set()
            # After the helpers (a proposal may have been mid-request): close its HTTP session.
            await self._strategy.aclose()

    async def _load(self) -> None:
        try:
            loaded = await load(self._svc, self.interview_id)
        except InterviewGone:
            self._done = True
            return
        self._machine = loaded.machine
        self._status = loaded.status
        self._started_at = loaded.started_at
        self._deadline = loaded.deadline
        self._language = loaded.language
        self._vocabulary = loaded.vocabulary
        self._saved = self._machine.to_dict()
        if self._status in ("finished", "abandoned"):
            self._ending = True  # a finished interview: observers may still look at it
        elif self._svc.cluster is not None:
            await self._take_over()

    async def _take_over(self) -> None:
        """This node took the interview's lease: settle what a dead previous owner left.

        Its open segments are finalized, and a candidate it had connected is away now (timers
        paused, the reconnect deadline set); they resume here when they rejoin.
        """
        recovered = await recover_segments(self._svc, self.interview_id)
        if recovered:
            log.warning("recovered segments of a node that stopped", extra={"count": recovered})
        if self._status == "live":
            await self._candidate_away()

    async def _apply(self, item: SessionInput) -> None:
        try:
            await self._step(item)
        except SessionMoved as exc:
            log.info("a step came after the interview moved", extra={"input": type(item).__name__})
            _fail(item, exc)
        except Exception as exc:
            log.exception("a live interview step failed", extra={"input": type(item).__name__})
            _fail(item, exc)

    async def _step(self, item: SessionInput) -> None:
        match item:
            case CandidateOffer():
                await self._join(item)
            case CandidateReadyPressed():
                await self._command(CandidateReady())
            case CandidateAnswerDone(question_id=question_id):
                current = self._machine_or_fail().state.current
                # A late "Done" for a question already over must not end the next one.
                if current is not None and question_id in ("", current.id):
                    await self._command(FinishAnswer())
            case CandidateFinished():
                await self._end("finished by candidate")
            case CandidateGone(link=link, reason=reason, segment=segment):
                await self._left(link, reason, segment)
            case MediaArrived(kind=kind, segment=segment):
                await self._media_arrived(kind, segment)
            case ObserverAction(command=command, reply=reply):
                if isinstance(command, InjectQuestion) and await self._asked_before(command):
                    _resolve(reply, None)  # re-sent by a page that missed the first reply
                    return
                step = await self._command(command)
                _resolve(reply, step.rejected)
            case ObserverJoined(link=link):
                self._observers.add(link)
                await self._observers_changed()
            case ObserverLeft(link=link):
                self._observers.discard(link)
                await self._observers_changed()
            case ObserverOffer(peer=peer, sdp=sdp, reply=reply):
                try:
                    answer = await self._media.add_observer(peer, sdp)
                except BadOffer as exc:
                    _fail(item, exc)
                else:
                    _resolve(reply, (answer, self._media.live))
            case ObserverHangup(peer=peer):
                await self._media.drop_observer(peer)
            case ViewRequested(reply=reply):
                _resolve(reply, self._machine_or_fail().observer_view())
            case AnalyzerResult(event=event):
                await self._analyzer_event(event)
            case SpeechHeard():
                await self._speech_heard(item)
            case FollowupDecided(request=request, suggestion=suggestion):
                await self._followup_decided(request, suggestion)
            case TimerTick():
                self._tick_queued = False
                await self._tick()
            case EndRequested(reason=reason, reply=reply):
                await self._end(reason)
                _resolve(reply, None)
            case Shutdown(reply=reply, handover=handover, lease_lost=lease_lost):
                # Another node runs the interview now: its row is that node's to write.
                self._writes_row = not lease_lost
                await self._shutdown(
                    HANDOVER_DRAIN_SECONDS if handover or lease_lost else TRANSCRIPT_DRAIN_SECONDS
                )
                _resolve(reply, None)
            case Barrier(reply=reply):
                _resolve(reply, None)
            case _:
                assert_never(item)

    async def _asked_before(self, command: InjectQuestion) -> bool:
        """Whether the log holds this page's question already (any session of the interview).

        The page re-sends a question it got no reply for after it reconnects: the first
        send may have been applied by this session or the one before it.
        """
        if command.ask_id is None:
            return False
        logged = await self._svc.events.history(self.interview_id, ["question_injected"])
        return any(isinstance(e, QuestionInjected) and e.ask_id == command.ask_id for e in logged)

    def _machine_or_fail(self) -> InterviewMachine:
        if self._machine is None:
            raise SessionClosed("the interview no longer exists")
        return self._machine

    # -- the machine ----------------------------------------------------------------------

    async def _command(self, command: Command) -> Step:
        """Apply one machine command and its effects, in order."""
        machine = self._machine_or_fail()
        step = machine.handle(command, self.clock())
        await self._record(step)
        for event in step.events:
            await self._after_emit(event)
        for message in step.messages:
            await self._send(message)
        for request in step.requests:
            self._spawn(self._propose(request), "followup-proposal")
        if machine.finished and not self._ending:
            await self._end(machine.state.end_reason or "completed")
        return step

    async def _record(self, step: Step) -> None:
        """Save the machine's state and log the step's events in one transaction.

        A node killed between the two would leave a state whose events the log never got:
        the node taking over would show the candidate a question the log never showed. If
        the transaction fails, the machine goes back to the state saved last, so what runs
        here stays what the database and the log say.
        """
        machine = self._machine_or_fail()
        state = machine.to_dict()
        changed = step.rejected is None and state != self._saved and self._writes_row
        if not changed and not step.events:
            return
        if self._writes_row and self._lease_check is not None and not await self._lease_check():
            # Another node runs the interview now: this step is not applied here.
            self._writes_row = False
            if self._saved is not None:
                self._machine = InterviewMachine.from_dict(self._saved)
            if not self._stopping:
                self.submit(Shutdown(lease_lost=True))
            raise SessionMoved()

        async def write_state(session: AsyncSession) -> None:
            row = await session.get(Interview, self.interview_id)
            if row is not None:
                row.state = state

        try:
            await self._svc.events.append_together(
                self.interview_id, step.events, write_state if changed else None
            )
        except Exception:
            if self._saved is not None:
                self._machine = InterviewMachine.from_dict(self._saved)
            raise
        if changed:
            self._saved = state

    async def _propose(self, request: FollowupRequest) -> None:
        try:
            suggestion = await self._strategy.propose(request)
        except Exception:
            log.exception("follow-up strategy failed")
            suggestion = None
        self.submit(FollowupDecided(request, suggestion))

    async def _followup_decided(
        self, request: FollowupRequest, suggestion: FollowupSuggestion | None
    ) -> None:
        if suggestion is None:
            await self._command(NoFollowup(parent_id=request.parent_id))
            return
        await self._command(
            SuggestFollowup(
                parent_id=request.parent_id,
                text=suggestion.text,
                reason=suggestion.reason,
                rule=suggestion.rule,
                source=suggestion.source,
            )
        )

    async def _observers_changed(self) -> None:
        present = bool(self._observers)
        if present != self._observers_present:
            self._observers_present = present
            await self._command(SetObserversPresent(present=present))

    # -- effects -----------------------------------------------------------------------

    async def _emit(self, event: Event) -> None:
        """Append to the log (which publishes); answer boundaries also go to the analyzers."""
        await self._svc.events.append(event)
        await self._after_emit(event)

    async def _after_emit(self, event: Event) -> None:
        """Answer boundaries go to the analyzers."""
        if self._analysis is not None:
            if event.type == "question_shown":
                await self._analysis.answer_started(event.question_id, event.text)
            elif event.type == "answer_done":
                await self._analysis.answer_ended(event.question_id)

    async def _send(self, message: BaseModel) -> None:
        if self._link is not None:
            await _say(self._link, message)

    async def _set_status(self, status: str, *, ended: bool = False) -> None:
        self._status = status
        if not self._writes_row:
            return
        async with self._svc.sessions() as session, session.begin():
            row = await session.get(Interview, self.interview_id)
            if row is not None:
                row.status = status
                row.reconnect_deadline = self._deadline
                if row.started_at is None:
                    row.started_at = self._started_at
                if ended:
                    row.ended_at = self._svc.now()

    # -- the candidate ----------------------------------------------------------------

    async def _join(self, offer: CandidateOffer) -> None:
        machine = self._machine_or_fail()
        if self._ending:
            _fail(offer, SessionClosed("the interview has finished"))
            return
        old = self._link
        await self._close_segment("rejoined")
        if old is not None and old is not offer.link and not old.closed:
            await old.close(code=4409, message=b"joined from another window")
        if self._started_at is None:
            self._started_at = self._svc.now()  # the interview clock starts at the first join
            await self._set_status(self._status)
        await self._ensure_analysis()
        if self._analysis is not None:
            self._analysis.new_segment()
        link = offer.link
        try:
            segment, answer = await self._media.open(
                offer.sdp,
                start=self.clock(),
                on_first_frame=lambda kind, seg: self.submit(MediaArrived(kind, seg)),
                on_closed=lambda seg: self.submit(CandidateGone(link, "connection lost", seg)),
                sink=self._analysis.sink if self._analysis is not None else None,
            )
        except BadOffer as exc:
            _fail(offer, exc)
            return
        self._link = link
        await self._send(CandidateAnswer(sdp=answer, segment=segment))
        _resolve(offer.reply, segment)
        await self._emit(
            CandidateJoined(interview_id=self.interview_id, t=self.clock(), segment=segment)
        )
        if machine.phase == "not_started":
            await self._command(Start())
        else:
            await self._command(CandidateReconnected())

    async def _media_arrived(self, kind: str, segment: int) -> None:
        if kind not in MEDIA_KINDS or segment != self._media.segment:
            return
        await self._emit(
            MediaStarted(
                interview_id=self.interview_id,
                t=self.clock(),
                kind="audio" if kind == "audio" else "video",
                segment=segment,
            )
        )
        if self._status != "live" and not self._ending and self._media.live:
            self._deadline = None
            await self._set_status("live")

    async def _left(self, link: Link, reason: str, segment: int | None) -> None:
        if link is not self._link or (segment is not None and segment != self._media.segment):
            return  # an older window or segment: already replaced
        await self._close_segment(reason)
        self._link = None
        await self._candidate_away()
        if segment is not None:
            # The media connection failed while the socket lives on (ICE consent lost, the
            # browser's network blinked): the page rejoins only when its socket closes, so
            # close it with a code that is not final (1012: reconnect) — otherwise the
            # candidate would sit with dead media until the reconnect deadline ends the
            # interview (seen in bench/cluster.py on a starved machine).
            await _hang_up(link, 1012, b"media connection lost: join again")

    async def _candidate_away(self) -> None:
        machine = self._machine_or_fail()
        if self._ending or machine.phase == "not_started":
            return
        await self._command(CandidateDisconnected())
        if self._status == "live":
            minutes = self._svc.settings.reconnect_timeout_minutes
            self._deadline = self._svc.now() + timedelta(minutes=minutes)
            await self._set_status("paused")

    async def _close_segment(self, reason: str) -> None:
        closed = await self._media.close()
        if closed is None:
            return
        if self._analysis is not None:
            self._analysis.audio_stopped()
        await self._emit(
            CandidateLeft(
                interview_id=self.interview_id,
                t=self.clock(),
                segment=closed.segment,
                reason=reason,
            )
        )
        if closed.result is not None:
            await self._emit(
                RecordingFinalized(
                    interview_id=self.interview_id,
                    t=self.clock(),
                    segment=closed.segment,
                    recording_id=closed.recording_id,
                    duration=closed.result.duration,
                    start=closed.start,
                )
            )

    # -- time -----------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick_seconds)
            if not self._tick_queued:
                self._tick_queued = True
                self.submit(TimerTick())

    async def _tick(self) -> None:
        if self._release_if_idle():
            return
        if self._ending:
            return
        deadline = self._deadline
        if self._status == "paused" and deadline is not None and self._svc.now() >= deadline:
            await self._end("candidate did not come back", status="abandoned")
        elif self._link is not None and self._machine_or_fail().phase != "not_started":
            await self._command(Tick())

    def _idle(self) -> bool:
        """Nobody attached and nothing live to keep: a finished interview, or a not-started one.

        A paused interview is kept (its reconnect deadline runs here). One whose candidate
        pressed start but whose media never arrived is still ``scheduled``: its machine is saved
        at every step, so it is released too and a later join rebuilds it from the database.
        """
        if self._holders or self._link is not None or self._observers or self._media.live:
            return False
        if self._ending or self._status == "scheduled":
            return True
        return self._machine is not None and self._machine.phase == "not_started"

    def _release_if_idle(self) -> bool:
        """Release the session once idle for ``release_after`` (True if it did).

        No await from the check to ``closed`` turning true: an attach (``hold``, synchronous)
        either came first and keeps the session, or comes after and gets a new one.
        """
        if not self._idle():
            return False  # the delay runs from the last let-go (its leave may still be queued)
        now = self._svc.now()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self._release_after:
            return False
        self._accepting = False
        self._released = True
        self._done = True
        return True

    # -- analyzers ------------------------------------------------------------------------

    async def _ensure_analysis(self) -> None:
        """Start the analyzers once, if the candidate agreed to AI analysis."""
        if self._analysis_checked:
            return
        self._analysis_checked = True
        async with self._svc.sessions() as session:
            consent = await session.scalar(
                select(Consent)
                .where(Consent.interview_id == self.interview_id)
                .order_by(Consent.agreed_at.desc())
            )
        if consent is None or not consent.ai_analysis:
            return  # no AI analysis without consent: media is only recorded
        settings = self._svc.settings
        transcribers = self._svc.transcribers
        if transcribers is not None:
            self._stream = await transcribers.open(
                self.interview_id,
                self._language,
                vocabulary=self._vocabulary,
                emit=self._svc.events.append,
                clock=self.clock,
            )
            self._reader = self._spawn(self._read_transcripts(self._stream), "transcript-reader")
        self._analysis = LiveAnalysis(
            self.interview_id,
            self._analyzer_found,
            self.clock,
            facial_mode=consent.facial_analysis,
            models_dir=settings.models_dir,
            language=self._language,
            face_fps=settings.face_sample_fps,
            transcriber=self._stream,
            record=transcribers.recorder(self.interview_id) if transcribers is not None else None,
        )
        await self._analysis.start()

    async def _analyzer_found(self, event: Event) -> None:
        self.submit(AnalyzerResult(event))

    async def _read_transcripts(self, stream: StreamingTranscriber) -> None:
        """Store and publish transcription as it comes, then tell the machine via the inbox.

        Transcripts do not wait behind the session's queued inputs: observers see a final as
        soon as the log has it (on a loaded node the inbox can be seconds long). The log is
        ordered by when things were stored; answers take their finals by time, not by seq.
        """
        metrics = self._svc.metrics
        async for batch in stream.timed_batches():
            try:
                heard = await self._log_heard_batch([cast("Event", q.event) for q in batch])
            except Exception:
                log.exception("could not store transcripts", extra={"count": len(batch)})
                continue
            stored_at = time.monotonic()
            metrics.transcript_store_batch_events.observe(len(batch))
            for queued in batch:
                metrics.transcript_store_wait_seconds.observe(max(0.0, stored_at - queued.at))
            for item in heard:
                self.submit(item)

    async def _log_heard_batch(self, events: list[Event]) -> list[SpeechHeard]:
        """Append what waited in the reader's queue (one transaction); what the machine learns.

        On a busy node the reader's queue grows while each event waits for its round trips;
        storing what waits at once keeps it short (docs/operations.md, the 09:24 run).
        """
        if len(events) == 1:
            heard = await self._log_heard(events[0])
            return [heard] if heard is not None else []
        firsts: list[bool] = []
        for event in events:  # in order, as _log_heard does one by one
            utterance = getattr(event, "utterance_id", None)
            firsts.append(utterance is not None and utterance not in self._speaking)
            if isinstance(event, TranscriptPartial):
                self._speaking.add(event.utterance_id)
            elif isinstance(event, TranscriptFinal):
                self._speaking.discard(event.utterance_id)
        kept = await self._svc.events.append_batch(self.interview_id, events)
        out: list[SpeechHeard] = []
        for event, first, stored in zip(events, firsts, kept, strict=True):
            if isinstance(event, TranscriptPartial) and first:
                at = event.words[0].start if event.words else event.t
                out.append(SpeechHeard(started_at=at))
            elif isinstance(event, TranscriptFinal):
                out.append(SpeechHeard(
                    started_at=event.start if first else None, final=event, stored=stored
                ))
        return out

    async def _log_heard(self, event: Event) -> SpeechHeard | None:
        """Append one transcription event; what the machine must learn of it, if anything."""
        if isinstance(event, TranscriptPartial):
            first = event.utterance_id not in self._speaking
            self._speaking.add(event.utterance_id)
            await self._svc.events.append(event)
            if not first:
                return None
            return SpeechHeard(started_at=event.words[0].start if event.words else event.t)
        if isinstance(event, TranscriptFinal):
            first = event.utterance_id not in self._speaking
            self._speaking.discard(event.utterance_id)
            stored = await self._svc.events.append(event)
            return SpeechHeard(
                started_at=event.start if first else None, final=event, stored=stored
            )
        await self._svc.events.append(event)
        return None

    async def _speech_heard(self, heard: SpeechHeard) -> None:
        """The machine's part of what transcription heard (timers, follow-up context)."""
        machine = self._machine
        final = heard.final
        if final is not None and self._analysis is not None:
            self._analysis.words_heard(final)
        if machine is None:
            return
        if heard.started_at is not None:
            await self._command(SpeechStarted(at=heard.started_at))
        if final is not None:
            if heard.stored and final.text.strip():
                await self._command(AddTranscript(text=final.text))
            await self._command(SpeechStopped(at=final.end))

    async def _analyzer_event(self, event: Event) -> None:
        heard = await self._log_heard(event)
        if heard is not None:
            await self._speech_heard(heard)

    async def _close_analysis(self, drain: float = TRANSCRIPT_DRAIN_SECONDS) -> None:
        """Finish transcription (its last finals still count) and stop the analyzers."""
        stream, self._stream = self._stream, None
        reader, self._reader = self._reader, None
        if stream is not None and self._svc.transcribers is not None:
            await self._svc.transcribers.close(self.interview_id)
        if reader is not None and not reader.done():
            try:
                async with asyncio.timeout(drain):
                    await asyncio.shield(reader)
            except TimeoutError:
                reader.cancel()
        analysis, self._analysis = self._analysis, None
        if analysis is not None:
            await analysis.aclose()
        # What the analyzers found while closing is part of the interview: apply it now.
        later: list[SessionInput] = []
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if isinstance(item, AnalyzerResult | SpeechHeard):
                await self._apply(item)
            else:
                later.append(item)
        for item in later:
            self._inbox.put_nowait(item)

    # -- the end --------------------------------------------------------------------------

    async def _end(self, reason: str, *, status: str = "finished") -> None:
        """Finish the interview: finalize media, close the candidate's link, mark it."""
        if self._ending:
            return
        self._ending = True
        machine = self._machine_or_fail()
        if not machine.finished:
            await self._command(EndInterview(reason=reason))
        link = self._link
        await self._close_segment("interview ended")
        self._link = None
        self._deadline = None
        await self._set_status(status, ended=True)
        await self._close_analysis()
        if link is not None:
            await _say(link, Ended(reason=reason))
            await _hang_up(link, 1000, b"interview finished")
        self._svc.events.forget(self.interview_id)
        self._done = True

    async def _shutdown(self, drain: float = TRANSCRIPT_DRAIN_SECONDS) -> None:
        """Server shutdown: finalize the segment; the interview stays resumable (paused).

        Observers are told to reconnect (1012): the interview goes on on another node or after
        the restart; those who attach meanwhile get a new session (``stopping``), and inputs
        still queued here are refused as moved, not as finished.
        """
        self._stopping = True  # also set when the Shutdown was submitted
        link = self._link
        await self._close_segment("server stopped")
        self._link = None
        if self._machine is not None:
            await self._candidate_away()
        await self._close_analysis(drain)
        if link is not None:
            await _hang_up(link, 1001, b"server shutting down")
        for other in list(self._observers):
            await _hang_up(other, CLOSE_RECONNECT, b"the interview moved: reconnect")
        self._done = True

    async def _release(self) -> None:
        """Whatever the loop ended by (end, shutdown, release, cancel): release what it holds.

        The candidate's segment and every observer peer (also one still negotiating, or one
        whose observer's hang-up came after the end) are closed here.
        """
        try:
            await self._media.aclose()
            await self._close_analysis()
        except Exception:
            log.exception("could not release a live interview's media")
        if self._released:
            self._svc.events.forget(self.interview_id)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None] | None:
        """A helper task in the session's TaskGroup (none once the loop has ended)."""
        if self._tasks is None or not self._accepting:
            coro.close()
            return None
        task = self._tasks.create_task(coro, name=name)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)
        return task


async def _say(link: Link, message: BaseModel) -> None:
    """Send to a browser; a socket closing meanwhile is not an error of the interview."""
    if link.closed:
        return
    try:
        await link.send_json(message.model_dump(mode="json"))
    except (ConnectionError, RuntimeError):
        log.info("socket closed while sending")


async def _hang_up(link: Link, code: int, message: bytes) -> None:
    if not link.closed:
        try:
            await link.close(code=code, message=message)
        except (ConnectionError, RuntimeError):
            log.info("socket closed while closing")


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(item: SessionInput, exc: BaseException) -> None:
    reply = getattr(item, "reply", None)
    if isinstance(reply, asyncio.Future) and not reply.done():
        reply.set_exception(exc)


def _refuse(item: SessionInput, *, over: bool) -> None:
    """An input that arrived after the session's end: replies say so.

    ``over``: the interview has ended. If not (the session was handed over, lost its lease or
    the server stops), nothing was applied and the sender is told the interview moved
    (``SessionMoved``), never that it finished: in the full-scale cluster run, questions queued
    behind a handover were answered "the interview has finished" (401 of 1,930).
    """
    match item:
        case ObserverAction(reply=reply):
            if over:
                _resolve(reply, "the interview has finished")
            else:
                _fail(item, SessionMoved())
        case ViewRequested(reply=reply):
            _resolve(reply, None)
        case EndRequested(reply=reply) | Shutdown(reply=reply) | Barrier(reply=reply):
            _resolve(reply, None)
        case CandidateOffer() | ObserverOffer():
            _fail(item, SessionClosed("the interview has finished") if over else SessionMoved())
        case _:
            pass
