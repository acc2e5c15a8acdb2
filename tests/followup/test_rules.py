"""Rule-based follow-ups on answers written for the tests, in both languages."""

from __future__ import annotations

import pytest

from analysis.competency.model import Language
from analysis.followup.rules import RuleFollowups, evaluate, suggest
from analysis.followup.types import FollowupRequest

FAILURE_EN = (
    "Last year our release failed because I missed a database migration step. The deployment "
    "broke checkout for two hours and I had to roll it back at night while the support team "
    "answered angry customers."
)
CONFLICT_EN = (
    "At my previous job I had a conflict with a designer about the onboarding flow. She wanted "
    "five screens, I wanted two. I set up a meeting, we tested both versions with 12 users and "
    "the shorter flow increased completion by 15 percent."
)
WE_EN = (
    "At my last company the checkout page was slow. We analysed the logs, we found a slow "
    "query, we rewrote it and we added caching. In the end the page load time dropped from "
    "4 seconds to 1.2 seconds and conversion went up 8 percent."
)
COMPLETE_EN = (
    "In 2023 at my last company our checkout page was slow and my task was to fix it before "
    "the holiday sale. I analysed the logs, found a slow query, rewrote it and added caching. "
    "As a result the page load time dropped from 4 seconds to 1.2 seconds and conversion "
    "increased by 8 percent."
)
NO_NUMBERS_EN = (
    "When I worked at a logistics company, customers complained about late deliveries. I "
    "talked to the drivers and I redesigned the routes together with the dispatcher. In the "
    "end customers were much happier with the service."
)
FAILURE_ZH = (
    "去年我负责的一个项目失败了，因为我低估了接口改造的工作量，上线推迟了两周，"
    "客户非常不满意，老板也批评了我。"
)
CONFLICT_ZH = (
    "当时我和质检组长在一个批次能不能放行上发生了冲突。我把三个月的不良率数据拿出来，"
    "和他一起重新做了抽检，最后不良率从百分之三降到了百分之零点八。"
)
WE_ZH = (
    "当时产线上有一个瓶颈工位，我们分析了数据，我们调整了排班，我们还引入了新的夹具，"
    "最后产量提升了百分之二十，换线时间缩短了十五分钟。"
)
COMPLETE_ZH = (
    "去年我在车间当班组长时，二号产线的包装工位是瓶颈，我的任务是在一个月内解决。"
    "我先用三周的数据分析了停机原因，然后重新设计了工位布局，并培训了六名操作工。"
    "最终产量提升了百分之十八，每班多出约三百件。"
)
NO_NUMBERS_ZH = (
    "之前在客服中心的时候，有位客户因为退款的事情非常生气。我先耐心听他说完，"
    "然后联系了财务部门帮他加急处理，最后客户很满意，还给了好评。"
)


def first_rule(answer: str, language: Language) -> str | None:
    found = suggest(answer, language)
    return found.rule if found else None


@pytest.mark.parametrize(
    ("answer", "language"),
    [(FAILURE_EN, "en"), (CONFLICT_EN, "en"), (FAILURE_ZH, "zh"), (CONFLICT_ZH, "zh")],
)
def test_a_failure_or_conflict_story_gets_the_lessons_question(
    answer: str, language: Language
) -> None:
    found = suggest(answer, language)
    assert found is not None and found.rule == "failure_lessons"
    expected = {"en": "What did you learn from it?", "zh": "你从这件事中学到了什么？"}
    assert found.text == expected[language]
    assert found.reason and found.source == "rules"


def test_a_failure_story_with_its_lesson_gets_no_lessons_question() -> None:
    told = FAILURE_EN + " I learned to run every migration in staging first; 0 incidents since."
    assert "failure_lessons" not in [s.rule for s in evaluate(told, "en")]
    told_zh = FAILURE_ZH + "这件事让我学到，评估工作量时一定要先拆分任务。"
    assert "failure_lessons" not in [s.rule for s in evaluate(told_zh, "zh")]


def test_a_we_answer_gets_the_personal_role_question_in_english() -> None:
    found = suggest(WE_EN, "en")
    assert found is not None and found.rule == "personal_role"
    assert found.text == "What did you do yourself?"
    assert '"we"' in found.reason


def test_a_we_answer_gets_the_personal_role_question_in_mandarin() -> None:
    found = suggest(WE_ZH, "zh")
    assert found is not None and found.rule == "personal_role"
    assert found.text == "你本人具体做了什么？"
    assert "我们" in found.reason


@pytest.mark.parametrize(("answer", "language"), [(COMPLETE_EN, "en"), (COMPLETE_ZH, "zh")])
def test_a_complete_quantified_answer_gets_no_follow_up(answer: str, language: Language) -> None:
    assert evaluate(answer, language) == []


@pytest.mark.parametrize(
    ("answer", "language", "text"),
    [
        (NO_NUMBERS_EN, "en", "How did you measure the result?"),
        (NO_NUMBERS_ZH, "zh", "你是怎么衡量结果的？"),
    ],
)
def test_an_outcome_without_numbers_asks_how_it_was_measured(
    answer: str, language: Language, text: str
) -> None:
    found = suggest(answer, language)
    assert found is not None and (found.rule, found.text) == ("measurable_result", text)


def test_a_vague_answer_asks_for_a_concrete_example() -> None:
    assert first_rule("I think I am a good communicator.", "en") == "concrete_example"
    assert first_rule("我觉得我沟通能力挺好的。", "zh") == "concrete_example"


def test_the_question_follows_the_interview_language_not_the_answer() -> None:
    found = suggest(WE_ZH, "en")
    assert found is not None and found.text == "What did you do yourself?"


def test_a_rule_is_not_used_twice_for_the_same_question() -> None:
    rules = [s.rule for s in evaluate("We fixed it.", "en")]
    assert len(rules) > 1
    assert first_rule("We fixed it.", "en") == rules[0]
    found = suggest("We fixed it.", "en", used=[rules[0]])
    assert found is not None and found.rule == rules[1]


def test_empty_answers_get_nothing() -> None:
    assert evaluate("   ", "en") == []


async def test_the_strategy_respects_the_follow_up_limit() -> None:
    request = FollowupRequest(
        parent_id="q1",
        main_question_id="q1",
        language="en",
        question="Tell me about a conflict.",
        answer=WE_EN,
        remaining=1,
    )
    found = await RuleFollowups().propose(request)
    assert found is not None and found.rule == "personal_role"
    assert await RuleFollowups().propose(request.model_copy(update={"remaining": 0})) is None
