"""Transparent, rule-based follow-ups in Mandarin and English.

Each rule looks for one gap in a situation-task-action-result (STAR) story and, when it
fires, proposes one question with the reason it was asked. Rules are tried in priority
order; a rule already used for the same main question is not used again. The answer's
own script decides which word lists apply (a candidate may answer in the other language);
the question is asked in the interview's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from analysis.competency.model import Language
from analysis.followup.types import FollowupRequest, FollowupSuggestion

_CJK = re.compile(r"[\u4e00-\u9fff]")
_EN_WORD = re.compile(r"[A-Za-z']+")


@dataclass(frozen=True)
class Answer:
    """An answer prepared once for all rules."""

    text: str
    lower: str
    chinese: bool
    size: int  # words for English, characters for Chinese


def prepare(text: str) -> Answer:
    """Normalise an answer and decide which language's word lists apply."""
    stripped = " ".join(text.split())
    cjk = len(_CJK.findall(stripped))
    words = len(_EN_WORD.findall(stripped))
    chinese = cjk > words
    return Answer(stripped, stripped.lower(), chinese, cjk if chinese else words)


def _any(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# --- word lists (kept small and readable; the reason names what was missing) -----------

EN_FAILURE = _any(
    r"\b(fail(ed|ure|ing)?|mistakes?|went wrong|screwed up|missed (the|a|our) deadline|"
    r"conflicts?|disagree(d|ment)?|argu(ed|ment)|clash(ed)?|did ?n[o']t work|lost (the|a))\b"
)
ZH_FAILURE = _any(
    r"失败|失误|犯了?错|做错|搞砸|没做好|没有做好|冲突|矛盾|分歧|争执|吵|延期|出了问题"
)
EN_LESSON = _any(
    r"\b(learn(ed|t)?|lessons?|next time|since then|now i|i would (now|do)|taught me|"
    r"in hindsight|changed how i)\b"
)
ZH_LESSON = _any(r"学到|学会|教训|反思|以后|下次|从那以后|从那之后|让我明白|意识到|经验")

EN_WE = _any(r"\b(we|us|our|ours|the team)\b")
EN_I = _any(r"\b(i|myself|i'm|i've|i'd|i'll)\b")
ZH_WE = _any(r"我们|咱们|团队|大家")
ZH_I = re.compile(r"我(?!们)|本人|自己")

EN_NUMBER = _any(
    r"\d|\b(two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|fifty|hundred|"
    r"thousand|million|half|double|twice|percent)\b"
)
ZH_NUMBER = _any(
    r"\d|[０-９]|百分之|[两二三四五六七八九十百千万]+\s*(个|天|周|月|年|倍|次|人|成|小时|分钟|件|条|家|位|项|%)|"
    r"一(天|周|个月|年|倍|半)|翻(了)?一?番"
)
EN_RESULT = _any(
    r"\b(result(ed|s)?|outcome|in the end|finally|eventually|increas(ed|e)|reduc(ed|e)|"
    r"improv(ed|e)|sav(ed|e)|cut|grew|rais(ed|e)|launched|shipped|delivered|fixed|solved|"
    r"resolved|achieved|succeeded)\b"
)
ZH_RESULT = _any(
    r"结果|最后|最终|后来|提升|提高|降低|减少|节省|缩短|增长|上线|完成|解决|达到|实现|改善"
)
EN_ACTION = _any(
    r"\b(i|we) (\w+ ){0,2}(decided|organi[sz]ed|built|wrote|talked|called|analy[sz]ed|set up|"
    r"designed|proposed|created|introduced|changed|asked|met|trained|tested|ran|led|"
    r"started|worked|spoke|collected|interviewed|moved|added|removed|prioriti[sz]ed)\b"
)
ZH_ACTION = _any(
    r"决定|组织|推动|分析|沟通|安排|设计|编写|写了|开发|召集|调整|培训|测试|提出|建立|引入|"
    r"访谈|收集|制定|协调|排查|修改|改进|重构|说服|联系|跟进|优化"
)
EN_SITUATION = _any(
    r"\b(when|at (my|our|a|the)|last (year|month|quarter)|in \d{4}|project|company|team|"
    r"customer|client|line|shift|product|once|there was)\b"
)
ZH_SITUATION = _any(
    r"当时|那时|那次|有一次|去年|之前|项目|公司|团队|客户|产线|车间|班组|产品|在.{0,8}(时候|期间)"
)


@dataclass(frozen=True)
class Rule:
    """One transparent check: fires when ``applies`` is true."""

    name: str
    applies: Callable[[Answer], bool]
    question: dict[Language, str]
    reason: dict[Language, str]


def _failure_without_lesson(a: Answer) -> bool:
    failure, lesson = (ZH_FAILURE, ZH_LESSON) if a.chinese else (EN_FAILURE, EN_LESSON)
    return bool(failure.search(a.text)) and not lesson.search(a.text)


def _only_we(a: Answer) -> bool:
    if a.chinese:
        return bool(ZH_WE.search(a.text)) and not ZH_I.search(a.text.replace("我们", ""))
    return bool(EN_WE.search(a.text)) and not EN_I.search(a.text)


def _too_short(a: Answer) -> bool:
    return a.size < (40 if a.chinese else 25)


def _no_situation(a: Answer) -> bool:
    return not (ZH_SITUATION if a.chinese else EN_SITUATION).search(a.text)


def _no_action(a: Answer) -> bool:
    return not (ZH_ACTION if a.chinese else EN_ACTION).search(a.text)


def _no_result(a: Answer) -> bool:
    result, number = (ZH_RESULT, ZH_NUMBER) if a.chinese else (EN_RESULT, EN_NUMBER)
    return not result.search(a.text) and not number.search(a.text)


def _no_numbers(a: Answer) -> bool:
    return not (ZH_NUMBER if a.chinese else EN_NUMBER).search(a.text)


RULES: tuple[Rule, ...] = (
    Rule(
        "concrete_example",
        _too_short,
        {
            "en": "Could you walk me through one specific example, step by step?",
            "zh": "能否具体讲一个例子，一步一步地说说当时的情况？",
        },
        {
            "en": "The answer is very short and gives no concrete example.",
            "zh": "回答很短，没有给出具体的例子。",
        },
    ),
    Rule(
        "failure_lessons",
        _failure_without_lesson,
        {"en": "What did you learn from it?", "zh": "你从这件事中学到了什么？"},
        {
            "en": "A failure or conflict story that says nothing about what was learned.",
            "zh": "讲的是一次失败或冲突，但没有提到从中学到了什么。",
        },
    ),
    Rule(
        "personal_role",
        _only_we,
        {"en": "What did you do yourself?", "zh": "你本人具体做了什么？"},
        {
            "en": 'The answer only says "we"; the candidate\'s own role is unclear.',
            "zh": "回答只说了“我们”，候选人本人的角色不清楚。",
        },
    ),
    Rule(
        "star_situation",
        _no_situation,
        {
            "en": "Can you set the scene: when was this, and what was the situation?",
            "zh": "能先介绍一下背景吗？这是什么时候、在什么情况下发生的？",
        },
        {
            "en": "STAR: the situation (when, where, what context) is missing.",
            "zh": "STAR：缺少情境（时间、地点、背景）。",
        },
    ),
    Rule(
        "star_action",
        _no_action,
        {
            "en": "What steps did you take, concretely?",
            "zh": "你具体采取了哪些行动？",
        },
        {
            "en": "STAR: the actions taken are not described.",
            "zh": "STAR：没有描述采取了哪些行动。",
        },
    ),
    Rule(
        "star_result",
        _no_result,
        {
            "en": "What was the result in the end, and how did you measure it?",
            "zh": "最后的结果怎么样？你是怎么衡量的？",
        },
        {
            "en": "STAR: no outcome and no numbers are mentioned.",
            "zh": "STAR：没有提到结果，也没有任何数据。",
        },
    ),
    Rule(
        "measurable_result",
        _no_numbers,
        {"en": "How did you measure the result?", "zh": "你是怎么衡量结果的？"},
        {
            "en": "An outcome is mentioned but without any numbers.",
            "zh": "提到了结果，但没有任何数据。",
        },
    ),
)


def evaluate(answer: str, language: Language) -> list[FollowupSuggestion]:
    """Every rule that fires on this answer, highest priority first."""
    prepared = prepare(answer)
    if not prepared.text:
        return []
    return [
        FollowupSuggestion(
            text=rule.question[language], reason=rule.reason[language], rule=rule.name
        )
        for rule in RULES
        if rule.applies(prepared)
    ]


def suggest(
    answer: str, language: Language, used: list[str] | tuple[str, ...] = ()
) -> FollowupSuggestion | None:
    """The highest-priority follow-up whose rule was not used yet, or None."""
    for suggestion in evaluate(answer, language):
        if suggestion.rule not in used:
            return suggestion
    return None


class RuleFollowups:
    """The default strategy: the rules above, no I/O."""

    async def propose(self, request: FollowupRequest) -> FollowupSuggestion | None:
        """A follow-up for this answer, or None."""
        return self.propose_now(request)

    async def aclose(self) -> None:
        """Nothing to release."""

    def propose_now(self, request: FollowupRequest) -> FollowupSuggestion | None:
        """Synchronous form, for callers without an event loop."""
        if request.remaining <= 0:
            return None
        return suggest(request.answer, request.language, request.asked_rules)
