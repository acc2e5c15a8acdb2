"""The interview state machine: pure, synchronous, clock injected through ``now``.

    not_started -Start-> greeting -CandidateReady-> thinking(practice)
    not_started -Start-> waiting (observer-led plan: no AI questions)
    waiting -InjectQuestion-> thinking(observer question); deciding -nothing queued-> waiting
    thinking -speech or thinking time over-> answering
    thinking|answering -Done button | pause after min length | time limit-> deciding
    deciding -grace, then FollowupRequest-> (SuggestFollowup -> approve/skip) | NoFollowup
    deciding -> thinking(next: "now" injection, follow-up, "next" injection, plan question)
    deciding -nothing left-> finished (closing message)

Every call returns a Step: messages for the candidate page, events for the log and the
observers, follow-up requests for the server to run through a strategy. The server
persists ``to_dict()`` after each step and restores with ``from_dict()``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from pydantic import BaseModel

from analysis.events import (
    AnswerDone,
    FollowupApproved,
    FollowupSkipped,
    FollowupSuggested,
    InterviewEnded,
    QuestionAnswered,
    QuestionShown,
)
from analysis.followup.types import FollowupRequest
from analysis.interview import texts
from analysis.interview.commands import (
    AddObserverNote,
    AddTranscript,
    ApproveFollowup,
    CandidateDisconnected,
    CandidateReady,
    CandidateReconnected,
    Command,
    EndInterview,
    FinishAnswer,
    GiveLiveRating,
    InjectQuestion,
    NoFollowup,
    SetObserversPresent,
    SkipFollowup,
    SpeechStarted,
    SpeechStopped,
    Start,
    SuggestFollowup,
    Tick,
)
from analysis.interview.messages import (
    AnswerClockStarted,
    CandidateMessage,
    QuestionKind,
    ShowAcknowledgement,
    ShowCompletion,
    ShowGreeting,
    ShowQuestion,
)
from analysis.interview.observer_commands import AUTO, ObserverCommands
from analysis.interview.plan import InterviewPlan, PlannedQuestion
from analysis.interview.state import (
    AskedQuestion,
    EndReason,
    InterviewState,
    PendingSuggestion,
    QueuedQuestion,
)
from analysis.interview.step import Step


class ObserverView(BaseModel):
    """What the observer page needs beyond the event stream."""

    phase: str
    plan: InterviewPlan
    current: AskedQuestion | None
    queued: list[QueuedQuestion]
    suggestion: PendingSuggestion | None
    answered: list[AskedQuestion]
    progress: int


class InterviewMachine(ObserverCommands):
    """Drives one interview; holds nothing but its serialisable state."""

    def __init__(self, state: InterviewState) -> None:
        self.state = state
        self._handlers: dict[type[BaseModel], Callable[[Any, float, Step], None]] = {
            Start: self._start,
            CandidateReady: self._ready,
            FinishAnswer: self._finish_answer,
            SpeechStarted: self._speech_started,
            SpeechStopped: self._speech_stopped,
            AddTranscript: self._transcript,
            Tick: self._tick,
            SuggestFollowup: self._suggest,
            NoFollowup: self._no_followup,
            SetObserversPresent: self._observers,
            InjectQuestion: self._inject,
            ApproveFollowup: self._approve_cmd,
            SkipFollowup: self._skip_cmd,
            AddObserverNote: self._note,
            GiveLiveRating: self._rating,
            CandidateDisconnected: self._disconnected,
            CandidateReconnected: self._reconnected,
            EndInterview: self._end_cmd,
        }

    # -- construction and persistence ------------------------------------------------

    @classmethod
    def new(cls, interview_id: str, plan: InterviewPlan) -> InterviewMachine:
        """A machine for a fresh interview, before Start."""
        return cls(InterviewState(interview_id=interview_id, plan=plan))

    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-compatible data."""
        return self.state.model_dump(mode="json")

    def to_json(self) -> str:
        """The whole state as JSON text."""
        return self.state.model_dump_json()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InterviewMachine:
        """Restore a machine saved with to_dict()."""
        return cls(InterviewState.model_validate(data))

    @classmethod
    def from_json(cls, text: str | bytes) -> InterviewMachine:
        """Restore a machine saved with to_json()."""
        return cls.from_dict(cast(dict[str, Any], json.loads(text)))

    # -- queries -----------------------------------------------------------------------

    @property
    def phase(self) -> str:
        """The current phase name."""
        return self.state.phase

    @property
    def finished(self) -> bool:
        """True once the completion message has been sent."""
        return self.state.phase == "finished"

    def current_screen(self, now: float, *, resumed: bool = True) -> list[CandidateMessage]:
        """What a (re)loaded candidate page should show right now."""
        s = self.state
        if s.phase == "greeting":
            return [ShowGreeting(text=s.plan.greeting, language=s.plan.language)]
        if s.phase in ("thinking", "answering") and s.current is not None:
            return [self._question_message(s.current, now, resumed=resumed)]
        if s.phase == "deciding" and s.deciding_for and s.last_acknowledgement:
            return [ShowAcknowledgement(question_id=s.deciding_for, text=s.last_acknowledgement)]
        if s.phase == "finished":
            return [ShowCompletion(text=s.plan.closing, next_steps=s.plan.next_steps)]
        return []

    def observer_view(self) -> ObserverView:
        """Plan, current question (with who injected it), queue and pending suggestion."""
        s = self.state
        return ObserverView(
            phase=s.phase,
            plan=s.plan,
            current=s.current,
            queued=[*s.queue_now, *s.queue_next],
            suggestion=s.suggestion,
            answered=s.answered,
            progress=s.next_plan_index,
        )

    # -- the one entry point -----------------------------------------------------------

    def handle(self, command: Command, now: float) -> Step:
        """Apply one command at interview-clock time ``now`` (seconds)."""
        now = max(now, self.state.last_now)
        step = Step()
        self._handlers[type(command)](command, now, step)
        self.state.last_now = now
        return step

    # -- helpers -----------------------------------------------------------------------

    def _event(self, step: Step, cls: type[Any], now: float, **fields: Any) -> None:
        step.events.append(cls(interview_id=self.state.interview_id, t=now, **fields))

    def _factor(self) -> float:
        return self.state.plan.settings.extra_time_factor

    def _progress(self, index: int) -> str:
        language = self.state.plan.language
        total = self.state.plan.total
        return texts.PROGRESS[language].format(index=index, total=total)

    def _question_message(self, q: AskedQuestion, now: float, *, resumed: bool) -> ShowQuestion:
        plan = self.state.plan
        language = plan.language
        kind: QuestionKind
        if q.kind == "practice":
            kind, progress = "practice", texts.PRACTICE_LABEL[language]
        elif q.kind == "main":
            kind, progress = "question", self._progress(q.index)
        elif q.index == 0:
            kind, progress = "question", ""
        else:
            kind = "followup"
            progress = texts.FOLLOWUP_LABEL[language].format(index=q.index, total=plan.total)
        if q.clock_started_at is None:
            thinking_left = max(0.0, q.shown_at + q.thinking_time - now)
            time_left = q.time_limit
        else:
            thinking_left = 0.0
            time_left = max(0.0, q.clock_started_at + q.time_limit - now)
        return ShowQuestion(
            question_id=q.id,
            text=q.text,
            kind=kind,
            index=q.index,
            total=plan.total,
            progress=progress,
            language=language,
            thinking_left=thinking_left,
            time_limit=q.time_limit,
            time_left=time_left,
            answering=q.clock_started_at is not None,
            resumed=resumed,
        )

    def _ask(self, q: AskedQuestion, now: float, step: Step) -> None:
        s = self.state
        q.shown_at = now
        s.current = q
        s.phase = "thinking"
        s.speaking = False
        s.silence_since = None
        sources = {"practice": "plan", "main": "plan", "followup": "followup"}
        source = sources.get(q.kind, "observer")
        self._event(
            step,
            QuestionShown,
            now,
            question_id=q.id,
            text=q.text,
            source=source,
            index=q.index,
            total=s.plan.total,
        )
        step.messages.append(self._question_message(q, now, resumed=False))

    def _from_plan(self, pq: PlannedQuestion, index: int) -> AskedQuestion:
        return AskedQuestion(
            id=pq.id,
            kind=pq.kind,
            text=pq.text,
            index=index,
            main_id=pq.id if pq.kind == "main" else None,
            competency_id=pq.competency_id,
            time_limit=pq.time_limit,
            thinking_time=pq.thinking_time,
        )

    def _start_clock(self, q: AskedQuestion, at: float, now: float, step: Step) -> None:
        q.clock_started_at = at
        self.state.phase = "answering"
        time_left = max(0.0, at + q.time_limit - now)
        step.messages.append(AnswerClockStarted(question_id=q.id, time_left=time_left))

    def _check_timers(self, now: float, step: Step) -> None:
        s = self.state
        q = s.current
        if s.phase == "thinking" and q is not None and now >= q.shown_at + q.thinking_time:
            self._start_clock(q, q.shown_at + q.thinking_time, now, step)
        if s.phase == "answering" and q is not None:
            assert q.clock_started_at is not None
            settings = s.plan.settings
            if now >= q.clock_started_at + q.time_limit:
                self._end_answer("timeout", now, step)
            elif (
                not s.speaking
                and s.silence_since is not None
                and q.first_speech_at is not None
                and s.silence_since - q.first_speech_at >= settings.min_answer_seconds
                and now - s.silence_since >= settings.end_of_answer_pause * self._factor()
            ):
                self._end_answer("silence", now, step)
        if s.phase == "deciding":
            if s.request_at is not None and now >= s.request_at:
                self._flush(now, step)
            elif s.suggestion is not None:
                if now >= s.suggestion.wait_until:
                    self._approve(AUTO, now, step)
            elif (
                s.decision_started_at is not None
                and now - s.decision_started_at >= s.plan.settings.followup_decision_timeout
            ):
                self._advance(now, step)

    def _end_answer(self, reason: EndReason, now: float, step: Step) -> None:
        s = self.state
        q = s.current
        assert q is not None
        q.ended_at = now
        q.end_reason = reason
        if q.clock_started_at is None:
            q.clock_started_at = now
        s.answered.append(q)
        s.current = None
        s.speaking = False
        s.silence_since = None
        self._event(step, AnswerDone, now, question_id=q.id, reason=reason)
        if q.kind == "practice":
            s.practice_done = True
            text = texts.PRACTICE_DONE[s.plan.language]
        else:
            text = texts.acknowledgement(s.plan.language, s.ack_count)
            s.ack_count += 1
        s.last_acknowledgement = text
        step.messages.append(ShowAcknowledgement(question_id=q.id, text=text))
        s.phase = "deciding"
        s.deciding_for = q.id
        s.suggestion = None
        s.decision_started_at = None
        s.request_at = now + s.plan.settings.transcript_grace
        if reason != "left":
            self._check_timers(now, step)

    def _answer_text(self, q: AskedQuestion) -> str:
        joiner = " " if self.state.plan.language == "en" else ""
        return joiner.join(q.transcript)

    def _record_answer(self, now: float, step: Step) -> AskedQuestion:
        s = self.state
        q = s.answered[-1]
        s.request_at = None
        self._event(
            step,
            QuestionAnswered,
            now,
            question_id=q.id,
            kind=q.kind,
            competency_id=q.competency_id,
            transcript=self._answer_text(q),
            started=q.clock_started_at or q.shown_at,
            ended=q.ended_at or now,
            reason=q.end_reason or "button",
        )
        return q

    def _over_time(self, now: float) -> bool:
        s = self.state
        if s.started_at is None:
            return False
        budget = s.plan.settings.duration_minutes * 60 * self._factor()
        return now - s.started_at - s.paused_total >= budget

    def _flush(self, now: float, step: Step) -> None:
        s = self.state
        q = self._record_answer(now, step)
        limit = s.plan.settings.max_followups_per_question
        asked = s.followups_asked.get(q.main_id or "", 0)
        eligible = (
            q.kind in ("main", "followup")
            and q.main_id is not None
            and asked < limit
            and not s.queue_now
            and bool(self._answer_text(q).strip())
            and not self._over_time(now)
        )
        if not eligible or q.main_id is None:
            self._advance(now, step)
            return
        main = next(p for p in s.plan.questions if p.id == q.main_id)
        s.decision_started_at = now
        step.requests.append(
            FollowupRequest(
                parent_id=q.id,
                main_question_id=main.id,
                language=s.plan.language,
                competency_id=main.competency_id,
                competency_name=main.competency_name,
                indicators=main.indicators,
                probes=main.probes,
                question=q.text,
                answer=self._answer_text(q),
                asked_rules=list(s.rules_used.get(main.id, [])),
                remaining=limit - asked,
            )
        )

    def _advance(self, now: float, step: Step) -> None:
        s = self.state
        s.deciding_for = None
        s.decision_started_at = None
        s.request_at = None
        s.suggestion = None
        settings = s.plan.settings
        if s.queue_now or s.queue_next:
            queued = (s.queue_now or s.queue_next).pop(0)
            q = AskedQuestion(
                id=queued.id,
                kind="observer",
                text=queued.text,
                index=s.next_plan_index,
                by=queued.by,
                time_limit=settings.answer_time_limit * self._factor(),
                thinking_time=settings.thinking_time * self._factor(),
            )
            self._ask(q, now, step)
        elif s.next_plan_index < s.plan.total:
            pq = s.plan.questions[s.next_plan_index]
            s.next_plan_index += 1
            self._ask(self._from_plan(pq, s.next_plan_index), now, step)
        elif s.plan.observer_led:
            s.phase = "waiting"  # observers decide what comes next, and when it ends
        else:
            self._finish("completed", now, step)

    def _finish(self, reason: str, now: float, step: Step) -> None:
        s = self.state
        s.phase = "finished"
        s.current = None
        s.suggestion = None
        s.end_reason = reason
        plan = s.plan
        step.messages.append(ShowCompletion(text=plan.closing, next_steps=plan.next_steps))
        self._event(step, InterviewEnded, now, reason=reason)

    def _approve(self, by: str, now: float, step: Step) -> None:
        s = self.state
        sug = s.suggestion
        assert sug is not None
        self._event(step, FollowupApproved, now, question_id=sug.id, by=by)
        s.followups_asked[sug.main_id] = s.followups_asked.get(sug.main_id, 0) + 1
        s.rules_used.setdefault(sug.main_id, []).append(sug.rule)
        main = next(p for p in s.plan.questions if p.id == sug.main_id)
        q = AskedQuestion(
            id=sug.id,
            kind="followup",
            text=sug.text,
            index=s.next_plan_index,
            main_id=sug.main_id,
            competency_id=main.competency_id,
            rule=sug.rule,
            reason=sug.reason,
            time_limit=s.plan.settings.followup_time_limit * self._factor(),
            thinking_time=s.plan.settings.thinking_time * self._factor(),
        )
        s.suggestion = None
        s.deciding_for = None
        s.decision_started_at = None
        self._ask(q, now, step)

    def _skip(self, by: str, reason: str, now: float, step: Step) -> None:
        sug = self.state.suggestion
        assert sug is not None
        self._event(step, FollowupSkipped, now, question_id=sug.id, by=by, reason=reason)
        self.state.suggestion = None

    # -- command handlers --------------------------------------------------------------

    def _start(self, cmd: Start, now: float, step: Step) -> None:
        s = self.state
        if s.phase != "not_started":
            step.rejected = "the interview has already started"
            return
        s.started_at = now
        if s.plan.observer_led:
            s.phase = "waiting"
            return
        s.phase = "greeting"
        step.messages.append(ShowGreeting(text=s.plan.greeting, language=s.plan.language))

    def _ready(self, cmd: CandidateReady, now: float, step: Step) -> None:
        s = self.state
        if s.phase != "greeting":
            step.rejected = "not waiting for the candidate to be ready"
            return
        if s.plan.practice is not None and not s.practice_done:
            self._ask(self._from_plan(s.plan.practice, 0), now, step)
        else:
            s.practice_done = True
            self._advance(now, step)

    def _finish_answer(self, cmd: FinishAnswer, now: float, step: Step) -> None:
        if self.state.phase not in ("thinking", "answering"):
            step.rejected = "no answer in progress"
            return
        self._end_answer("button", now, step)

    def _speech_started(self, cmd: SpeechStarted, now: float, step: Step) -> None:
        s = self.state
        q = s.current
        if s.phase not in ("thinking", "answering") or q is None:
            return
        at = min(now, cmd.at if cmd.at is not None else now)
        if q.first_speech_at is None:
            q.first_speech_at = max(at, q.shown_at)
        if q.clock_started_at is None:
            self._start_clock(q, q.first_speech_at, now, step)
        s.speaking = True
        s.silence_since = None
        self._check_timers(now, step)

    def _speech_stopped(self, cmd: SpeechStopped, now: float, step: Step) -> None:
        s = self.state
        if s.phase != "answering" or not s.speaking:
            return
        s.speaking = False
        s.silence_since = min(now, cmd.at if cmd.at is not None else now)
        self._check_timers(now, step)

    def _transcript(self, cmd: AddTranscript, now: float, step: Step) -> None:
        s = self.state
        text = cmd.text.strip()
        if not text:
            return
        if s.phase in ("thinking", "answering") and s.current is not None:
            s.current.transcript.append(text)
        elif s.phase == "deciding" and s.request_at is not None and s.answered:
            # Late final text of the answer just ended: still part of it.
            s.answered[-1].transcript.append(text)

    def _tick(self, cmd: Tick, now: float, step: Step) -> None:
        if self.state.disconnected_at is None:
            self._check_timers(now, step)

    def _awaiting_decision(self, parent_id: str) -> bool:
        s = self.state
        return (
            s.phase == "deciding"
            and s.deciding_for == parent_id
            and s.decision_started_at is not None
            and s.suggestion is None
        )

    def _suggest(self, cmd: SuggestFollowup, now: float, step: Step) -> None:
        s = self.state
        if not self._awaiting_decision(cmd.parent_id):
            step.rejected = "no follow-up decision pending for this question"
            return
        parent = s.answered[-1]
        assert parent.main_id is not None
        s.suggestion_count += 1
        sug = PendingSuggestion(
            id=f"{parent.main_id}-f{s.suggestion_count}",
            parent_id=parent.id,
            main_id=parent.main_id,
            text=cmd.text,
            reason=cmd.reason,
            rule=cmd.rule,
            source=cmd.source,
            suggested_at=now,
            wait_until=now + (s.plan.settings.approval_window if s.observers_present else 0.0),
        )
        s.suggestion = sug
        self._event(
            step,
            FollowupSuggested,
            now,
            question_id=sug.id,
            parent_id=sug.parent_id,
            text=sug.text,
            reason=sug.reason,
            rule=sug.rule,
            source=sug.source,
        )
        if now >= sug.wait_until:
            self._approve(AUTO, now, step)

    def _no_followup(self, cmd: NoFollowup, now: float, step: Step) -> None:
        if not self._awaiting_decision(cmd.parent_id):
            step.rejected = "no follow-up decision pending for this question"
            return
        self._advance(now, step)

    def _disconnected(self, cmd: CandidateDisconnected, now: float, step: Step) -> None:
        s = self.state
        if s.disconnected_at is None:
            s.disconnected_at = now
        s.speaking = False
        s.silence_since = None

    def _reconnected(self, cmd: CandidateReconnected, now: float, step: Step) -> None:
        s = self.state
        since = s.disconnected_at if s.disconnected_at is not None else s.last_now
        pause = max(0.0, now - since)
        s.disconnected_at = None
        s.speaking = False
        s.silence_since = None
        if s.phase not in ("not_started", "finished"):
            s.paused_total += pause
            self._shift(pause)
        step.messages.extend(self.current_screen(now, resumed=True))

    def _shift(self, pause: float) -> None:
        """Move every running timer forward: time away is not charged to the candidate."""
        s = self.state
        q = s.current
        if q is not None:
            q.shown_at += pause
            if q.clock_started_at is not None:
                q.clock_started_at += pause
            if q.first_speech_at is not None:
                q.first_speech_at += pause
        if s.request_at is not None:
            s.request_at += pause
        if s.decision_started_at is not None:
            s.decision_started_at += pause
        if s.suggestion is not None:
            s.suggestion.wait_until += pause

    def _end_cmd(self, cmd: EndInterview, now: float, step: Step) -> None:
        s = self.state
        if s.phase == "finished":
            step.rejected = "the interview has already finished"
            return
        if s.current is not None:
            q = s.current
            q.ended_at, q.end_reason = now, "left"
            if q.clock_started_at is None:
                q.clock_started_at = now
            s.answered.append(q)
            s.current = None
            self._event(step, AnswerDone, now, question_id=q.id, reason="left")
            self._record_answer(now, step)
        elif s.phase == "deciding" and s.request_at is not None:
            self._record_answer(now, step)
        self._finish(cmd.reason, now, step)
