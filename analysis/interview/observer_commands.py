"""Commands from watching recruiters: injected questions, follow-up approvals, notes, ratings.

A mixin of :class:`analysis.interview.machine.InterviewMachine`, kept apart so the machine
module holds the candidate's side of the interview and this one the observers' side.
"""

from __future__ import annotations

from typing import Any

from analysis.events import LiveRatingGiven, ObserverNoteAdded, QuestionInjected
from analysis.interview.commands import (
    AddObserverNote,
    ApproveFollowup,
    GiveLiveRating,
    InjectQuestion,
    SetObserversPresent,
    SkipFollowup,
)
from analysis.interview.state import InterviewState, QueuedQuestion
from analysis.interview.step import Step

AUTO = "auto"


class ObserverCommands:
    """Observer command handlers; the machine provides the shared helpers below."""

    state: InterviewState

    def _event(self, step: Step, cls: type[Any], now: float, **fields: Any) -> None:
        raise NotImplementedError

    def _advance(self, now: float, step: Step) -> None:
        raise NotImplementedError

    def _approve(self, by: str, now: float, step: Step) -> None:
        raise NotImplementedError

    def _skip(self, by: str, reason: str, now: float, step: Step) -> None:
        raise NotImplementedError

    def _observers(self, cmd: SetObserversPresent, now: float, step: Step) -> None:
        self.state.observers_present = cmd.present

    def _inject(self, cmd: InjectQuestion, now: float, step: Step) -> None:
        s = self.state
        if s.phase == "finished":
            step.rejected = "the interview has finished"
            return
        s.injected_count += 1
        queued = QueuedQuestion(
            id=f"obs-{s.injected_count}",
            text=cmd.text.strip(),
            by=cmd.by,
            position=cmd.position,
            injected_at=now,
        )
        (s.queue_now if cmd.position == "now" else s.queue_next).append(queued)
        self._event(
            step,
            QuestionInjected,
            now,
            question_id=queued.id,
            text=queued.text,
            by=queued.by,
            position=queued.position,
            ask_id=cmd.ask_id,
        )
        if s.phase == "waiting":
            self._advance(now, step)  # an observer-led interview with nothing asked yet
            return
        if cmd.position == "now" and self._interruptible():
            # The candidate has not started answering: ask the observer's question at once
            # and bring the interrupted question back right after it. It goes to the head:
            # earlier "now" questions still waiting (an interrupted one) come after it.
            cur = s.current
            assert cur is not None
            s.queue_now.remove(queued)
            s.queue_now.insert(0, queued)
            if cur.kind == "observer":
                s.queue_now.insert(
                    1,
                    QueuedQuestion(
                        id=cur.id, text=cur.text, by=cur.by or "", position="now", injected_at=now
                    ),
                )
            else:
                s.next_plan_index -= 1
            s.current = None
            self._advance(now, step)
            return
        if cmd.position == "now" and s.phase == "deciding" and s.request_at is None:
            # The answer is already over: the observer's question replaces the follow-up.
            if s.suggestion is not None:
                self._skip(AUTO, "an observer question was asked instead", now, step)
            self._advance(now, step)

    def _interruptible(self) -> bool:
        """A plan or observer question shown but not yet being answered."""
        s = self.state
        q = s.current
        if s.phase != "thinking" or q is None or s.speaking or q.clock_started_at is not None:
            return False
        if q.kind == "observer":
            return True
        return (
            q.kind == "main"
            and s.next_plan_index > 0
            and s.plan.questions[s.next_plan_index - 1].id == q.id
        )

    def _approve_cmd(self, cmd: ApproveFollowup, now: float, step: Step) -> None:
        sug = self.state.suggestion
        if sug is None or sug.id != cmd.question_id:
            step.rejected = "that follow-up is no longer pending"
            return
        self._approve(cmd.by, now, step)

    def _skip_cmd(self, cmd: SkipFollowup, now: float, step: Step) -> None:
        sug = self.state.suggestion
        if sug is None or sug.id != cmd.question_id:
            step.rejected = "that follow-up is no longer pending"
            return
        self._skip(cmd.by, "skipped by an observer", now, step)
        self._advance(now, step)

    def _about(self) -> str | None:
        s = self.state
        if s.current is not None:
            return s.current.id
        return s.answered[-1].id if s.answered else None

    def _note(self, cmd: AddObserverNote, now: float, step: Step) -> None:
        self._event(
            step, ObserverNoteAdded, now, by=cmd.by, text=cmd.text, question_id=self._about()
        )

    def _rating(self, cmd: GiveLiveRating, now: float, step: Step) -> None:
        known = {q.competency_id for q in self.state.plan.questions}
        if cmd.competency_id not in known:
            step.rejected = f"unknown competency {cmd.competency_id!r}"
            return
        self._event(
            step,
            LiveRatingGiven,
            now,
            by=cmd.by,
            competency=cmd.competency_id,
            score=cmd.score,
            question_id=self._about(),
        )
