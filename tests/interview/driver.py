"""A scripted clock and a recorder around the interview machine, for readable tests."""

from __future__ import annotations

from typing import Any

from analysis.events import Event
from analysis.followup.rules import RuleFollowups
from analysis.followup.types import FollowupRequest
from analysis.interview.commands import (
    AddTranscript,
    Command,
    NoFollowup,
    SpeechStarted,
    SpeechStopped,
    SuggestFollowup,
    Tick,
)
from analysis.interview.machine import InterviewMachine
from analysis.interview.messages import CandidateMessage, ShowQuestion
from analysis.interview.step import Step


class Driver:
    """Feeds commands at scripted times; answers follow-up requests with the rules."""

    def __init__(self, machine: InterviewMachine, *, now: float = 0.0) -> None:
        self.machine = machine
        self.now = now
        self.messages: list[CandidateMessage] = []
        self.events: list[Event] = []
        self.requests: list[FollowupRequest] = []
        self.rejections: list[str] = []
        self.auto_followups = True

    def send(self, command: Command) -> Step:
        step = self.machine.handle(command, self.now)
        self.messages += step.messages
        self.events += step.events
        self.requests += step.requests
        if step.rejected:
            self.rejections.append(step.rejected)
        if self.auto_followups:
            for request in step.requests:
                self.answer_request(request)
        return step

    def answer_request(self, request: FollowupRequest) -> None:
        suggestion = RuleFollowups().propose_now(request)
        if suggestion is None:
            self.send(NoFollowup(parent_id=request.parent_id))
        else:
            self.send(SuggestFollowup(parent_id=request.parent_id, **suggestion.model_dump()))

    def wait(self, seconds: float, tick: float = 1.0) -> None:
        """Let time pass, ticking like the server does."""
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + tick)
            self.send(Tick())

    def speak(self, text: str, seconds: float) -> None:
        """The candidate talks for ``seconds`` and the transcript arrives; then goes quiet."""
        self.send(SpeechStarted())
        self.wait(seconds)
        self.send(AddTranscript(text=text))
        self.send(SpeechStopped())

    def questions(self) -> list[ShowQuestion]:
        return [m for m in self.messages if isinstance(m, ShowQuestion) and not m.resumed]

    def events_of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    def restart(self) -> None:
        """Persist to JSON and restore, as the server does after a crash."""
        self.machine = InterviewMachine.from_json(self.machine.to_json())
