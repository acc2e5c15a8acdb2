"""A short, encouraging message to the candidate, built from the score's evidence.

Deterministic and template-based: it names up to three competencies whose indicators have
supporting quotes, and what was strong about them (results, steps, tools, own part). It
never carries a score, a number, a rank, a weakness or a hint of the decision: the
message is the same kind of text whatever the total, and ``non_score_problems`` checks
any text (also a recruiter's edit) against those rules. See docs/feedback.md.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from analysis.competency.model import Language
from analysis.scoring.scorer import CompetencyScore, InterviewScore

StrengthKind = Literal["results", "steps", "tools", "ownership", "concrete"]
MAX_STRENGTHS = 3

# Which cue of a supporting quote shows which kind of strength; ties go to the earlier kind.
_KIND_CUES: dict[StrengthKind, frozenset[str]] = {
    "results": frozenset({"result", "number", "percent", "metric", "duration"}),
    "steps": frozenset({"action"}),
    "tools": frozenset({"named"}),
    "ownership": frozenset({"i"}),
}
_ORDER: tuple[StrengthKind, ...] = ("results", "steps", "tools", "ownership")

_SENTENCES: dict[StrengthKind, dict[Language, str]] = {
    "results": {
        "en": "When you talked about {topic}, you were specific about the results you achieved.",
        "zh": "谈到{topic}时，你对取得的成果讲得很具体。",
    },
    "steps": {
        "en": "Your examples of {topic} described the steps you took clearly.",
        "zh": "你在{topic}方面的例子清楚地讲出了你采取的步骤。",
    },
    "tools": {
        "en": "Your examples of {topic} were concrete about the tools and methods you used.",
        "zh": "你在{topic}方面的例子具体说明了你用到的工具和方法。",
    },
    "ownership": {
        "en": "In your examples of {topic}, it was clear what you did yourself.",
        "zh": "在{topic}方面的例子里，你清楚地说明了自己做了什么。",
    },
    "concrete": {
        "en": "Your examples of {topic} were concrete.",
        "zh": "你在{topic}方面举的例子很具体。",
    },
}
_NO_STRENGTH: dict[Language, str] = {
    "en": "Thank you for taking the time to tell us about your experience.",
    "zh": "感谢你花时间和我们分享你的经历。",
}

# Words that would turn encouragement into an assessment, a weakness or a decision hint.
# English as regular expressions (word stems), so inflections are caught too.
_EN_FORBIDDEN = (
    r"scor\w*",
    r"points?",
    r"percent\w*",
    r"rank\w*",
    r"ratings?",
    r"rated",
    r"grade[sd]?",
    r"threshold\w*",
    r"total\w*",
    r"advanc\w*",
    r"reject\w*",
    r"hire[sd]?",
    r"offers?",
    r"next (?:round|stage|step)s?",
    r"shortlist\w*",
    r"unfortunate\w*",
    r"regret\w*",
    r"weak\w*",
    r"lack\w*",
    r"insufficient\w*",
    r"improv\w*",
    r"worse",
    r"average",
    r"top",
    r"pass(?:ed)?",
    r"fail\w*",
)
_ZH_FORBIDDEN = (
    "分数",
    "得分",
    "评分",
    "打分",
    "总分",
    "排名",
    "名次",
    "百分",
    "％",
    "录用",
    "录取",
    "淘汰",
    "不通过",
    "未通过",
    "下一轮",
    "进入下一",
    "遗憾",
    "不足",
    "欠缺",
    "薄弱",
    "缺点",
    "弱点",
    "需要改进",
    "有待提高",
    "平均",
)
_EN_FORBIDDEN_RE = re.compile(r"\b(?:" + "|".join(_EN_FORBIDDEN) + r")\b", re.IGNORECASE)
_NUMBER_RE = re.compile(r"[\d%％]")


class FeedbackStrength(BaseModel):
    """One competency the message names, and what was strong about it."""

    model_config = ConfigDict(frozen=True)

    competency_id: str
    name: str
    kind: StrengthKind
    quotes: int = Field(description="Supporting quotes behind it (for the recruiter only).")


class CandidateFeedback(BaseModel):
    """A draft message for the candidate; a person reads, edits and sends it."""

    model_config = ConfigDict(frozen=True)

    interview_id: str
    language: Language
    text: str
    strengths: list[FeedbackStrength] = Field(default_factory=list)


def non_score_problems(text: str) -> list[str]:
    """What makes ``text`` unfit for a candidate: numbers, score or decision words."""
    problems: list[str] = []
    if _NUMBER_RE.search(text):
        problems.append("it contains a number or a percentage")
    words = sorted({m.group(0).lower() for m in _EN_FORBIDDEN_RE.finditer(text)})
    words += [w for w in _ZH_FORBIDDEN if w in text]
    if words:
        problems.append("it mentions " + ", ".join(f"'{w}'" for w in words))
    return problems


def _topic(name: str, language: Language) -> str:
    name = name.strip()
    if language == "zh" or len(name) < 2 or name[1].isupper():
        return name  # Mandarin, or an acronym such as "SQL design": keep as written
    return name[0].lower() + name[1:]


def _kind_counts(competency: CompetencyScore) -> Counter[StrengthKind]:
    counts: Counter[StrengthKind] = Counter()
    for indicator in competency.indicators:
        if indicator.status != "supported":
            continue
        for quote in indicator.support:
            cues = set(quote.cues)
            for kind in _ORDER:
                if cues & _KIND_CUES[kind]:
                    counts[kind] += 1
    return counts


def _support_count(competency: CompetencyScore) -> int:
    return sum(len(i.support) for i in competency.indicators if i.status == "supported")


def strengths(score: InterviewScore, limit: int = MAX_STRENGTHS) -> list[FeedbackStrength]:
    """Competencies with supported indicators, most supporting quotes first, distinct kinds."""
    candidates = [
        c
        for c in score.competencies
        if c.status == "scored"
        and _support_count(c) > 0
        and not non_score_problems(c.name)
        and c.name.strip()
    ]
    # Stable sort: equal evidence keeps the competency model's order.
    candidates.sort(key=lambda c: -_support_count(c))
    chosen: list[FeedbackStrength] = []
    used: set[StrengthKind] = set()
    for competency in candidates[:limit]:
        counts = _kind_counts(competency)
        ranked = sorted(counts, key=lambda k: (-counts[k], _ORDER.index(k)))
        kind: StrengthKind = next((k for k in ranked if k not in used), "concrete")
        used.add(kind)
        chosen.append(
            FeedbackStrength(
                competency_id=competency.competency_id,
                name=competency.name,
                kind=kind,
                quotes=_support_count(competency),
            )
        )
    return chosen


def compose_feedback(score: InterviewScore, limit: int = MAX_STRENGTHS) -> CandidateFeedback:
    """One to three encouraging sentences in the interview's language; never a score."""
    language = score.language
    found = strengths(score, limit)
    sentences = [_SENTENCES[s.kind][language].format(topic=_topic(s.name, language)) for s in found]
    # A competency name can still trip the rules once placed in a sentence: drop that one.
    kept = [
        (s, text) for s, text in zip(found, sentences, strict=True) if not non_score_problems(text)
    ]
    if not kept:
        return CandidateFeedback(
            interview_id=score.interview_id, language=language, text=_NO_STRENGTH[language]
        )
    joiner = "" if language == "zh" else " "
    return CandidateFeedback(
        interview_id=score.interview_id,
        language=language,
        text=joiner.join(text for _s, text in kept),
        strengths=[s for s, _text in kept],
    )
