"""StreamingTranscriber end to end: VAD cuts, scheduler passes, events on the interview clock."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from analysis.asr.engine import Hypothesis, WhisperEngine
from analysis.asr.policy import Word
from analysis.asr.scheduler import AsrScheduler, PassInput, Priority
from analysis.asr.stream import StreamingTranscriber, StreamSettings
from analysis.asr.vad import VadSettings
from analysis.events import EventBase, TranscriptFinal, TranscriptionBacklogged
from tests.asr.conftest import load_audio, references
from tests.asr.fakes import FakeTranscriber, seconds_of, word_every_half_second

BLOCK = 320  # 20 ms, what the server's track reader delivers


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def collecting(stream: StreamingTranscriber) -> tuple[list[EventBase], asyncio.Task[None]]:
    """Start collecting the stream's events: the list they arrive in, and the collecting task."""
    events: list[EventBase] = []

    async def collect() -> None:
        async for event in stream.events():
            events.append(event)

    return events, asyncio.create_task(collect())


async def feed(stream: StreamingTranscriber, audio: np.ndarray, t0: float) -> list[EventBase]:
    """Push audio in 20 ms blocks as fast as the loop allows (simulated pace), then end."""
    events, collector = collecting(stream)
    padded = np.concatenate([np.zeros(8_000, np.float32), audio, np.zeros(16_000, np.float32)])
    for i in range(0, len(padded), BLOCK):
        stream.push_audio(padded[i : i + BLOCK], t0 + i / 16_000)
        if i % (BLOCK * 25) == 0:
            await asyncio.sleep(0)
    stream.end_input()
    await asyncio.wait_for(collector, 120)
    return events


def finals(events: list[EventBase]) -> list[TranscriptFinal]:
    return [e for e in events if isinstance(e, TranscriptFinal)]


@pytest.mark.model
async def test_espeak_phrase_is_transcribed(
    whisper_engine: WhisperEngine, espeak_speech: np.ndarray
) -> None:
    async with AsrScheduler(whisper_engine) as scheduler:
        stream = StreamingTranscriber("iv-espeak", scheduler)
        events = await feed(stream, espeak_speech, t0=100.0)
    done = finals(events)
    text = normalize(" ".join(f.text for f in done))
    assert "your country" in text
    assert all(f.language == "en" for f in done)
    first_word = done[0].words[0]
    assert 100.0 <= first_word.start < 100.0 + 0.5 + len(espeak_speech) / 16_000


@pytest.mark.model
@pytest.mark.shared
async def test_jfk_finals_contain_the_famous_line(
    whisper_engine: WhisperEngine, shared_data: Path
) -> None:
    audio = load_audio(shared_data / "en" / "jfk.flac")
    async with AsrScheduler(whisper_engine) as scheduler:
        stream = StreamingTranscriber("iv-jfk", scheduler)
        events = await feed(stream, audio, t0=42.0)
    done = finals(events)
    assert "ask not what your country can do for you" in normalize(" ".join(f.text for f in done))
    ids = [f.utterance_id for f in done]
    assert len(ids) == len(set(ids)) and all(i.startswith("iv-jfk-") and "-u0" in i for i in ids)
    starts = [f.start for f in done]
    assert starts == sorted(starts) and starts[0] >= 42.0
    for final in done:
        assert final.words and final.start <= final.words[0].start
        assert final.end <= 42.0 + 0.5 + len(audio) / 16_000 + 0.1


@pytest.mark.model
@pytest.mark.shared
async def test_mandarin_comes_out_simplified_and_close_to_the_reference(
    whisper_engine: WhisperEngine, shared_data: Path
) -> None:
    import jiwer
    from opencc import OpenCC

    name = "zh/BAC009S0764W0121.wav"
    reference = re.sub(r"\s+", "", references(shared_data)[name])
    async with AsrScheduler(whisper_engine) as scheduler:
        stream = StreamingTranscriber("iv-zh", scheduler)
        events = await feed(stream, load_audio(shared_data / name), t0=0.0)
    text = "".join(f.text for f in finals(events))
    assert all(f.language == "zh" for f in finals(events))
    hanzi = "".join(re.findall(r"[\u4e00-\u9fff]", text))
    assert hanzi and OpenCC("t2s").convert(hanzi) == hanzi  # already Simplified
    assert jiwer.cer(reference, hanzi) <= 0.3


class GatedTranscriber(FakeTranscriber):
    """A fake engine that blocks until released: lets a test build a backlog."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[int] = []

    def hear(
        self, audio: np.ndarray, *, language: str | None, beam_size: int, window_s: float | None
    ) -> Hypothesis:
        self.gate.wait(30)
        self.calls.append(beam_size)
        seconds = seconds_of(audio)
        words = word_every_half_second(seconds, length=0.4)
        return Hypothesis(words, language="en", duration=seconds)


async def test_a_backlog_is_reported_and_finals_still_arrive(espeak_speech: np.ndarray) -> None:
    now = [0.0]
    engine = GatedTranscriber()
    async with AsrScheduler(engine, clock=lambda: now[0]) as scheduler:
        stream = StreamingTranscriber("iv-load", scheduler, clock=lambda: now[0])
        events, collector = collecting(stream)
        audio = np.concatenate([espeak_speech, np.zeros(16_000, np.float32)] * 2)
        for i in range(0, len(audio), BLOCK):
            now[0] = i / 16_000 * 3  # inference is far behind real time
            stream.push_audio(audio[i : i + BLOCK], i / 16_000)
            await asyncio.sleep(0)
        engine.gate.set()
        stream.end_input()
        await asyncio.wait_for(collector, 30)
    reports = [e for e in events if isinstance(e, TranscriptionBacklogged)]
    assert reports and reports[0].pending_seconds > 3.0
    assert scheduler.metrics.backlog_reports >= 1
    assert len(finals(events)) == 2  # one per utterance, never dropped


class SteeredScheduler(AsrScheduler):
    """A scheduler whose backlog the test sets."""

    backlog = 0.0

    def backlog_seconds(self) -> float:
        return self.backlog


async def test_a_backlog_is_reported_when_it_starts_or_doubles_not_while_it_lasts() -> None:
    """Each report is stored and sent to every observer: a steady backlog reports once."""
    now = [0.0]
    scheduler = SteeredScheduler(FakeTranscriber(), clock=lambda: now[0])
    async with scheduler:
        stream = StreamingTranscriber("iv-steady", scheduler, clock=lambda: now[0])
        events, collector = collecting(stream)
        silence = np.zeros(BLOCK, np.float32)
        pushed = [0]

        def run(seconds: float, backlog: float) -> None:
            scheduler.backlog = backlog
            for _ in range(int(seconds * 16_000 / BLOCK)):
                now[0] = pushed[0] * BLOCK / 16_000
                stream.push_audio(silence, now[0])
                pushed[0] += 1

        run(60, 4.0)  # behind for a minute: one report
        run(30, 5.5)  # still the same level (3-6 s)
        run(30, 13.0)  # doubled twice: one report for the new level
        run(30, 9.0)  # better, but still behind: nothing
        run(5, 0.5)  # caught up
        run(30, 4.0)  # behind again: reported again
        stream.end_input()
        await asyncio.wait_for(collector, 10)
    reports = [e for e in events if isinstance(e, TranscriptionBacklogged)]
    assert [r.pending_seconds for r in reports] == [4.0, 13.0, 4.0]
    assert scheduler.metrics.backlog_reports == 3


class InventiveTranscriber(FakeTranscriber):
    """A fake engine that, like Whisper, adds an unlikely word in the trailing silence."""

    def hear(
        self, audio: np.ndarray, *, language: str | None, beam_size: int, window_s: float | None
    ) -> Hypothesis:
        seconds = seconds_of(audio)
        words = word_every_half_second(
            seconds, length=0.4, probability=0.9, count=int(seconds / 0.5) - 1
        )
        words.append(Word(" invented", seconds - 0.3, seconds, 0.02))
        return Hypothesis(words, language="en", duration=seconds)


async def test_words_invented_in_the_trailing_silence_are_dropped(
    espeak_speech: np.ndarray,
) -> None:
    async with AsrScheduler(InventiveTranscriber()) as scheduler:
        stream = StreamingTranscriber("iv-tail", scheduler)
        events, collector = collecting(stream)
        audio = np.concatenate([espeak_speech, np.zeros(16_000, np.float32)])
        for i in range(0, len(audio), BLOCK):
            stream.push_audio(audio[i : i + BLOCK], i / 16_000)
            await asyncio.sleep(0)
        stream.end_input()
        await asyncio.wait_for(collector, 30)
    [final] = finals(events)
    assert final.words and "invented" not in final.text
    assert all(w.probability >= 0.1 for w in final.words)


class RecordingTranscriber(FakeTranscriber):
    """A fake engine that says one word per half second and records each pass's window."""

    def __init__(self, delay: float = 0.0) -> None:
        self.windows: list[float | None] = []
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()  # a pass has started

    def hear(
        self, audio: np.ndarray, *, language: str | None, beam_size: int, window_s: float | None
    ) -> Hypothesis:
        self.entered.set()
        self.gate.wait(30)
        if self.delay:
            threading.Event().wait(self.delay)
        self.windows.append(window_s)
        seconds = seconds_of(audio)
        words = word_every_half_second(seconds, length=0.3, probability=0.9)
        return Hypothesis(words, language="en", duration=seconds)


async def _stream_paced(stream: StreamingTranscriber, audio: np.ndarray) -> list[EventBase]:
    """Feed 20 ms blocks with a short real pause each (passes finish while audio flows)."""
    events, collector = collecting(stream)
    for i in range(0, len(audio), BLOCK):
        stream.push_audio(audio[i : i + BLOCK], i / 16_000)
        await asyncio.sleep(0.004)
    stream.end_input()
    await asyncio.wait_for(collector, 30)
    return events


async def test_tentative_passes_use_a_shortened_window_and_the_pause_pass_becomes_the_final(
    espeak_speech: np.ndarray,
) -> None:
    engine = RecordingTranscriber()
    silence = np.zeros(24_000, np.float32)
    audio = np.concatenate([silence, espeak_speech, espeak_speech, silence])
    async with AsrScheduler(engine) as scheduler:
        stream = StreamingTranscriber("iv-windows", scheduler)
        events = await _stream_paced(stream, audio)
    done = finals(events)
    assert done
    # tentative passes: buffer + margin, at least 10 s; the pass at the pause: 30 s
    assert any(w is not None and 10.0 <= w < 30.0 for w in engine.windows)
    assert None in engine.windows
    # every final came from the pass started when the silence began: no extra pass
    m = scheduler.metrics
    assert m.finals_from_pause_pass == len(done) == m.finals_emitted
    assert m.final_passes == engine.windows.count(None)


async def test_finals_get_a_shortened_window_while_other_finals_wait(
    espeak_speech: np.ndarray,
) -> None:
    engine = RecordingTranscriber()
    engine.gate.clear()  # inference stalls: every stream's final queues up
    audio = np.concatenate([espeak_speech, np.zeros(24_000, np.float32)])
    async with AsrScheduler(engine) as scheduler:
        streams = [StreamingTranscriber(f"iv-busy{k}", scheduler) for k in range(3)]
        collected = [collecting(s) for s in streams]
        for i in range(0, len(audio), BLOCK):
            for s in streams:
                s.push_audio(audio[i : i + BLOCK], i / 16_000)
            await asyncio.sleep(0)
        for s in streams:
            s.end_input()
        engine.gate.set()
        await asyncio.wait_for(asyncio.gather(*(task for _, task in collected)), 30)
    assert all(len(finals(got)) == 1 for got, _ in collected)  # late, shortened, never dropped
    assert scheduler.metrics.finals_shortened >= 1
    assert any(w is not None and w < 30.0 for w in engine.windows)


async def test_flush_finalizes_speech_cut_off_by_a_disconnect_and_the_stream_goes_on(
    espeak_speech: np.ndarray,
) -> None:
    async with AsrScheduler(RecordingTranscriber()) as scheduler:
        stream = StreamingTranscriber("iv-cut", scheduler)
        events, collector = collecting(stream)
        for i in range(0, len(espeak_speech), BLOCK):  # no trailing silence: still speaking
            stream.push_audio(espeak_speech[i : i + BLOCK], i / 16_000)
            await asyncio.sleep(0)
        stream.flush()  # the candidate left
        for _ in range(200):
            if finals(events):
                break
            await asyncio.sleep(0.01)
        assert len(finals(events)) == 1, "finalized at once, not when the interview ends"
        rejoin = 100.0
        audio = np.concatenate([espeak_speech, np.zeros(24_000, np.float32)])
        for i in range(0, len(audio), BLOCK):
            stream.push_audio(audio[i : i + BLOCK], rejoin + i / 16_000)
            await asyncio.sleep(0)
        stream.end_input()
        await asyncio.wait_for(collector, 30)
    done = finals(events)
    assert len(done) == 2 and done[1].start >= rejoin
    assert done[0].utterance_id != done[1].utterance_id


@pytest.mark.parametrize(("hold_ms", "expected"), [(0, 2), (700, 1)])
async def test_a_pause_mid_sentence_does_not_cut_the_utterance(
    espeak_speech: np.ndarray, hold_ms: int, expected: int
) -> None:
    """A silence that ends an utterance does not while the hypothesis is mid-sentence."""
    engine = RecordingTranscriber()  # its words never end a sentence
    pause = np.zeros(16_000, np.float32)
    mid = np.zeros(6_400, np.float32)  # with espeak's own silences: ends an utterance
    audio = np.concatenate([pause, espeak_speech, mid, espeak_speech, pause, pause])
    async with AsrScheduler(engine) as scheduler:
        stream = StreamingTranscriber(
            "iv-hold", scheduler, StreamSettings(hold_mid_sentence_ms=hold_ms)
        )
        events = await _stream_paced(stream, audio)
    assert len(finals(events)) == expected


async def _sentence_with_a_pause_under_load(
    speech: np.ndarray, drop: bool
) -> tuple[list[TranscriptFinal], AsrScheduler]:
    """One sentence with a short pause inside, fed while the worker is busy."""
    engine = RecordingTranscriber()
    engine.gate.clear()  # the worker is busy: every pass queues
    lead = np.zeros(8_000, np.float32)
    short = np.zeros(1_600, np.float32)  # 0.1 s, with espeak's own silences: no end
    audio = np.concatenate([lead, speech, short, speech, np.zeros(32_000, np.float32)])
    free = len(lead) + len(speech) + len(short) + len(speech) // 2  # speaking again by then
    settings = StreamSettings(hold_mid_sentence_ms=0, drop_resumed_pause_pass=drop)
    async with AsrScheduler(engine) as scheduler:
        stream = StreamingTranscriber("iv-resume", scheduler, settings)
        events, collector = collecting(stream)
        for i in range(0, len(audio), BLOCK):
            if i >= free:
                engine.gate.set()  # the worker is free again while the candidate speaks
            stream.push_audio(audio[i : i + BLOCK], i / 16_000)
            await asyncio.sleep(0.001)
        stream.end_input()
        await asyncio.wait_for(collector, 30)
    return finals(events), scheduler


async def test_a_pause_pass_still_queued_when_speech_resumes_is_dropped(
    espeak_speech: np.ndarray,
) -> None:
    """Under load a pause inside a sentence costs the worker no pass of its own."""
    kept, kept_by = await _sentence_with_a_pause_under_load(espeak_speech, drop=False)
    dropped, dropped_by = await _sentence_with_a_pause_under_load(espeak_speech, drop=True)
    for done in (kept, dropped):
        assert len(done) == 1
        # the one final hears both halves of the sentence
        assert done[0].end - done[0].start >= 2 * len(espeak_speech) / 16_000 - 1.0
    assert kept_by.metrics.pause_passes_dropped == 0
    assert dropped_by.metrics.pause_passes_dropped >= 1
    assert dropped_by.metrics.final_passes < kept_by.metrics.final_passes


async def test_a_job_cancelled_in_the_queue_stops_counting_as_waiting_at_once() -> None:
    """waiting() decides the streams' busy settings: a dropped pass must not count."""
    engine = RecordingTranscriber()
    engine.gate.clear()
    audio = np.zeros(16_000, np.float32)

    def one() -> PassInput:
        return PassInput(audio=audio, prompt="", language="en")

    async with AsrScheduler(engine, max_pending_finals=2) as scheduler:
        running = scheduler.submit(one, Priority.PARTIAL)
        await asyncio.wait_for(asyncio.to_thread(engine.entered.wait), 10)
        queued = [scheduler.submit(one, Priority.FINAL) for _ in range(2)]
        assert scheduler.waiting() == 2 and scheduler.finals_full()
        queued[0].cancel()
        await asyncio.sleep(0)  # the future's callbacks run on the loop
        assert scheduler.waiting() == 1 and not scheduler.finals_full()
        assert scheduler.metrics.queue_depth == 1
        engine.gate.set()
        assert await queued[1].future is not None
        await running.future
    assert queued[0].future.cancelled()
    assert len(engine.windows) == 2  # the cancelled one never ran


class LengthRecorder(RecordingTranscriber):
    """RecordingTranscriber that also notes the audio length of each tentative pass."""

    def __init__(self) -> None:
        super().__init__()
        self.tentative_seconds: list[float] = []

    def hear(
        self, audio: np.ndarray, *, language: str | None, beam_size: int, window_s: float | None
    ) -> Hypothesis:
        if window_s is not None:
            self.tentative_seconds.append(seconds_of(audio))
        return super().hear(audio, language=language, beam_size=beam_size, window_s=window_s)


@pytest.mark.parametrize(("in_pause", "expected"), [(True, True), (False, False)])
async def test_no_tentative_pass_starts_during_a_silence(
    espeak_speech: np.ndarray, in_pause: bool, expected: bool
) -> None:
    """A silence shows no new words: the worker stays free for the pass that makes the final."""
    engine = LengthRecorder()
    lead = np.zeros(8_000, np.float32)
    audio = np.concatenate([lead, espeak_speech, np.zeros(48_000, np.float32)])
    settings = StreamSettings(
        vad=VadSettings(min_silence_ms=2_500), hold_mid_sentence_ms=0,
        partials_in_pause=in_pause,
    )
    async with AsrScheduler(engine) as scheduler:
        stream = StreamingTranscriber("iv-quiet", scheduler, settings)
        events = await _stream_paced(stream, audio)
    assert len(finals(events)) == 1
    speech_s = (len(lead) + len(espeak_speech)) / 16_000
    # the buffer starts at the padded speech start, so a pass with more than the speech and
    # a second of the silence in it was started well into the silence
    in_silence = [s for s in engine.tentative_seconds if s > speech_s + 1.0]
    assert bool(in_silence) is expected


async def test_a_new_stream_of_the_same_interview_does_not_reuse_utterance_ids(
    espeak_speech: np.ndarray,
) -> None:
    """An interview taken over by another node (or a session made again after a pause) gets a
    new stream; the log keeps one final per utterance id, so ids must not start over."""
    audio = np.concatenate([espeak_speech, np.zeros(24_000, np.float32)])
    ids: list[str] = []
    async with AsrScheduler(RecordingTranscriber()) as scheduler:
        for _node in range(2):
            stream = StreamingTranscriber("iv-moved", scheduler)
            events, collector = collecting(stream)
            for i in range(0, len(audio), BLOCK):
                stream.push_audio(audio[i : i + BLOCK], i / 16_000)
                await asyncio.sleep(0)
            stream.end_input()
            await asyncio.wait_for(collector, 30)
            ids += [f.utterance_id for f in finals(events)]
    assert len(ids) == 2 and ids[0] != ids[1]
    assert all(i.startswith("iv-moved-") for i in ids)
