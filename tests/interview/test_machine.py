"""The interview state machine driven with a scripted clock (no sleeping, no I/O)."""

from __future__ import annotations

import json

import pytest

from analysis.competency import load_template
from analysis.competency.model import Language
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
    SetObserversPresent,
    SkipFollowup,
    SpeechStarted,
    SpeechStopped,
    Start,
    parse_command,
)
from analysis.interview.machine import InterviewMachine
from analysis.interview.messages import (
    AnswerClockStarted,
    ShowAcknowledgement,
    ShowCompletion,
    ShowGreeting,
    ShowQuestion,
)
from analysis.interview.plan import PlanSettings, build_plan
from analysis.interview.step import Step
from tests.interview.driver import Driver

GOOD_EN = (
    "In 2023 at my last company our checkout page was slow and my task was to fix it before "
    "the holiday sale. I analysed the logs, found a slow query, rewrote it and added caching. "
    "As a result the page load time dropped from 4 seconds to 1.2 seconds and conversion "
    "increased by 8 percent."
)
WE_EN = (
    "At my last company the checkout page was slow. We analysed the logs, we found a slow "
    "query, we rewrote it and we added caching. In the end the page load time dropped from "
    "4 seconds to 1.2 seconds and conversion went up 8 percent."
)
GOOD_ZH = (
    "去年我在车间当班组长时，二号产线的包装工位是瓶颈，我的任务是在一个月内解决。"
    "我先用三周的数据分析了停机原因，然后重新设计了工位布局，并培训了六名操作工。"
    "最终产量提升了百分之十八，每班多出约三百件。"
)

SETTINGS = PlanSettings(
    question_count=3,
    thinking_time=10,
    answer_time_limit=60,
    followup_time_limit=40,
    practice_time_limit=30,
    min_answer_seconds=5,
    end_of_answer_pause=3,
    transcript_grace=1,
    max_followups_per_question=1,
    seed=3,
)


def make_driver(language: Language = "en", **changes: object) -> Driver:
    model = load_template("software_engineer", language)
    plan = build_plan(model, SETTINGS.model_copy(update=changes))
    return Driver(InterviewMachine.new("iv-1", plan))


def through_practice(d: Driver) -> None:
    """Greeting and practice; returns the moment the first main question is shown."""
    d.send(Start())
    d.send(CandidateReady())
    d.speak("I am a backend developer at a payments company.", 6)
    while len(d.questions()) < 2:
        d.wait(1)


def test_a_three_question_interview_runs_to_completion() -> None:
    d = make_driver()
    d.send(Start())
    assert isinstance(d.messages[0], ShowGreeting)
    assert "Software Engineer" in d.messages[0].text
    d.wait(3)  # reading the greeting: nothing happens by itself
    assert d.machine.phase == "greeting"
    d.send(CandidateReady())
    through_answers = [GOOD_EN, GOOD_EN, GOOD_EN]
    d.speak("I am a backend developer at a payments company.", 6)
    d.wait(5)
    for text in through_answers:
        d.wait(2)  # thinking before speaking
        d.speak(text, 20)
        d.wait(5)
    assert d.machine.finished
    shown = d.questions()
    assert [q.kind for q in shown] == ["practice", "question", "question", "question"]
    assert [q.progress for q in shown[1:]] == [
        "Question 1 of 3",
        "Question 2 of 3",
        "Question 3 of 3",
    ]
    assert shown[1].time_limit == 60 and shown[1].thinking_left == 10
    assert isinstance(d.messages[-1], ShowCompletion)
    acks = [m.text for m in d.messages if isinstance(m, ShowAcknowledgement)]
    assert len(acks) == 4 and "Thanks, that example is clear." in acks
    assert all(word not in " ".join(acks).lower() for word in ("score", "good", "great", "/"))
    done = d.events_of("answer_done")
    assert [e.reason for e in done] == ["silence"] * 4
    answered = d.events_of("question_answered")
    assert [a.kind for a in answered] == ["practice", "main", "main", "main"]
    assert answered[1].transcript == GOOD_EN
    assert {a.competency_id for a in answered[1:]} == {
        "logical_thinking",
        "code_quality",
        "collaboration",
    }
    assert [e.type for e in d.events][-1] == "interview_ended"
    assert d.events_of("interview_ended")[0].reason == "completed"
    assert not d.events_of("followup_suggested")
    assert not d.rejections


def test_a_we_answer_gets_the_personal_role_follow_up_with_its_reason() -> None:
    d = make_driver()
    through_practice(d)
    d.speak(WE_EN, 20)
    d.wait(5)
    (suggested,) = d.events_of("followup_suggested")
    assert suggested.rule == "personal_role" and "we" in suggested.reason
    (approved,) = d.events_of("followup_approved")
    assert approved.by == "auto" and approved.question_id == suggested.question_id
    followup = d.questions()[-1]
    assert followup.kind == "followup"
    assert followup.text == "What did you do yourself?"
    assert followup.progress == "Question 1 of 3, follow-up"
    assert followup.time_limit == 40
    # K = 1: another "we" answer to the follow-up does not get a second one.
    d.speak("We just worked on it together as a group for several weeks.", 8)
    d.wait(5)
    assert len(d.events_of("followup_suggested")) == 1
    assert d.questions()[-1].progress == "Question 2 of 3"


def test_mandarin_interview_uses_mandarin_texts() -> None:
    d = make_driver("zh")
    through_practice(d)
    q1 = d.questions()[1]
    assert q1.progress == "第 1 题，共 3 题" and q1.language == "zh"
    d.speak(GOOD_ZH, 20)
    d.wait(5)
    acks = [m.text for m in d.messages if isinstance(m, ShowAcknowledgement)]
    assert acks[-1] == "谢谢，这个例子很清楚。"
    assert not d.events_of("followup_suggested")


def test_thinking_pauses_do_not_end_an_answer() -> None:
    d = make_driver()
    through_practice(d)
    d.wait(9)  # silent thinking, just under the 10 s thinking time
    assert d.machine.phase == "thinking"
    d.send(SpeechStarted())
    assert isinstance(d.messages[-1], AnswerClockStarted)
    d.wait(2)
    d.send(SpeechStopped())
    d.wait(8)  # a long pause before the minimum answer length: still answering
    assert d.machine.phase == "answering"
    d.send(SpeechStarted())
    d.wait(6)
    d.send(SpeechStopped())
    d.wait(2)  # a short pause after the minimum length
    assert d.machine.phase == "answering"
    d.wait(1)  # ... reaching the configured 3 s pause ends the answer
    assert d.events_of("answer_done")[-1].reason == "silence"
    assert d.events_of("answer_done")[-1].t == d.now


def test_a_silent_candidate_gets_thinking_time_then_the_answer_time() -> None:
    d = make_driver()
    through_practice(d)
    shown_at = d.now
    d.wait(10)
    assert d.machine.phase == "answering"
    d.wait(59)
    assert d.machine.phase == "answering"
    d.wait(1)
    (_, done) = d.events_of("answer_done")
    assert done.reason == "timeout" and done.t == shown_at + 70


def test_the_time_limit_ends_an_answer_in_full_flow() -> None:
    d = make_driver()
    through_practice(d)
    d.send(SpeechStarted())
    started = d.now
    d.wait(75)  # talks on and on
    done = d.events_of("answer_done")[-1]
    assert done.reason == "timeout" and done.t == started + 60


def test_extra_time_factor_lengthens_the_limit_and_the_pause() -> None:
    d = make_driver(extra_time_factor=2.0)
    through_practice(d)
    d.send(SpeechStarted())
    d.wait(119)
    assert d.machine.phase == "answering"
    d.wait(1)
    assert d.events_of("answer_done")[-1].reason == "timeout"


def test_the_done_button_ends_an_answer_at_once() -> None:
    d = make_driver()
    through_practice(d)
    d.send(SpeechStarted())
    d.wait(3)
    d.send(FinishAnswer())
    assert d.events_of("answer_done")[-1].reason == "button"
    assert isinstance(d.messages[-1], ShowAcknowledgement)
    d.send(FinishAnswer())
    assert d.rejections == ["no answer in progress"]


def test_reconnect_in_the_middle_of_an_answer_loses_nothing() -> None:
    d = make_driver()
    through_practice(d)
    d.send(SpeechStarted())
    d.wait(20)
    d.send(AddTranscript(text="In 2023 at my last company our checkout page was slow."))
    before = d.machine.current_screen(d.now)[0]
    assert isinstance(before, ShowQuestion) and before.time_left == 40
    d.send(CandidateDisconnected())
    d.wait(30)  # away: ticks do not run the clock
    d.restart()  # the server persisted the state and restarted meanwhile
    d.send(CandidateReconnected())
    resumed = d.messages[-1]
    assert isinstance(resumed, ShowQuestion) and resumed.resumed
    assert resumed.question_id == before.question_id
    assert resumed.answering and resumed.time_left == 40
    d.send(SpeechStarted())
    d.wait(10)
    d.send(AddTranscript(text="I rewrote the slow query and load time dropped by 70 percent."))
    d.send(FinishAnswer())
    d.wait(2)
    answered = d.events_of("question_answered")[-1]
    assert answered.transcript == (
        "In 2023 at my last company our checkout page was slow. "
        "I rewrote the slow query and load time dropped by 70 percent."
    )
    assert [e.question_id for e in d.events_of("answer_done")][-1] == before.question_id


def test_restart_without_a_disconnect_resumes_from_the_last_step() -> None:
    d = make_driver()
    through_practice(d)
    d.wait(4)
    saved = json.loads(json.dumps(d.machine.to_dict()))
    d.machine = InterviewMachine.from_dict(saved)
    d.now += 120  # the server was down for two minutes
    d.send(CandidateReconnected())
    screen = d.messages[-1]
    assert isinstance(screen, ShowQuestion) and screen.thinking_left == 6


def test_two_simultaneous_injections_are_both_asked_in_order() -> None:
    d = make_driver()
    through_practice(d)
    d.send(SpeechStarted())
    d.send(InjectQuestion(text="Which database did you use?", by="alice"))
    d.send(InjectQuestion(text="How big was the team?", by="bob"))  # same instant
    injected = d.events_of("question_injected")
    assert [(e.by, e.question_id) for e in injected] == [("alice", "obs-1"), ("bob", "obs-2")]
    d.restart()
    d.wait(20)
    d.send(AddTranscript(text=GOOD_EN))
    d.send(SpeechStopped())
    d.wait(5)
    assert d.questions()[-1].text == "Which database did you use?"
    d.speak("PostgreSQL 15 on a managed cloud service, with 3 replicas.", 8)
    d.wait(5)
    assert d.questions()[-1].text == "How big was the team?"
    d.speak("Five engineers and one designer.", 8)
    d.wait(5)
    shown = d.events_of("question_shown")
    assert [(e.source, e.question_id) for e in shown[-3:]] == [
        ("observer", "obs-1"),
        ("observer", "obs-2"),
        ("plan", d.machine.state.plan.questions[1].id),
    ]
    candidate_view = " ".join(m.model_dump_json() for m in d.messages)
    assert "alice" not in candidate_view and "bob" not in candidate_view
    assert "observer" not in candidate_view
    assert [q.kind for q in d.questions()[2:4]] == ["followup", "followup"]


def test_a_now_injection_comes_right_after_the_answer_before_any_follow_up() -> None:
    d = make_driver()
    through_practice(d)
    d.send(SpeechStarted())  # the candidate is already answering: no interruption
    d.send(InjectQuestion(text="Later question", by="carol", position="next"))
    d.send(InjectQuestion(text="Urgent question", by="dan", position="now"))
    d.wait(20)
    d.send(AddTranscript(text=WE_EN))
    d.send(SpeechStopped())  # would normally get a follow-up
    d.wait(5)
    assert d.questions()[-1].text == "Urgent question"
    assert not d.events_of("followup_suggested")
    d.speak(GOOD_EN, 20)
    d.wait(5)
    assert d.questions()[-1].text == "Later question"


def test_a_now_injection_is_asked_at_once_before_the_candidate_starts_answering() -> None:
    d = make_driver()
    through_practice(d)
    interrupted = d.questions()[-1]
    d.send(InjectQuestion(text="Urgent question", by="dan", position="now"))
    assert d.questions()[-1].text == "Urgent question"
    d.speak(GOOD_EN, 20)
    d.wait(5)
    assert d.questions()[-1].text == interrupted.text  # nothing in the plan is lost
    assert d.questions()[-1].progress == interrupted.progress


def test_now_injections_one_after_another_each_show_at_once_and_none_is_lost() -> None:
    """Several observers asking "now" before the candidate answers: the newest shows at once
    (never an earlier, interrupted one), and the interrupted ones follow, newest first."""
    d = make_driver()
    through_practice(d)
    interrupted = d.questions()[-1]
    for text in ("First urgent", "Second urgent", "Third urgent"):
        d.send(InjectQuestion(text=text, by="dan", position="now"))
        assert d.questions()[-1].text == text
    asked = []
    for _ in range(4):
        d.speak(GOOD_EN, 20)
        d.wait(5)
        asked.append(d.questions()[-1].text)
    assert asked == ["Second urgent", "First urgent", interrupted.text, asked[3]]
    assert asked[3] not in (interrupted.text, "First urgent", "Second urgent", "Third urgent")


def test_observers_approve_or_skip_suggestions_within_the_window() -> None:
    d = make_driver(approval_window=8, max_followups_per_question=2)
    d.send(SetObserversPresent(present=True))
    through_practice(d)
    d.speak(WE_EN, 20)
    d.wait(4)  # 3 s pause ends the answer, 1 s grace for the last transcript
    (suggested,) = d.events_of("followup_suggested")
    assert d.machine.phase == "deciding"
    d.send(SkipFollowup(question_id=suggested.question_id, by="erin"))
    (skipped,) = d.events_of("followup_skipped")
    assert skipped.by == "erin"
    assert d.questions()[-1].progress == "Question 2 of 3"
    d.speak(WE_EN, 20)
    d.wait(4)
    second = d.events_of("followup_suggested")[-1]
    d.send(ApproveFollowup(question_id=second.question_id, by="frank"))
    assert d.events_of("followup_approved")[-1].by == "frank"
    assert d.questions()[-1].text == "What did you do yourself?"
    d.send(ApproveFollowup(question_id=second.question_id, by="frank"))
    assert d.rejections == ["that follow-up is no longer pending"]


def test_an_unanswered_suggestion_is_asked_when_the_window_closes() -> None:
    d = make_driver(approval_window=5)
    d.send(SetObserversPresent(present=True))
    through_practice(d)
    d.speak(WE_EN, 20)
    d.wait(4)
    assert len(d.events_of("followup_suggested")) == 1
    d.wait(4)
    assert d.machine.phase == "deciding" and not d.events_of("followup_approved")
    d.wait(1)
    assert d.events_of("followup_approved")[-1].by == "auto"
    assert d.questions()[-1].kind == "followup"


def test_a_missing_follow_up_decision_times_out() -> None:
    d = make_driver()
    d.auto_followups = False  # the strategy never answers
    through_practice(d)
    d.speak(WE_EN, 20)
    d.wait(4)
    assert len(d.requests) == 1 and d.requests[0].competency_id is not None
    assert d.machine.phase == "deciding"
    d.wait(2)
    assert d.machine.phase == "deciding"
    d.wait(1)
    assert d.questions()[-1].progress == "Question 2 of 3"


def test_observer_notes_and_ratings_are_events_only() -> None:
    d = make_driver()
    through_practice(d)
    d.send(AddObserverNote(by="gina", text="Clear structure."))
    d.send(GiveLiveRating(by="gina", competency_id="code_quality", score=4))
    d.send(GiveLiveRating(by="gina", competency_id="charisma", score=5))
    (note,) = d.events_of("observer_note_added")
    assert note.by == "gina" and note.question_id == d.questions()[-1].question_id
    (rating,) = d.events_of("live_rating_given")
    assert (rating.competency, rating.score) == ("code_quality", 4)
    assert d.rejections == ["unknown competency 'charisma'"]
    assert not any("gina" in m.model_dump_json() for m in d.messages)


def test_ending_early_keeps_the_partial_answer() -> None:
    d = make_driver()
    through_practice(d)
    d.send(SpeechStarted())
    d.wait(5)
    d.send(AddTranscript(text="So"))
    d.send(EndInterview(reason="candidate_left"))
    assert d.events_of("answer_done")[-1].reason == "left"
    assert d.events_of("question_answered")[-1].transcript == "So"
    assert d.events_of("interview_ended")[-1].reason == "candidate_left"
    assert isinstance(d.messages[-1], ShowCompletion)


def test_state_round_trips_through_json_at_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    d = make_driver()
    original_send = d.send

    def checked_send(command: Command) -> Step:
        step = original_send(command)
        data = d.machine.to_dict()
        assert InterviewMachine.from_json(json.dumps(data)).to_dict() == data
        return step

    monkeypatch.setattr(d, "send", checked_send)
    through_practice(d)
    d.speak(WE_EN, 20)
    d.wait(5)


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "start"},
        {"type": "inject_question", "text": "Why?", "by": "h", "position": "now"},
        {"type": "give_live_rating", "by": "h", "competency_id": "x", "score": 3},
    ],
)
def test_commands_parse_from_json(raw: dict[str, object]) -> None:
    assert parse_command(json.dumps(raw)).type == raw["type"]
    with pytest.raises(ValueError):
        parse_command({"type": "give_live_rating", "by": "h", "competency_id": "x", "score": 9})
