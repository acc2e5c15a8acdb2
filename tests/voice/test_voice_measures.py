"""Voice delivery measures: fillers on written transcripts, rate/pauses/loudness on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.events import VoiceDeliverySummarized, WordTiming
from analysis.voice.analyzer import VoiceAnalyzer, speech_units, summarize_voice
from analysis.voice.fillers import count_fillers
from tests.voice.voice_helpers import human_references, load_16k_mono


def summary(language: str, text: str, audio: np.ndarray | None = None) -> VoiceDeliverySummarized:
    return summarize_voice(
        interview_id="iv", question_id="q1", language=language, text=text, audio=audio
    )


def test_english_fillers_are_counted_but_like_is_not() -> None:
    text = "Um, so I think, uh, the main thing was... er, like, the deadline. Umm. Erm, yes."
    counts = count_fillers(text, "en")
    assert counts == {"um": 2, "uh": 1, "er": 2}
    assert "like" not in counts
    assert count_fillers("The umbrella was under the error log.", "en") == {}


def test_mandarin_fillers_are_counted() -> None:
    text = "嗯，我觉得那个项目，呃，就是说我们当时，啊，然后就完成了。那个，嗯。"
    counts = count_fillers(text, "zh")
    assert counts == {"嗯": 2, "呃": 1, "啊": 1, "那个": 2, "就是": 1}
    assert "然后" not in counts


def test_speaking_units_are_words_or_characters() -> None:
    assert speech_units("Ask not what your country can do for you.", "en") == (9, "word")
    assert speech_units("我有的时候说不清楚你们知道吗", "zh") == (14, "char")
    assert speech_units("他说 OK 了", "zh-CN") == (4, "char")


def test_pauses_from_word_timings_without_audio() -> None:
    words = [
        WordTiming(word=w, start=s, end=e, probability=1.0)
        for w, s, e in [
            ("I", 10.0, 10.2),
            ("think", 10.3, 10.6),
            ("so", 13.0, 13.3),
            ("yes", 13.4, 14.0),
        ]
    ]
    s = summarize_voice(interview_id="iv", question_id="q1", language="en", words=words)
    assert s.units == 4 and s.speaking_time == pytest.approx(4.0)
    assert s.speaking_rate == pytest.approx(60.0)
    assert s.long_pauses == 1 and s.long_pause_total == pytest.approx(2.4)
    assert s.pause_ratio == pytest.approx(2.4 / 4.0)
    assert s.loudness_dbfs is None and s.start == 10.0


@pytest.mark.shared
def test_speaking_rate_matches_reference_words_over_duration(shared_data: Path) -> None:
    refs = human_references(shared_data)
    checked = 0
    for name, (language, reference) in refs.items():
        audio = load_16k_mono(shared_data / name)
        lang = "zh" if language.startswith("zh") else "en"
        s = summary(lang, reference, audio)
        expected_units = len(reference.replace(" ", "")) if lang == "zh" else len(reference.split())
        assert s.units == expected_units, name
        per_duration = expected_units * 60.0 / (len(audio) / 16000)
        # The rate is over the voiced span, so leading/trailing silence makes it a bit higher.
        assert s.speaking_rate is not None
        assert 0.97 * per_duration <= s.speaking_rate <= 1.4 * per_duration, name
        checked += 1
    assert checked >= 15


@pytest.mark.shared
def test_half_amplitude_is_six_db_quieter(shared_data: Path) -> None:
    for name in ["en/jfk.flac", "zh/BAC009S0764W0121.wav", "en/speechbrain_spk1_snt1.wav"]:
        audio = load_16k_mono(shared_data / name)
        full = summary("en", "", audio).loudness_dbfs
        half = summary("en", "", audio * 0.5).loudness_dbfs
        assert full is not None and half is not None
        assert full - half == pytest.approx(6.02, abs=0.3), name
        assert -45 < full < 0


@pytest.mark.shared
def test_inserted_silence_is_a_long_pause(shared_data: Path) -> None:
    first = load_16k_mono(shared_data / "en/speechbrain_spk1_snt1.wav")
    second = load_16k_mono(shared_data / "en/speechbrain_spk1_snt3.wav")
    noise = np.random.default_rng(0).normal(0, 1e-4, 16000 * 3).astype(np.float32)
    s = summary(
        "en",
        "THE CHILD ALMOST HURT THE SMALL DOG AT THAT HIGH LEVEL THE AIR IS PURE",
        np.concatenate([first, noise, second]),
    )
    assert s.long_pauses == 1
    assert 2.9 <= s.long_pause_total <= 3.8
    assert s.pause_ratio is not None and 0.3 < s.pause_ratio < 0.6

    alone = summary("en", "THE CHILD ALMOST HURT THE SMALL DOG", first)
    assert alone.long_pauses == 0 and alone.pause_ratio is not None and alone.pause_ratio < 0.2


@pytest.mark.shared
def test_streaming_analyzer_matches_the_whole_clip(shared_data: Path) -> None:
    audio = load_16k_mono(shared_data / "en/jfk.flac")
    words = [
        WordTiming(word=w, start=0, end=0, probability=1)
        for w in "And so my fellow Americans ask not what your country can do for you".split()
    ]
    analyzer = VoiceAnalyzer("iv")
    for i in range(0, len(audio), 5000):  # chunks that do not line up with 20 ms frames
        analyzer.push_audio(audio[i : i + 5000], 30.0 + i / 16000)
    analyzer.push_words(words)
    streamed = analyzer.end_answer("q1", "en")
    whole = summarize_voice(
        interview_id="iv",
        question_id="q1",
        language="en",
        words=words,
        audio=audio,
        audio_start=30.0,
    )
    assert streamed.loudness_dbfs == pytest.approx(whole.loudness_dbfs, abs=0.01)
    assert streamed.speaking_time == pytest.approx(whole.speaking_time, abs=0.05)
    assert streamed.start >= 30.0 and streamed.units == 14
    assert analyzer.end_answer("q2", "en").units == 0
