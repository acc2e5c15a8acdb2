"""Runs the interview state machine for a live room: commands in, events and screens out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from analysis.competency import CompetencyModelError, parse_competency_model
from analysis.followup import FollowupRequest, FollowupStrategy, make_strategy
from analysis.interview import InterviewMachine, PlanSettings, Step, build_plan
from analysis.interview.commands import (
    CandidateDisconnected,
    CandidateReconnected,
    Command,
    NoFollowup,
    Start,
    SuggestFollowup,
    Tick,
)
from server.storage.models import Interview, Job

if TYPE_CHECKING:
    from server.live import LiveRoom

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class Interviewer:
    """One interview's machine, persisted after every command; one command at a time."""

    def __init__(
        self, room: LiveRoom, machine: InterviewMachine, strategy: FollowupStrategy
    ) -> None:
        self.room = room
        self.machine = machine
        self.strategy = strategy
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def handle(self, command: Command) -> Step:
        """Apply a command now; store the state, log the events, update the candidate."""
        async with self._lock:
            step = self.machine.handle(command, self.room.clock())
            if step.rejected is None:
                await self._save()
        for event in step.events:
            await self.room.emit(event)
        for message in step.messages:
            await self.room.send_candidate(message.model_dump(mode="json"))
        for request in step.requests:
            task = asyncio.create_task(self._propose(request))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        if self.machine.finished and not self.room.ended:
            await self.room.end(self.machine.state.end_reason or "completed", log_event=False)
        return step

    async def _save(self) -> None:
        async with self.room.services.sessions() as session, session.begin():
            row = await session.get(Interview, self.room.interview_id)
            if row is not None:
                row.state = self.machine.to_dict()

    async def _propose(self, request: FollowupRequest) -> None:
        try:
            suggestion = await self.strategy.propose(request)
        except Exception:
            log.exception("follow-up strategy failed")
            suggestion = None
        if suggestion is None:
            await self.handle(NoFollowup(parent_id=request.parent_id))
        else:
            await self.handle(
                SuggestFollowup(
                    parent_id=request.parent_id,
                    text=suggestion.text,
                    reason=suggestion.reason,
                    rule=suggestion.rule,
                    source=suggestion.source,
                )
            )

    async def candidate_connected(self) -> None:
        """Start on first join; resume where the candidate was on a rejoin."""
        if self.machine.phase == "not_started":
            await self.handle(Start())
        else:
            await self.handle(CandidateReconnected())
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick_loop(), name="interview-ticker")

    async def candidate_disconnected(self) -> None:
        """Timers stop counting while the candidate is away."""
        await self.handle(CandidateDisconnected())

    async def _tick_loop(self) -> None:
        while not self.machine.finished:
            await asyncio.sleep(TICK_SECONDS)
            if self.room.candidate_ws is not None:
                try:
                    await self.handle(Tick())
                except Exception:
                    log.exception("interview tick failed")

    async def aclose(self) -> None:
        """Stop the ticker and pending follow-up work."""
        current = asyncio.current_task()
        for task in [*self._pending, *([self._ticker] if self._ticker else [])]:
            if task is current:
                continue  # finishing from inside this task: it ends on its own
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._ticker = None


def machine_for(interview: Interview, job: Job) -> InterviewMachine | None:
    """The saved machine, or a new one planned from the job's competency model (None without)."""
    if interview.state and "plan" in interview.state:
        return InterviewMachine.from_dict(interview.state)
    if not job.competency_model:
        return None
    try:
        model = parse_competency_model(job.competency_model)
    except CompetencyModelError:
        log.warning("job competency model is invalid; running observer-led", extra={"job": job.id})
        return None
    settings_data: dict[str, Any] = dict(job.plan_settings or {})
    settings_data.setdefault("seed", int(interview.id[:8], 16) % 100_000)
    extra = (interview.state or {}).get("extra_time_factor")
    if extra:
        settings_data["extra_time_factor"] = float(extra)
    plan = build_plan(model, PlanSettings(**settings_data))
    return InterviewMachine.new(interview.id, plan)


def strategy_for_settings(settings: Any) -> FollowupStrategy:
    """The follow-up strategy configured for this deployment."""
    return make_strategy(settings.followup_llm)
