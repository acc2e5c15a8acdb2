"""Features of one answer against one competency, each in [0, 1], with the sentences behind them.

Definitions (also in docs/scoring.md):

- story: share of the four STAR parts (situation, task, action, result) with a cue.
- specificity: specific items (numbers, percentages, durations, metrics, named tools)
  counted over sentences, divided by ``specificity_items`` and capped at 1.
- ownership: sentences saying "I"/"我" over those plus the actions told only as "we"/"我们";
  0 when neither.
- relevance: share of the question's content terms that the answer uses (the
  competency's terms when the question text is unknown).
- indicators: mean of the two best indicator matches; one match is the share of an
  indicator's content terms used by the answer, with 3 shared terms counting as full.
- length: words (English) or characters (Mandarin) over the target, capped at 1.
- actions: sentences that tell a first-person action in the past ("I read the logs",
  我看了日志), not hedged, over 4 (a sequence of actions), capped at 1.
- vagueness: share of sentences that are hedged or hypothetical ("usually", "I would",
  "一般", "我会"): they describe what one might do, not what one did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analysis.competency.model import Competency
from analysis.scoring import text as lang
from analysis.scoring.transcript import AnswerInput, Sentence
from analysis.scoring.version import ScoringSettings

STAR = ("situation", "task", "action", "result")
SPECIFIC = ("number", "percent", "duration", "metric", "named")
BEHAVIOUR = ("action", "result", "number", "percent", "duration", "metric", "named")
FULL_INDICATOR_TERMS = 3
FULL_ACTIONS = 4


@dataclass(frozen=True)
class AnalysedSentence:
    """A sentence with its cues and content terms, computed once."""

    sentence: Sentence
    cues: frozenset[str]
    terms: frozenset[str]

    @property
    def we_only(self) -> bool:
        """An action told only as "we"/"我们": the candidate's own part is unclear."""
        return "we" in self.cues and "i" not in self.cues and "action" in self.cues


@dataclass(frozen=True)
class AnswerAnalysis:
    """An answer prepared once for every competency it targets."""

    answer: AnswerInput
    sentences: tuple[AnalysedSentence, ...]
    terms: frozenset[str]
    size: int
    chinese: bool


def analyse(answer: AnswerInput) -> AnswerAnalysis:
    """Cues and terms of every sentence of an answer."""
    sentences = tuple(
        AnalysedSentence(s, frozenset(lang.cues(s.text)), frozenset(lang.terms(s.text)))
        for s in answer.sentences
    )
    terms = frozenset().union(*(s.terms for s in sentences)) if sentences else frozenset()
    return AnswerAnalysis(
        answer=answer,
        sentences=sentences,
        terms=terms,
        size=lang.size(answer.transcript),
        chinese=(
            lang.is_chinese(answer.transcript) if answer.transcript else answer.language == "zh"
        ),
    )


def competency_terms(competency: Competency) -> frozenset[str]:
    """Content terms of a competency's name, description and indicators."""
    texts = [competency.name, competency.description, *competency.indicators]
    return frozenset().union(*(lang.terms(t) for t in texts))


def relevant_terms(analysis: AnswerAnalysis, competency: Competency) -> frozenset[str]:
    """Terms the answer shares with its question or the competency."""
    vocabulary = lang.terms(analysis.answer.question_text) | competency_terms(competency)
    return analysis.terms & vocabulary


def indicator_match(analysis: AnswerAnalysis, indicator: str) -> float:
    """Share of an indicator's content terms used by the answer (3 shared terms is full)."""
    wanted = lang.terms(indicator)
    if not wanted:
        return 0.0
    shared = len(analysis.terms & wanted)
    return min(1.0, shared / min(len(wanted), FULL_INDICATOR_TERMS))


def compute(
    analysis: AnswerAnalysis,
    competency: Competency,
    settings: ScoringSettings,
    meaning: dict[str, float] | None = None,
) -> dict[str, float]:
    """The content features of one answer for one competency.

    ``meaning`` holds relevance and indicator matches measured by meaning (sentence
    embeddings); without it both are measured on shared content terms.
    """
    sentences = analysis.sentences
    cues = set().union(*(s.cues for s in sentences)) if sentences else set()
    story = sum(part in cues for part in STAR) / len(STAR)
    items = sum(len(s.cues & set(SPECIFIC)) for s in sentences)
    specificity = min(1.0, items / settings.specificity_items)
    mine = sum("i" in s.cues for s in sentences)
    ours = sum(s.we_only for s in sentences)
    ownership = mine / (mine + ours) if mine + ours else 0.0
    question = lang.terms(analysis.answer.question_text) or competency_terms(competency)
    relevance = len(analysis.terms & question) / len(question) if question else 0.0
    matches = sorted((indicator_match(analysis, i) for i in competency.indicators), reverse=True)
    best = matches[:2]
    indicators = sum(best) / len(best) if best else 0.0
    target = settings.target_chars if analysis.chinese else settings.target_words
    length = min(1.0, analysis.size / target)
    told = sum("told_action" in s.cues and "vague" not in s.cues for s in sentences)
    actions = min(1.0, told / FULL_ACTIONS)
    vague = sum("vague" in s.cues for s in sentences)
    vagueness = vague / len(sentences) if sentences else 0.0
    values = {
        "story": story,
        "specificity": specificity,
        "ownership": ownership,
        "relevance": min(1.0, relevance),
        "indicators": indicators,
        "length": length,
        "vagueness": vagueness,
        "actions": actions,
    }
    if meaning:
        values.update(meaning)
    return values


def feature_sentences(analysis: AnswerAnalysis, feature: str) -> list[AnalysedSentence]:
    """The sentences a feature's value rests on (for evidence)."""
    picks: dict[str, Callable[[AnalysedSentence], bool]] = {
        "story": lambda s: bool(s.cues & set(STAR)),
        "specificity": lambda s: bool(s.cues & set(SPECIFIC)),
        "ownership": lambda s: "i" in s.cues or s.we_only,
        "vagueness": lambda s: "vague" in s.cues,
        "actions": lambda s: "told_action" in s.cues and "vague" not in s.cues,
    }
    pick = picks.get(feature)
    if pick is None:
        return []
    return [s for s in analysis.sentences if pick(s)]
