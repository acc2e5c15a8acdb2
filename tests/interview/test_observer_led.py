"""Observer-led interviews (no competency model): the same machine with a plan of no questions."""

from __future__ import annotations

from analysis.interview.commands import (
    EndInterview,
    FinishAnswer,
    InjectQuestion,
    Start,
)
from analysis.interview.machine import InterviewMachine
from analysis.interview.messages import ShowAcknowledgement, ShowCompletion, ShowQuestion
from analysis.interview.plan import observer_plan
from tests.interview.driver import Driver


def observer_led() -> Driver:
    return Driver(InterviewMachine.new("iv1", observer_plan("Support", "en")))


def test_start_waits_for_an_observer_without_greeting_or_questions() -> None:
    d = observer_led()
    d.send(Start())
    assert d.machine.phase == "waiting" and d.messages == []
    d.wait(600)  # nothing happens on its own, however long it takes
    assert d.machine.phase == "waiting" and d.messages == [] and d.events == []


def test_an_injected_question_is_asked_at_once_and_a_second_one_waits_its_turn() -> None:
    d = observer_led()
    d.send(Start())
    d.send(InjectQuestion(text="Introduce yourself.", by="hr@example.com", position="next"))
    [first] = d.questions()
    assert first.text == "Introduce yourself." and first.kind == "question" and first.progress == ""
    d.wait(40)  # the candidate is answering now
    d.send(InjectQuestion(text="Why this job?", by="hr@example.com", position="next"))
    assert len(d.questions()) == 1
    d.send(FinishAnswer())
    d.wait(2)
    assert [q.text for q in d.questions()] == ["Introduce yourself.", "Why this job?"]


def test_answers_are_acknowledged_and_the_interview_waits_again() -> None:
    d = observer_led()
    d.send(Start())
    d.send(InjectQuestion(text="Introduce yourself.", by="hr@example.com"))
    d.send(FinishAnswer())
    assert isinstance(d.messages[-1], ShowAcknowledgement)
    d.wait(3)  # the transcript grace passes: nothing else is queued
    assert d.machine.phase == "waiting"
    assert [e.type for e in d.events].count("question_answered") == 1
    d.send(InjectQuestion(text="Why this job?", by="hr@example.com"))
    assert d.machine.phase == "thinking"
    assert [q.text for q in d.questions()] == ["Introduce yourself.", "Why this job?"]


def test_only_ending_finishes_an_observer_led_interview() -> None:
    d = observer_led()
    d.send(Start())
    d.send(InjectQuestion(text="Introduce yourself.", by="hr@example.com"))
    d.send(EndInterview(reason="finished by candidate"))
    assert d.machine.finished
    assert isinstance(d.messages[-1], ShowCompletion)
    assert [e.type for e in d.events][-1] == "interview_ended"
    d.restart()
    assert d.machine.finished and d.machine.state.plan.observer_led


def test_show_question_for_an_observer_question_has_no_progress_label() -> None:
    d = observer_led()
    d.send(Start())
    d.send(InjectQuestion(text="Tell me about a failure.", by="hr@example.com"))
    q = d.questions()[0]
    assert isinstance(q, ShowQuestion) and q.index == 0 and q.total == 0
