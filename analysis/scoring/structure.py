"""Narrative structure: is an answer told as a story, or is it a list of terms?

A told answer has function words (articles, pronouns, prepositions, auxiliaries / 的了在把就…)
between its content words, and clauses of several words between its commas. A list of terms
("root cause analysis, logs, Grafana, load test") has almost none. ``narrative`` is the
length-weighted share of sentences that read as told; ``sentence_narrative`` explains one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.scoring.text import is_chinese

EN_FUNCTION = frozenset(
    """
    a an the i we he she it they you my our his her their its me us him them this that these
    those there to of in on at for with from by into about after before then when while because
    so and but or if as than until once since which who what how was were is are am be been had
    has have did do does not no could would should will can just also only very all some
    """.split()
)
# Characters that carry grammar rather than topic in spoken Mandarin.
ZH_FUNCTION = frozenset(
    "的了是我在把就都也很和跟他她它们这那个一又还才被让给着过地得之所以因为然后但如果时候说到对从"
)
_EN_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'%.-]*")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SEPARATORS = re.compile(r"[,，、;；/]")
# (list, told) ramps: a sentence with a function-word share at or below the first value
# reads as a list of terms, at or above the second as told; the same for the number of
# words (characters in Mandarin) per comma-separated item.
EN_FUNCTION_RAMP = (0.10, 0.22)
ZH_FUNCTION_RAMP = (0.04, 0.10)
EN_ITEM_RAMP = (2.0, 3.5)
ZH_ITEM_RAMP = (3.0, 5.5)


def _ramp(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return min(1.0, max(0.0, (value - low) / (high - low)))


@dataclass(frozen=True)
class SentenceStructure:
    """Why one sentence does or does not read as told."""

    tokens: int
    function_share: float
    tokens_per_item: float
    told: float


def sentence_structure(sentence: str) -> SentenceStructure:
    """Function-word share, words per list item and how far the sentence reads as told (0-1)."""
    chinese = is_chinese(sentence)
    if chinese:
        chars = _CJK.findall(sentence)
        tokens = len(chars)
        function = sum(c in ZH_FUNCTION for c in chars)
        ramps = (ZH_FUNCTION_RAMP, ZH_ITEM_RAMP)
    else:
        words = [w.lower() for w in _EN_TOKEN.findall(sentence)]
        tokens = len(words)
        function = sum(w in EN_FUNCTION for w in words)
        ramps = (EN_FUNCTION_RAMP, EN_ITEM_RAMP)
    if tokens == 0:
        return SentenceStructure(0, 0.0, 0.0, 0.0)
    share = function / tokens
    per_item = tokens / (len(_SEPARATORS.findall(sentence)) + 1)
    told = _ramp(share, ramps[0]) * _ramp(per_item, ramps[1])
    return SentenceStructure(tokens, round(share, 4), round(per_item, 2), round(told, 4))


def narrative(sentences: list[str]) -> float:
    """Length-weighted mean of how far each sentence reads as told (0 = a list of terms)."""
    parts = [sentence_structure(s) for s in sentences]
    total = sum(p.tokens for p in parts)
    if total == 0:
        return 0.0
    return sum(p.told * p.tokens for p in parts) / total
