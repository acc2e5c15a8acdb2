"""Language helpers for scoring: sentence splitting, content terms and behavioural cues.

Content terms are what relevance is measured on, with no external model: English words
(lower-cased, stop words dropped, a light suffix stemmer) and, for Mandarin, character
bigrams inside runs of Chinese characters (bigrams that contain a function character are
dropped). Both kinds are collected from every text, so a candidate who answers in the
other language, or mixes in English tool names, is still matched.

The STAR, ownership and number cues reuse the word lists of the follow-up rules
(analysis/followup/rules.py) so that follow-ups and scores agree on what a cue is.
"""

from __future__ import annotations

import re

from analysis.followup import rules

CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'+#-]*")
# A sentence ends at 。！？ always, and at .!? followed by space or the end (not "3.5").
_SENTENCE_END = re.compile(r"[。！？]+[”」』）)]*|[.!?]+[\"')\]]*(?=\s|$)")

EN_STOP = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing done down during each few for
    from further get got had has have having he her here hers herself him himself his how i if
    in into is it its itself just let me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    yourself yourselves tell describe time times talk walk give example examples one thing
    things something anything really very lot lots like well much many way ways kind sort yes
    okay ok um uh yeah so-called able make made take took went go going come came say said
    know knew think thought want wanted need needed use used still even ever always usually
    """.split()
)

# Function characters: a bigram containing one carries little topical meaning.
ZH_STOP_CHARS = frozenset(
    "的了是你我他她它们这那个一在和与就都也很请吗呢吧啊么怎什哪过把被给着地得之其而或及等该此讲说"
)

EN_TASK = re.compile(
    r"\b(my (job|task|role|goal|responsibility) (was|is)|i was (asked|responsible|supposed|"
    r"tasked|in charge)|i (had|needed|wanted) to|we (had|needed) to|the goal was|target|"
    r"deadline|responsible for|in charge of|challenge was)\b",
    re.IGNORECASE,
)
ZH_TASK = re.compile(r"任务|目标|负责|职责|要求|需要|必须|挑战|期限|截止")

EN_VAGUE = re.compile(
    r"\b(usually|normally|generally|in general|typically|i would|we would|i'd|i guess|maybe|"
    r"probably|i think|sort of|kind of|stuff|things like that|and so on|etc)\b",
    re.IGNORECASE,
)
ZH_VAGUE = re.compile(
    r"一般|通常|平时|总是|往往|我会|应该|可能|大概|也许|差不多|之类|什么的|我觉得|等等"
)

EN_PERCENT = re.compile(r"\d\s*%|\bper ?cent\b", re.IGNORECASE)
ZH_PERCENT = re.compile(r"\d\s*[%％]|百分之")
EN_DURATION = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a|an|half an?)\s*"
    r"(seconds?|minutes?|hours?|days?|weeks?|months?|quarters?|years?|sprints?|shifts?)\b",
    re.IGNORECASE,
)
ZH_DURATION = re.compile(
    r"[\d０-９一二两三四五六七八九十半几]+\s*(个)?(秒|分钟|小时|天|周|星期|个月|月|季度|年|班)"
)
EN_METRIC = re.compile(
    r"\b(latency|throughput|conversion|retention|activation|churn|revenue|nps|csat|oee|"
    r"uptime|downtime|error rate|defect rate|yield|output|cycle time|lead time|incidents?|"
    r"tickets?|response time|satisfaction|sla|kpi|okr|p\d\d|dashboard)\b",
    re.IGNORECASE,
)
ZH_METRIC = re.compile(
    r"延迟|吞吐|转化率|留存|激活|流失|收入|营收|满意度|好评|良率|不良率|合格率|产量|产能|"
    r"故障|工单|响应时间|停机|换线时间|节拍|指标|看板|报表|投诉率|一次解决率"
)
# Named tools: acronyms (SQL, OEE) and capitalised words inside a sentence (Grafana, Jira).
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,6}\b")
_CAPITALISED = re.compile(r"(?<=[a-z,;] )[A-Z][a-zA-Z0-9]+")
_ASCII_IN_ZH = re.compile(r"[A-Za-z][A-Za-z0-9+#.-]*")
_NOT_NAMES = frozenset({"I", "OK", "A", "AM", "PM", "US"})


# Scoring adds to the follow-up cue lists: more ways of telling a situation, an action and a
# result (the follow-up lists stay as they are, so follow-ups keep their behaviour).
EN_SITUATION_MORE = re.compile(
    r"\b(last (spring|summer|autumn|fall|winter|week)|an? (customer|client|teammate|colleague|"
    r"junior|new|small|older|engineer|developer)|one (day|time|evening|morning)|at peak|"
    r"in production|our \w+ (service|team|line|app|cell))\b",
    re.IGNORECASE,
)
ZH_SITUATION_MORE = re.compile(
    r"一位|一家|有位|上个月|上周|春天|夏天|那天|线上|高峰|我们的.{0,6}(服务|系统|线|应用|工位)"
)
EN_RESULT_MORE = re.compile(
    r"\b(fell|dropped|went (from|down|away)|stopped|matched|thanked|cut|no longer|"
    r"from \w+ to|within (a|an|\d+|two|three) \w+)\b",
    re.IGNORECASE,
)
ZH_RESULT_MORE = re.compile(
    r"降到|降了|从.{1,16}(降|到|变)|没有再|再也|不再|就停|停了|对上|道谢|下降|少了|成功|恢复|明白了"
)
# A first-person action: "I read the logs", "we paired", "I ask her" (non-native grammar
# often keeps the present tense), 我看了日志, 我先排除了. Thinking, liking and modal verbs
# are not actions; hedged sentences are dropped by the feature.
_EN_NOT_ACTION = (
    r"think|thought|guess|believe|like|know|knew|mean|remember|feel|felt|would|could|should|"
    r"usually|always|just|really|am|was|were|is|are|have|had|do|did|prefer|say|said"
)
EN_FIRST_PERSON_ACTION = re.compile(
    r"(?:^|[,;]\s*|\b(?:then|afterwards|first|so)\s+)(?=[a-z]+ed\b)|"
    r"\b(i|we)\s+(?:(?:am|was|first|then|also|finally|immediately|only|both|quickly)\s+)?"
    rf"(?!(?:{_EN_NOT_ACTION}|not|don't|didn't|can't|will|can|may|might|must|need|want|"
    r"try|hope|see|get|go|also|too|all|both)\b)[a-z]{2,}\b",
    re.IGNORECASE,
)
ZH_FIRST_PERSON_ACTION = re.compile(
    r"(?:我(?!觉得|认为|想|会|一般|通常|喜欢)(们)?|(?:^|[，,])(?:然后|接着|之后|于是|随后|先))"
    r"(先|又|就|还|再|便|也|都|连续|分别|立刻|马上|一起|亲自|自己|随后|接着)?"
    r"([\u4e00-\u9fff]{1,3}(了|过)|看|查|读|问|请|画|写|用|把|给|跟|和|去|做|找|收集|记录|对比|对照|排除|验证|"
    r"测试|访谈|开通|安排|修|换|加|改|发|带|陪|讲|列|拉|培训|分析|调整|确认|纠正|约定|答应|跟踪)"
)


# Any digit or Chinese numeral (not 一, and not in the set phrases 十分/万一/一万…): a
# recognition error in the measure word ("三次" heard as "三刺") keeps the number.
ZH_NUMBER_LOOSE = re.compile(
    r"(?!十分|万一|千万别)[\d０-９两二三四五六七八九十百千万]|百分之|一(天|周|个月|年|倍|半)"
)


def is_chinese(text: str) -> bool:
    """True when Chinese characters outnumber English words (the follow-up rules' test)."""
    return rules.prepare(text).chinese


def size(text: str) -> int:
    """Words for English, Chinese characters for Mandarin."""
    return rules.prepare(text).size


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences in ``text``, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((begin, match.end()))
        begin = match.end()
    spans.append((begin, len(text)))
    trimmed: list[tuple[int, int]] = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            trimmed.append((start, end))
    return trimmed


def stem(word: str) -> str:
    """A light English stemmer: enough to match bug/bugs, test/tested/testing."""
    for suffix in ("ing", "ies", "ied", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return base + "y"
            if suffix == "es" and not base.endswith(("s", "x", "z", "ch", "sh")):
                return base + "e"
            return base
    return word


def terms(text: str) -> set[str]:
    """Content terms: English stems and Mandarin character bigrams."""
    found: set[str] = set()
    for raw in _EN_WORD.findall(text):
        word = raw.lower().strip("'-")
        if len(word) >= 3 and word not in EN_STOP:
            found.add(stem(word))
    for run in _CJK_RUN.findall(text):
        for i in range(len(run) - 1):
            pair = run[i : i + 2]
            if not (pair[0] in ZH_STOP_CHARS or pair[1] in ZH_STOP_CHARS):
                found.add(pair)
    return found


def cues(sentence: str) -> set[str]:
    """Which behavioural cues one sentence shows (names documented in docs/scoring.md)."""
    chinese = is_chinese(sentence)
    found: set[str] = set()
    checks = (
        ("situation", rules.ZH_SITUATION if chinese else rules.EN_SITUATION),
        ("task", ZH_TASK if chinese else EN_TASK),
        ("action", rules.ZH_ACTION if chinese else rules.EN_ACTION),
        ("result", rules.ZH_RESULT if chinese else rules.EN_RESULT),
        ("number", ZH_NUMBER_LOOSE if chinese else rules.EN_NUMBER),
        ("percent", ZH_PERCENT if chinese else EN_PERCENT),
        ("duration", ZH_DURATION if chinese else EN_DURATION),
        ("metric", ZH_METRIC if chinese else EN_METRIC),
        ("vague", ZH_VAGUE if chinese else EN_VAGUE),
    )
    for name, pattern in checks:
        if pattern.search(sentence):
            found.add(name)
    if named_tools(sentence):
        found.add("named")
    more = (
        ("situation", ZH_SITUATION_MORE if chinese else EN_SITUATION_MORE),
        ("result", ZH_RESULT_MORE if chinese else EN_RESULT_MORE),
        ("told_action", ZH_FIRST_PERSON_ACTION if chinese else EN_FIRST_PERSON_ACTION),
    )
    for name, pattern in more:
        if pattern.search(sentence):
            found.add(name)
    if "told_action" in found:
        found.add("action")
    if chinese:
        if rules.ZH_I.search(sentence.replace("我们", "")):
            found.add("i")
        if rules.ZH_WE.search(sentence):
            found.add("we")
    else:
        if rules.EN_I.search(sentence):
            found.add("i")
        if rules.EN_WE.search(sentence):
            found.add("we")
    return found


def named_tools(sentence: str) -> list[str]:
    """Names of tools, products or methods: acronyms, capitalised words, Latin words in Mandarin."""
    if is_chinese(sentence):
        return [w for w in _ASCII_IN_ZH.findall(sentence) if len(w) >= 2]
    names = _ACRONYM.findall(sentence) + _CAPITALISED.findall(sentence)
    return [n for n in names if n not in _NOT_NAMES]
