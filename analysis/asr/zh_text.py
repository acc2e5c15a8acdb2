"""Mandarin record text as people write it: Chinese punctuation, numbers in context.

Whisper writes Mandarin numbers sometimes in characters, sometimes in digits. The record
transcript follows the usual convention for written Chinese (GB/T 15835, the style of news
and reports): percentages, decimals, four-digit years and exact quantities of ten or more
in Arabic digits (百分之二 → 2%, 三点五 → 3.5, 二零二四年 → 2024年, 二十五个 → 25个,
三千五百万 → 3500万); single digits, words and idioms that contain number characters,
approximate numbers and times of day in characters (一个, 统一, 十分, 三四个, 二十多个,
几十, 九点三十). A run of number characters that is not a well-formed number is left as it
is. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_PLACES = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}
_NUM = "零〇一二两三四五六七八九十百千万亿"
_DIGIT_CHARS = "零〇一二三四五六七八九"
_ZH_PUNCT = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；", ".": "。"}
_CJK = re.compile(r"[\u3400-\u9fff]")
_FULLWIDTH = str.maketrans("０１２３４５６７８９％．", "0123456789%.")

_PERCENT = re.compile(rf"百分之([{_NUM}]+(?:点[{_DIGIT_CHARS}]+)?)")
_DECIMAL = re.compile(rf"([{_NUM}]+)点([{_DIGIT_CHARS}]+)(?![十百千万亿点])")
_YEAR = re.compile(rf"([{_DIGIT_CHARS}]{{4}})(?=年)")
_RUN = re.compile(rf"[{_NUM}]+")
_APPROX_AFTER = "多余来几"
_APPROX_BEFORE = "几数好"


def _section(text: str) -> int | None:
    """A number below 10,000 (三千五百二十, 十五, 三千五 = 3500), or None if malformed."""
    if not text:
        return 0
    if text in ("零", "〇"):
        return 0
    value, i, last_place = 0, 0, 10_000
    while i < len(text):
        ch = text[i]
        digit = None
        if ch in _DIGITS:
            digit = _DIGITS[ch]
            i += 1
            if digit == 0:  # 零 only stands between places (一百零五)
                if i == len(text) or text[i] in _PLACES:
                    return None
                continue
        if i < len(text) and text[i] in _PLACES:
            place = _PLACES[text[i]]
            if place >= last_place:
                return None
            if digit is None:
                if text[i] != "十" or i != 0:  # only 十 may stand alone, at the start
                    return None
                digit = 1
            value += digit * place
            last_place = place
            i += 1
        elif digit is not None:
            if i != len(text):
                return None  # two digits in a row: 三四, 五六十 (approximate), not a number
            # a bare digit after a place means the next lower place (三千五 = 3500)
            if last_place < 10_000 and text[i - 2 : i - 1] not in ("零", "〇"):
                value += digit * (last_place // 10 if last_place > 10 else 1)
            else:
                value += digit
        else:
            return None
    return value


def parse_number(text: str) -> int | None:
    """A Chinese integer (一万二千, 三千五百万, 两亿) or None when it is not well formed."""
    for unit_char, unit in (("亿", _BIG["亿"]), ("万", _BIG["万"])):
        if unit_char in text:
            high, _, low = text.partition(unit_char)
            if not high:
                return None
            top = parse_number(high)
            if top is None:
                return None
            if low and low[0] in _DIGITS and len(low) == 1 and unit == 10_000:
                rest: int | None = _DIGITS[low] * 1000  # 一万二 = 12000
            elif low and low[0] in _DIGITS and len(low) == 1:
                rest = _DIGITS[low] * 10_000_000
            else:
                rest = parse_number(low) if low else 0
            if rest is None or rest >= unit:
                return None
            return top * unit + rest
    return _section(text)


def _digits(text: str) -> str:
    return "".join(str(_DIGITS[c]) for c in text)


def _format(text: str, value: int) -> str:
    """Digits, keeping a trailing 万 / 亿 as people do (3500万, 2亿)."""
    for unit_char, unit in (("亿", _BIG["亿"]), ("万", _BIG["万"])):
        if text.endswith(unit_char) and value % unit == 0:
            return f"{value // unit}{unit_char}"
    return str(value)


@dataclass(frozen=True)
class Replacement:
    """Characters [start, end) of the text are written as ``text``."""

    start: int
    end: int
    text: str


def _one_of(ch: str, chars: str) -> bool:
    return bool(ch) and ch in chars


def number_replacements(text: str) -> list[Replacement]:
    """Where the numbers of a Mandarin text should be written in digits."""
    out: list[Replacement] = []
    taken = [False] * len(text)

    def add(a: int, b: int, new: str) -> None:
        if not any(taken[a:b]) and new != text[a:b]:
            out.append(Replacement(a, b, new))
            for k in range(a, b):
                taken[k] = True

    for m in _PERCENT.finditer(text):
        whole, _, frac = m.group(1).partition("点")
        value = parse_number(whole)
        if value is not None and not _one_of(text[m.end() : m.end() + 1], _APPROX_AFTER):
            add(m.start(), m.end(), f"{value}{'.' + _digits(frac) if frac else ''}%")
    for m in _DECIMAL.finditer(text):
        value = parse_number(m.group(1))
        before = text[m.start() - 1 : m.start()]
        if value is not None and before != "点":
            add(m.start(), m.end(), f"{value}.{_digits(m.group(2))}")
    for m in _YEAR.finditer(text):
        add(m.start(), m.end(), _digits(m.group(1)))
    for m in _RUN.finditer(text):
        run = m.group(0)
        before = text[m.start() - 1 : m.start()]
        after = text[m.end() : m.end() + 1]
        # 几十, 二十多个: approximate; 九点三十, 十二点: a time of day
        if (len(run) < 2 or _one_of(before, _APPROX_BEFORE + "点")
                or _one_of(after, _APPROX_AFTER + "点")):
            continue
        value = parse_number(run)
        if value is not None and value >= 10:
            add(m.start(), m.end(), _format(run, value))
    return sorted(out, key=lambda r: r.start)


def apply(text: str, replacements: Sequence[Replacement]) -> str:
    """The text with the replacements made."""
    parts, pos = [], 0
    for r in replacements:
        parts.append(text[pos : r.start])
        parts.append(r.text)
        pos = r.end
    parts.append(text[pos:])
    return "".join(parts)


def zh_punctuation(text: str) -> str:
    """ASCII punctuation after Chinese characters becomes its full-width form."""
    out = []
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        if ch in _ZH_PUNCT and _CJK.match(prev or " ") and not (
            ch == "." and text[i + 1 : i + 2].isdigit()
        ):
            out.append(_ZH_PUNCT[ch])
        else:
            out.append(ch)
    return "".join(out)


def written_numbers(text: str) -> str:
    """Numbers as people write them in context (see the module docstring)."""
    text = text.translate(_FULLWIDTH)
    return apply(text, number_replacements(text))


@dataclass(frozen=True)
class TimedText:
    """A word with its times (interview clock) and probability."""

    text: str
    start: float
    end: float
    probability: float


def punctuated_words(words: Sequence[TimedText]) -> list[TimedText]:
    """``zh_punctuation`` over the words' joined text (a comma may be a word of its own)."""
    joined = zh_punctuation("".join(w.text for w in words))
    out, pos = [], 0
    for w in words:
        out.append(TimedText(joined[pos : pos + len(w.text)], w.start, w.end, w.probability))
        pos += len(w.text)
    return out


def written_words(words: Sequence[TimedText]) -> list[TimedText]:
    """The words with numbers written in context; words one number spans become one word."""
    texts = [w.text.translate(_FULLWIDTH) for w in words]
    joined = "".join(texts)
    owner = [i for i, t in enumerate(texts) for _ in t]
    reps = number_replacements(joined)
    # words touched by one replacement are merged (百分之 + 二 → one word "2%")
    group = list(range(len(words)))
    for r in reps:
        first, last = owner[r.start], owner[r.end - 1]
        for k in range(first + 1, last + 1):
            group[k] = group[first]
    out: list[TimedText] = []
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and group[j + 1] == group[i]:
            j += 1
        a = sum(len(t) for t in texts[:i])
        b = a + sum(len(t) for t in texts[i : j + 1])
        inner = [Replacement(r.start - a, r.end - a, r.text) for r in reps
                 if a <= r.start and r.end <= b]
        out.append(TimedText(
            apply(joined[a:b], inner), words[i].start, words[j].end,
            min(w.probability for w in words[i : j + 1]),
        ))
        i = j + 1
    return out
