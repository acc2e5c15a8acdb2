"""Transcript of record: each answer's whole audio decoded again at offline settings.

The live stream trades accuracy for speed; what the review page, the report and the scores
read is this second pass. ``RecordTranscriber`` keeps the audio of the answer in progress
in memory (16-bit, never on disk), and when the answer ends (or the interview does) queues
one long-form pass at the lowest priority on the shared scheduler (beam 5, every 30 s
window, the question and the job's vocabulary as context). It emits ``TranscriptRecord``:
``pending`` at once, then ``ready`` with words on the interview clock, or ``failed``.

In-process, a long answer is decoded as it goes: each window that ``LongFormPlan`` closes
during the answer is decoded at once (lowest priority, on capacity the live passes leave
idle), so when the answer ends only its last window remains. The windows and prompts are
those of the whole pass decoded after the answer (``WhisperEngine.transcribe_long``), so
the text is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.asr.engine import LONG_WINDOW_S, SAMPLE_RATE, Hypothesis, LongFormPlan, is_chinese
from analysis.asr.scheduler import AsrScheduler, PassInput, Priority
from analysis.asr.zh_text import TimedText, punctuated_words, written_words, zh_punctuation
from analysis.events import Event, TranscriptRecord, WordTiming

__all__ = ["RecordTranscriber", "record_event", "zh_punctuation"]

log = logging.getLogger(__name__)

Emit = Callable[[Event], Awaitable[object]]

MAX_GAP_FILL_S = 1.0  # a longer gap in the audio (reconnect) is bridged by this much silence
PROMPT_CHARS = 200  # Whisper's prompt holds 224 tokens; keep the question and terms short


@dataclass
class RecordSettings:
    """How a record pass decodes (the offline benchmark's settings by default)."""

    beam_size: int = 5
    tail_s: float = 1.0  # audio still taken after the answer ends (last words, late frames)
    pre_roll_s: float = 0.5  # audio kept from just before the question was shown
    as_it_goes: bool = True  # in-process: decode windows closed during the answer at once


def record_prompt(question: str, vocabulary: Sequence[str]) -> str:
    """Context for the decoder: the question, then the job's terms (bounded length).

    The terms come first in the budget (the admin's list, then the competency model's names,
    cut at the end); the question fills what is left, its end kept (nearest the answer).
    """
    terms = hotwords(vocabulary)
    room = PROMPT_CHARS - len(terms) - (1 if terms else 0)
    question = question.strip()[-room:] if room > 0 else ""
    return " ".join(p for p in (question, terms) if p)


def hotwords(vocabulary: Sequence[str]) -> str:
    """The job's terms as a decoder hint: ``"A, B, C."``, ended as a sentence.

    Without the full stop the decoder went on with the list's sentence (bench/vocabulary_real.py
    on real speech): English answers started in lower case and lost their last period, and a
    term said first was dropped as already written ("...used. Sunday" → "is the best part of
    the week").
    """
    text = ", ".join(t.strip() for t in vocabulary if t.strip())[: PROMPT_CHARS - 1]
    return text + "." if text and text[-1] not in ".!?。！？" else text


@dataclass
class _Piece:
    offset: int  # sample offset in the answer's buffer
    t: float  # interview clock of that sample


@dataclass
class AnswerAudio:
    """The audio of one answer, in memory only, with its interview-clock anchors."""

    question_id: str
    question_text: str
    started: float
    chunks: list[np.ndarray] = field(default_factory=list)
    anchors: list[_Piece] = field(default_factory=list)
    samples: int = 0
    closes_at: float | None = None  # interview clock after which no audio is added
    as_it_goes: _AsItGoes | None = None  # in-process: windows decoded during the answer

    def push(self, samples: np.ndarray, t: float) -> None:
        """Append 16 kHz float32 samples whose first one is at interview time ``t``."""
        if not len(samples):
            return
        expected = self.anchors[-1].t + (self.samples - self.anchors[-1].offset) / SAMPLE_RATE \
            if self.anchors else None
        if expected is None or abs(t - expected) > 0.25:
            gap = 0.0 if expected is None else t - expected
            if gap > 0:  # bridge a dropout with a little silence, re-anchor the clock
                fill = int(min(gap, MAX_GAP_FILL_S) * SAMPLE_RATE)
                self.chunks.append(np.zeros(fill, np.int16))
                self.samples += fill
            self.anchors.append(_Piece(self.samples, t))
        pcm = (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) * 32767).astype(np.int16)
        self.chunks.append(pcm)
        self.samples += len(pcm)

    def audio(self) -> np.ndarray:
        """The whole answer as float32."""
        if not self.chunks:
            return np.zeros(0, np.float32)
        return np.concatenate(self.chunks).astype(np.float32) / 32768.0

    def clock(self, seconds: float) -> float:
        """Interview time of a position (seconds from the buffer start)."""
        sample = seconds * SAMPLE_RATE
        anchor = self.anchors[0] if self.anchors else _Piece(0, self.started)
        for a in self.anchors:
            if a.offset <= sample:
                anchor = a
        return anchor.t + (sample - anchor.offset) / SAMPLE_RATE

    def release(self) -> None:
        """Drop the audio (after the pass ran)."""
        self.chunks.clear()


class _AsItGoes:
    """Decodes the windows of an answer that close while it is still being given."""

    def __init__(self, scheduler: AsrScheduler, long: Any) -> None:
        self.scheduler = scheduler
        self.long = long  # engine.LongPass
        self.plan = LongFormPlan()
        self.wake = asyncio.Event()
        self.closing = False
        self.task: asyncio.Task[None] | None = None
        self.windows_during_answer = 0

    def due(self, samples: int) -> bool:
        """True when the plan may close a window at this length of audio."""
        return (samples - self.plan.cursor > LONG_WINDOW_S * SAMPLE_RATE
                and samples >= self.plan.checked + self.plan.step)

    async def run(self, answer: AnswerAudio) -> None:
        """Until the answer ends: plan on new audio, decode the windows it closes."""
        while not self.closing:
            await self.wake.wait()
            self.wake.clear()
            if self.closing:
                return
            audio = answer.audio()
            windows = await asyncio.to_thread(self.plan.advance, audio)
            if windows:
                self.long.extend(audio, windows)
                self.windows_during_answer += len(windows)
                await self.steps()

    async def steps(self) -> None:
        """Decode every window waiting, one scheduler job each."""
        while await self.scheduler.submit_call(self.long.step, Priority.RECORD):
            pass

    async def finish(self, audio: np.ndarray) -> Hypothesis:
        """The answer is over: decode its last windows, return the whole pass."""
        self.closing = True
        self.wake.set()
        if self.task is not None:
            await self.task
        windows = await asyncio.to_thread(self.plan.finish, audio)
        self.long.extend(audio, windows)
        await self.steps()
        hyp: Hypothesis = self.long.result()
        return hyp

    async def aclose(self) -> None:
        """Stop (the pass failed or was cancelled) and drop the audio."""
        self.closing = True
        self.wake.set()
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        self.long.close()


def record_event(
    interview_id: str, audio: AnswerAudio, hyp: Hypothesis, t: float
) -> TranscriptRecord:
    """A ready TranscriptRecord from a long-form hypothesis (times on the interview clock)."""
    chinese = is_chinese(hyp.language)
    timed = [TimedText(w.text, w.start, w.end, w.probability) for w in hyp.words]
    if chinese:  # numbers as people write them (百分之二 → 2%); words of one number merge
        timed = written_words(punctuated_words(timed))
    words = [
        WordTiming(
            word=w.text, start=round(audio.clock(w.start), 3), end=round(audio.clock(w.end), 3),
            probability=round(w.probability, 4),
        )
        for w in timed
    ]
    text = "".join(w.word for w in words).strip()
    if chinese:
        text = re.sub(r"\s+(?=[\u3400-\u9fff，。？！：；])|(?<=[\u3400-\u9fff，。？！：；])\s+", "",
                      text)
    return TranscriptRecord(
        interview_id=interview_id, t=t, question_id=audio.question_id, status="ready",
        text=text, words=words, language=hyp.language,
        start=words[0].start if words else audio.started,
        end=words[-1].end if words else audio.clock(audio.samples / SAMPLE_RATE),
    )


class RecordTranscriber:
    """Per interview: answer audio in memory, one record pass per answer, events out."""

    def __init__(
        self, interview_id: str, scheduler: AsrScheduler, emit: Emit, *, language: str | None,
        clock: Callable[[], float], vocabulary: Sequence[str] = (),
        settings: RecordSettings | None = None,
    ) -> None:
        self.interview_id = interview_id
        self.scheduler = scheduler
        self._emit = emit
        self.language = language
        self._clock = clock
        self.vocabulary = list(vocabulary)
        self.settings = settings or RecordSettings()
        self._open: list[AnswerAudio] = []
        self._preroll: list[tuple[np.ndarray, float]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- audio and answer boundaries (on the event loop) ------------------------------

    def push_audio(self, samples: np.ndarray, t: float) -> None:
        """Candidate audio (16 kHz float32, ``t`` of its first sample on the interview clock)."""
        for answer in self._open:
            if answer.closes_at is None or t < answer.closes_at:
                answer.push(samples, t)
                live = answer.as_it_goes
                if live is not None and answer.closes_at is None and live.due(answer.samples):
                    live.wake.set()
        self._preroll.append((samples, t))
        while self._preroll and self._preroll[0][1] < t - self.settings.pre_roll_s:
            self._preroll.pop(0)

    def answer_started(self, question_id: str, question_text: str = "") -> None:
        """A question was shown: keep its answer's audio from now on."""
        now = self._clock()
        for answer in self._open:
            if answer.closes_at is None:  # no AnswerDone came: the next question ends it
                self._close(answer)
        answer = AnswerAudio(question_id, question_text, now)
        for samples, t in self._preroll:
            answer.push(samples, t)
        if self.settings.as_it_goes and self.scheduler.decodes_as_it_goes():
            open_long = getattr(self.scheduler.long_engine, "open_long")  # noqa: B009
            live = _AsItGoes(self.scheduler, open_long(
                record_prompt(question_text, self.vocabulary), self.language,
                self.settings.beam_size, hotwords(self.vocabulary),
            ))
            live.task = asyncio.create_task(live.run(answer), name="asr-record-as-it-goes")
            answer.as_it_goes = live
        self._open.append(answer)

    def answer_ended(self, question_id: str) -> None:
        """The answer is over: its record pass runs once the tail audio is in."""
        for answer in self._open:
            if answer.question_id == question_id and answer.closes_at is None:
                self._close(answer)

    def finish(self) -> None:
        """The interview (or the candidate's media) ended: every open answer gets its pass."""
        for answer in self._open:
            if answer.closes_at is None:
                self._close(answer, tail=False)

    def _close(self, answer: AnswerAudio, tail: bool = True) -> None:
        tail_s = self.settings.tail_s if tail else 0.0
        answer.closes_at = self._clock() + tail_s
        task = asyncio.create_task(self._run(answer, tail_s), name="asr-record")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the pass ----------------------------------------------------------------------

    async def _run(self, answer: AnswerAudio, tail_s: float) -> None:
        t_end = self._clock()
        await self._emit(TranscriptRecord(
            interview_id=self.interview_id, t=t_end, question_id=answer.question_id,
            status="pending", language=self.language or "",
        ))
        try:
            if tail_s > 0:
                await asyncio.sleep(tail_s)
            answer.closes_at = min(answer.closes_at or t_end, self._clock())
            if answer in self._open:
                self._open.remove(answer)
            if answer.as_it_goes is not None:
                hyp = await answer.as_it_goes.finish(answer.audio())
                self.scheduler.count_record(hyp)
            else:
                inp = PassInput(
                    audio=answer.audio(),
                    prompt=record_prompt(answer.question_text, self.vocabulary),
                    language=self.language, beam_size=self.settings.beam_size,
                    hotwords=hotwords(self.vocabulary), long=True,
                )
                answer.release()
                hyp = await self.scheduler.record_pass(inp)
            event = record_event(self.interview_id, answer, hyp, self._clock())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if answer.as_it_goes is not None:
                self.scheduler.count_record(None)
            log.warning("record transcription failed", extra={"error": type(exc).__name__})
            event = TranscriptRecord(
                interview_id=self.interview_id, t=self._clock(), question_id=answer.question_id,
                status="failed", language=self.language or "", error=type(exc).__name__,
            )
        finally:
            if answer.as_it_goes is not None:
                await answer.as_it_goes.aclose()
            answer.release()
            if answer in self._open:
                self._open.remove(answer)
        await self._emit(event)

    @property
    def pending(self) -> int:
        """Record passes queued or running."""
        return len(self._tasks)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for every queued pass (cancelled past ``timeout``: scoring then uses live)."""
        if not self._tasks:
            return
        tasks = list(self._tasks)
        done, rest = await asyncio.wait(tasks, timeout=timeout)
        for task in rest:
            task.cancel()
        for task in rest:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            with contextlib.suppress(Exception):
                task.result()
