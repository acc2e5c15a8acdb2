"""Filler words in English and Mandarin transcripts.

Chosen to be unambiguous enough to count automatically:
- English: um, uh, er, erm, hmm and their stretched spellings. "like", "you know",
  "so" are left out: as fillers they cannot be told from their ordinary use by text alone.
- Mandarin: 嗯, 呃, 啊 (hesitation sounds) and 那个, 就是 (the most common lexical
  fillers). 那个 and 就是 also have ordinary meanings ("that one", "exactly"), so
  they are over-counted in some sentences; 然后 is left out because its ordinary use
  ("and then") dominates. Counts are lower bounds when the recognizer drops
  disfluencies (Whisper often does).
"""

from __future__ import annotations

import re
from collections import Counter

EN_FILLERS = {
    "um": "um",
    "umm": "um",
    "ummm": "um",
    "uhm": "um",
    "mm": "um",
    "mmm": "um",
    "uh": "uh",
    "uhh": "uh",
    "uhhh": "uh",
    "er": "er",
    "err": "er",
    "erm": "er",
    "hmm": "hmm",
    "hm": "hmm",
    "hmmm": "hmm",
}
ZH_FILLERS = ("那个", "就是", "嗯", "呃", "啊")

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def count_fillers(text: str, language: str) -> Counter[str]:
    """Filler counts by canonical form in ``text`` ("en" or "zh*"; mixed text gets both)."""
    counts: Counter[str] = Counter()
    for token in _WORD.findall(text.lower()):
        canonical = EN_FILLERS.get(token)
        if canonical:
            counts[canonical] += 1
    if is_chinese(language) or _HAN.search(text):
        for filler in ZH_FILLERS:  # two-character fillers first, then single sounds
            n = text.count(filler)
            if n:
                counts[filler] += n
    return counts


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_chinese(language: str) -> bool:
    """Whether a language code means Chinese (zh, zh-CN, cmn, yue...)."""
    return language.lower().startswith(("zh", "cmn", "yue"))


def han_characters(text: str) -> int:
    """Number of Chinese characters in ``text``."""
    return len(_HAN.findall(text))


def latin_words(text: str) -> int:
    """Number of words written in Latin letters or digits (English in mixed text)."""
    return len(re.findall(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?", text))
