"""Mandarin record text: numbers as people write them in context, sentences for quotes."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.asr.engine import Hypothesis
from analysis.asr.policy import Word
from analysis.asr.record import AnswerAudio, record_event
from analysis.asr.zh_text import TimedText, parse_number, written_numbers, written_words
from analysis.scoring.text import sentence_spans


@pytest.mark.parametrize(("spoken", "written"), [
    # percentages, decimals, years and exact quantities of ten or more: digits
    ("转化率提高了百分之二", "转化率提高了2%"),
    ("毛利率是百分之三十五点五", "毛利率是35.5%"),
    ("延迟降到了零点五秒", "延迟降到了0.5秒"),
    ("我是二零一九年毕业的", "我是2019年毕业的"),
    ("团队有二十五个人", "团队有25个人"),
    ("一共三千五百万元的预算", "一共3500万元的预算"),
    ("用户从一万二增长到十二万三千四百", "用户从12000增长到123400"),
    ("十一月上线，一百零五个接口", "11月上线，105个接口"),
    ("营收两亿", "营收2亿"),
    # already in digits (full-width ones become ASCII)
    ("增长了２％", "增长了2%"),
    ("大概3.5倍", "大概3.5倍"),
    # characters kept: single digits, words and idioms, approximate numbers, times of day
    ("我一个人负责统一的接口", "我一个人负责统一的接口"),
    ("这个方案十分重要", "这个方案十分重要"),
    ("来了三四个人，二十多个用户，几十个需求", "来了三四个人，二十多个用户，几十个需求"),
    ("九点三十开会，十二点吃饭", "九点三十开会，十二点吃饭"),
    ("一点一点地改，有一点点难", "一点一点地改，有一点点难"),
    ("万一失败了，千方百计补救，百分之百确定", "万一失败了，千方百计补救，百分之百确定"),
    ("第一步，三三两两", "第一步，三三两两"),
])
def test_numbers_are_written_as_in_context(spoken: str, written: str) -> None:
    assert written_numbers(spoken) == written


@pytest.mark.parametrize(("text", "value"), [
    ("十", 10), ("十五", 15), ("二十五", 25), ("一百零五", 105), ("三千五", 3500),
    ("两万五", 25000), ("十二万三千四百", 123400), ("三千五百万", 35_000_000),
    ("一亿五", 150_000_000), ("三四", None), ("五六十", None), ("万一", None), ("百万", None),
])
def test_chinese_integers_parse_or_are_refused(text: str, value: int | None) -> None:
    assert parse_number(text) == value


def test_the_words_of_one_number_become_one_word_with_their_times() -> None:
    words = [TimedText("提高了", 0.0, 0.6, 0.9), TimedText("百分", 0.6, 0.9, 0.8),
             TimedText("之二", 0.9, 1.2, 0.7), TimedText("。", 1.2, 1.2, 0.9)]
    assert written_words(words) == [
        TimedText("提高了", 0.0, 0.6, 0.9), TimedText("2%", 0.6, 1.2, 0.7),
        TimedText("。", 1.2, 1.2, 0.9),
    ]


def test_a_mandarin_record_is_simplified_punctuated_and_splits_into_sentences() -> None:
    pieces = ["我们", "的", "转化率", "提高", "了", "百分", "之二", ",", "成本", "降", "了",
              "三", "千", "五", "百", "万", ".", "你", "觉得", "呢", "?", "我", "觉得", "可以", "."]
    words = [Word(p, 0.3 * i, 0.3 * i + 0.3, 0.9) for i, p in enumerate(pieces)]
    answer = AnswerAudio("q1", "", 100.0)
    answer.push(np.zeros(16_000 * 10, np.float32), 100.0)
    record = record_event("iv", answer, Hypothesis(words, "zh", duration=10.0), 111.0)
    assert record.text == "我们的转化率提高了2%，成本降了3500万。你觉得呢？我觉得可以。"
    sentences = [record.text[a:b] for a, b in sentence_spans(record.text)]
    assert sentences == ["我们的转化率提高了2%，成本降了3500万。", "你觉得呢？", "我觉得可以。"]
    # times stay on the interview clock, a merged number spans its words
    [percent] = [w for w in record.words if w.word == "2%"]
    assert (percent.start, percent.end) == (101.5, 102.1)
    assert "".join(w.word for w in record.words) == record.text
