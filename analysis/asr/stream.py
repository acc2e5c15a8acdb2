"""StreamingTranscriber: one interview's audio in, TranscriptPartial/TranscriptFinal out."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.asr.engine import FULL_WINDOW_S, Hypothesis
from analysis.asr.policy import CommitPolicy, Word, join_words
from analysis.asr.scheduler import AsrScheduler, PassInput, PassJob, Priority
from analysis.asr.vad import SAMPLE_RATE, StreamingVad, VadEvent, VadSettings
from analysis.events import (
    AnalyzerFailed,
    TranscriptFinal,
    TranscriptionBacklogged,
    TranscriptPartial,
    WordTiming,
)

log = logging.getLogger(__name__)

TranscriptionEvent = TranscriptPartial | TranscriptFinal | TranscriptionBacklogged | AnalyzerFailed
"""Everything a transcription stream emits."""
EventCallback = Callable[[TranscriptionEvent], Any]


@dataclass(frozen=True, slots=True)
class Queued:
    """An event waiting for the stream's reader, and the ``time.monotonic()`` it was queued."""

    event: TranscriptionEvent
    at: float


TAIL_TOLERANCE_S = 0.15
TAIL_MIN_PROBABILITY = 0.1


SENTENCE_END = (".", "?", "!", "。", "？", "！", "…")


def _looping(text: str) -> bool:
    """True when ``text`` repeats itself (a word or phrase said over and over)."""
    import zlib

    data = text.encode()
    if len(data) < 24:
        return False
    return len(data) / len(zlib.compress(data)) > 2.0


@dataclass(frozen=True)
class StreamSettings:
    """How one stream cuts, updates and finalizes utterances."""

    vad: VadSettings = field(default_factory=VadSettings)
    language: str | None = None
    partial_step_s: float = 1.0
    max_partial_step_s: float = 6.0
    partial_beam_size: int = 1
    final_beam_size: int = 1
    # Tentative passes encode only the buffer plus a margin (at least the minimum): a third
    # of the cost of Whisper's 30 s window; 0 = full window. Finals always use 30 s.
    partial_window_min_s: float = 10.0
    partial_window_margin_s: float = 2.0
    # A full-window pass starts this long after silence begins: when the silence lasts long
    # enough to end the utterance, that pass is usually already done and becomes the final.
    pause_pass_ms: int = 100
    # No tentative pass starts during a silence (it would show no new speech and hold the
    # worker when the pause pass, which may become the final, is due).
    partials_in_pause: bool = False
    # The same while other passes wait. A pause pass still queued when speech resumes is
    # dropped (it can no longer be the final), so under load a pause inside a sentence costs
    # the worker nothing and the pass can be asked for as early as when idle (measured at 6
    # streams, docs/asr.md: finals p95 ≤ 3 s in 20 of 23 runs against 0 of 5 with 500 ms
    # and no dropping).
    pause_pass_busy_ms: int = 100
    drop_resumed_pause_pass: bool = True
    # While other passes wait, a final pass encodes a shortened window (at least this long)
    # too: finals stay on time under load at some cost in accuracy. 0 = always 30 s.
    busy_final_window_min_s: float = 5.0
    # Only full-window passes commit words (and so let the buffer be trimmed): in a long
    # answer without pauses one runs every ``anchor_every_s`` of new audio past the trim size.
    anchor_every_s: float = 3.0
    # Earlier finals of the same answer prompting the next utterance (reset by new_answer(),
    # left out when the text repeats itself: see _looping).
    context_chars: int = 0
    # A silence long enough to end an utterance does not end it while the last full-window
    # hypothesis is mid-sentence (no closing punctuation): it is held open up to this much
    # longer, so a sentence with a pause is decoded whole. 0 = off.
    hold_mid_sentence_ms: int = 700
    hotwords: str = ""  # the job's vocabulary, a decoder hint in every pass
    min_speech_s: float = 0.25
    detect_min_s: float = 2.0
    backlog_report_s: float = 3.0
    backlog_report_every_s: float = 5.0
    gap_tolerance_s: float = 0.25
    # The buffer is cut after committed words only past this length: below it, the final
    # pass hears the whole utterance at once (measured: fewer misheard first words).
    trim_after_s: float = 12.0
    busy_trim_after_s: float = 6.0  # while passes wait: shorter buffers, cheaper passes
    max_buffer_s: float = 20.0


@dataclass(frozen=True)
class _Pass:
    """A finished pass: the buffer it saw (absolute samples) and its words (interview clock)."""

    start: int
    end: int
    words: list[Word]
    trailing_silence: bool  # the last word ended well before the audio did


@dataclass
class _Utterance:
    id: str
    start: int  # absolute sample of buffer[0]
    policy: CommitPolicy
    buffer: np.ndarray
    first_sample: int
    end: int | None = None  # absolute end sample once closed
    speech_end: int | None = None  # where the closing silence began (VAD)
    requested: int = -1  # buffer end when the last partial was requested
    full_requested: int = -1  # buffer end when the last full-window pass was requested
    partial: PassJob | None = None
    partial_task: asyncio.Task[None] | None = None
    skips_seen: int = 0
    paused_at: int | None = None  # absolute sample where the current silence began
    pause_pass_for: int | None = None  # the silence a full-window pass was asked for
    pause_job: PassJob | None = None
    pause_task: asyncio.Task[None] | None = None
    pause_pass: _Pass | None = None  # the last full-window pass that finished
    closing: bool = False  # ended: late tentative passes are no longer shown
    held_from: int | None = None  # the VAD ended it mid-sentence: kept open from here
    logprobs: list[float] = field(default_factory=list)
    language: str = ""

    @property
    def audio_end(self) -> int:
        return self.start + len(self.buffer)


class StreamingTranscriber:
    """Feed 16 kHz mono float32 with ``push_audio``; iterate ``events()`` or pass ``on_event``.

    Call from the event loop thread. Word times are on the interview clock: ``t`` given to
    ``push_audio`` is the clock time of the first sample of that block.
    """

    def __init__(
        self,
        interview_id: str,
        scheduler: AsrScheduler,
        settings: StreamSettings | None = None,
        on_event: EventCallback | None = None,
        vad_session: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interview_id = interview_id
        self.scheduler = scheduler
        self.settings = settings or StreamSettings()
        self.on_event = on_event
        self.language: str | None = self.settings.language
        self._vad_session = vad_session
        self._vad: StreamingVad | None = None
        self._clock = clock
        # each event with the time.monotonic() it was queued at (the reader measures its wait)
        self._events: asyncio.Queue[Queued | None] = asyncio.Queue()
        self._samples = 0  # absolute samples received
        self._anchor_sample = 0
        self._anchor_t = 0.0
        self._vad_origin = 0
        self._history = np.zeros(0, dtype=np.float32)
        self._history_start = 0
        self._utt: _Utterance | None = None
        self._count = 0
        self._chain: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._ended = False
        self._closed = asyncio.Event()
        self._skipped = 0
        self._last_report = -1e9
        self._backlog_level = 0  # the last level reported (0: not behind); see _report_backlog
        self._started = False
        self._stream_key = f"{interview_id}:{id(self)}"
        # Utterance ids are unique across streams: an interview that moves to another node,
        # or whose session is made again after a pause, gets a new stream counting from 1,
        # and the log drops a final whose id it has (it takes a repeated final for a worker's
        # redelivery).
        self._tag = uuid.uuid4().hex[:8]
        self._context = ""  # tail of the finals so far: prompts the next utterance

    # ---- clock -------------------------------------------------------------------

    def _t(self, sample: int) -> float:
        return self._anchor_t + (sample - self._anchor_sample) / SAMPLE_RATE

    @property
    def skipped_partials(self) -> int:
        """Partial updates left out because inference was behind."""
        return self._skipped

    # ---- input -------------------------------------------------------------------

    def push_audio(self, samples: np.ndarray, t: float) -> None:
        """Add 16 kHz mono float32 samples whose first sample is at interview time ``t``."""
        if self._ended:
            raise RuntimeError("push_audio after end_input")
        samples = np.asarray(samples, dtype=np.float32).ravel()
        if not self._started:
            self._started = True
            self.scheduler.open_stream(self._stream_key)
            self._anchor_t = t
        elif abs(t - self._t(self._samples)) > self.settings.gap_tolerance_s:
            # A gap (reconnect, lost packets): close what was open, restart the clock.
            self._apply(self._vad.flush() if self._vad else [])
            self._release_held(force=True)
            self._vad = None
            self._anchor_sample, self._anchor_t = self._samples, t
        if self._vad is None:
            self._vad = StreamingVad(self.settings.vad, self._vad_session)
            self._vad_origin = self._samples
        self._append_history(samples)
        self._samples += len(samples)
        events = self._vad.push(samples)
        self._vad_session = self._vad._session
        self._apply(events)
        self._extend_open()
        self._release_held()
        self._maybe_pause_pass()
        self._maybe_partial()
        self._maybe_report_backlog()

    def flush(self) -> None:
        """The audio stopped for now (the candidate left): finalize the open utterance.

        The stream stays open; audio pushed later (a rejoin) starts a new utterance.
        """
        if self._ended or self._vad is None:
            return
        self._apply(self._vad.flush())
        self._release_held(force=True)
        self._vad = None

    def end_input(self) -> None:
        """No more audio: finalize what is open; ``events()`` ends after the last final."""
        if self._ended:
            return
        if self._vad is not None:
            self._apply(self._vad.flush())
        self._release_held(force=True)
        self._ended = True
        chain = self._chain

        async def close() -> None:
            if chain is not None:
                await asyncio.gather(chain, return_exceptions=True)
            self._emit(None)

        self._spawn(close())

    async def aclose(self) -> None:
        """End input and wait until every final has been emitted."""
        self.end_input()
        await self._closed.wait()

    async def __aenter__(self) -> StreamingTranscriber:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def events(self) -> AsyncIterator[TranscriptionEvent]:
        """Partials, finals and backlog reports, until input ended and all finals are out."""
        async for batch in self.event_batches():
            for event in batch:
                yield event

    async def event_batches(self) -> AsyncIterator[list[TranscriptionEvent]]:
        """``events()`` in batches: each time, every event waiting (at least one), in order.

        A reader that stores events can store a batch at once (server/session.py): on a busy
        loop the events that queued up meanwhile cost one transaction, not one each.
        """
        async for batch in self.timed_batches():
            yield [q.event for q in batch]

    async def timed_batches(self) -> AsyncIterator[list[Queued]]:
        """``event_batches()`` with the ``time.monotonic()`` each event was queued at."""
        while True:
            item = await self._events.get()
            if item is None:
                return
            batch = [item]
            while not self._events.empty():
                more = self._events.get_nowait()
                if more is None:
                    yield batch
                    return
                batch.append(more)
            yield batch

    @property
    def queued(self) -> int:
        """Events emitted and not yet taken by the reader."""
        return self._events.qsize()

    # ---- internals ---------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    def _emit(self, event: TranscriptionEvent | None) -> None:
        if event is None:
            self._closed.set()
            self.scheduler.close_stream(self._stream_key)
            self._events.put_nowait(None)
            return
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("transcript event callback failed")
        self._events.put_nowait(Queued(event, time.monotonic()))

    def _append_history(self, samples: np.ndarray) -> None:
        keep = max(SAMPLE_RATE, self.settings.vad.pad_ms * SAMPLE_RATE // 1000 + 2 * 512)
        self._history = np.concatenate([self._history, samples])
        # keep everything a still-unprocessed VAD chunk or an open utterance may ask for
        excess = len(self._history) - (keep + len(samples))
        if excess > 0:
            self._history = self._history[excess:]
            self._history_start += excess

    def _slice(self, begin: int, end: int) -> np.ndarray:
        lo = max(begin, self._history_start) - self._history_start
        hi = max(lo, end - self._history_start)
        return self._history[lo:hi]

    def _apply(self, events: list[VadEvent]) -> None:
        for ev in events:
            at = self._vad_origin + ev.sample
            if ev.kind == "start" and self._utt is None:
                self._count += 1
                begin = max(at, self._history_start)
                self._utt = _Utterance(
                    id=f"{self.interview_id}-{self._tag}-u{self._count:04d}",
                    start=begin,
                    policy=CommitPolicy(
                        trim_after_s=self.settings.trim_after_s,
                        max_buffer_s=self.settings.max_buffer_s,
                    ),
                    buffer=np.zeros(0, dtype=np.float32),
                    first_sample=begin,
                )
                self._extend_open(until=self._samples)
            elif ev.kind == "pause" and self._utt is not None:
                self._extend_open(until=min(at, self._samples))
                self._utt.paused_at = at
            elif ev.kind == "resume" and self._utt is not None:
                self._utt.paused_at = None
                self._drop_pause_pass(self._utt)
            elif ev.kind == "start" and self._utt is not None and self._utt.held_from is not None:
                self._utt.held_from = None  # the sentence goes on: same utterance
                self._utt.paused_at = None
                self._utt.pause_pass_for = None
                self._drop_pause_pass(self._utt)
            elif ev.kind == "end" and self._utt is not None and self._hold(self._utt, at):
                self._utt.held_from = at
            elif ev.kind == "end" and self._utt is not None:
                utt = self._utt
                self._extend_open(until=min(at, self._samples))
                utt.end = utt.audio_end
                utt.speech_end = utt.paused_at  # None when input stopped mid-speech
                self._utt = None
                self._close(utt)

    def _drop_pause_pass(self, utt: _Utterance) -> None:
        """Speech resumed before the pause pass started: it can no longer be the final.

        Under load it would still hold the worker for a whole pass while other streams'
        finals wait (measured at 6 streams: a pass at a pause inside a sentence, queued, then
        decoded after the candidate went on, in every stream at once); the next pause or the
        next tentative pass covers the same audio.
        """
        job = utt.pause_job
        if job is not None and not job.started and self.settings.drop_resumed_pause_pass:
            job.cancel()
            utt.pause_job = None
            self.scheduler.metrics.pause_passes_dropped += 1

    def _hold(self, utt: _Utterance, at: int) -> bool:
        """Keep the utterance open at this silence (the hypothesis is mid-sentence)?"""
        if self.settings.hold_mid_sentence_ms <= 0 or self._ended:
            return False
        done = utt.pause_pass
        if done is None or not done.words or utt.paused_at is None or done.end < utt.paused_at:
            return False  # no full-window hypothesis of all the speech yet: do not guess
        return not done.words[-1].text.rstrip().endswith(SENTENCE_END)

    def _release_held(self, force: bool = False) -> None:
        utt = self._utt
        if utt is None or utt.held_from is None:
            return
        hold = self.settings.hold_mid_sentence_ms * SAMPLE_RATE // 1000
        if force or self._samples - utt.held_from >= hold:
            utt.end = utt.audio_end
            utt.speech_end = utt.paused_at
            self._utt = None
            self._close(utt)

    def _extend_open(self, until: int | None = None) -> None:
        utt = self._utt
        if utt is None:
            return
        end = self._samples if until is None else until
        if end > utt.audio_end:
            utt.buffer = np.concatenate([utt.buffer, self._slice(utt.audio_end, end)])

    def _partial_step(self) -> float:
        step = max(self.settings.partial_step_s, self.scheduler.partial_interval())
        backlog = self.scheduler.backlog_seconds()
        if backlog > 0.5:
            step *= 1.0 + backlog
        return min(self.settings.max_partial_step_s, step)

    def _maybe_partial(self) -> None:
        utt = self._utt
        if utt is None or utt.partial is not None:
            return
        if utt.pause_job is not None and not utt.pause_job.future.done():
            return  # a full-window pass is coming; it shows the words too
        if utt.paused_at is not None and not self.settings.partials_in_pause:
            return  # silence: nothing new to show, and the pause pass is due
        fresh = (utt.audio_end - max(utt.requested, utt.start)) / SAMPLE_RATE
        step = self._partial_step()
        if fresh < step:
            base = self.settings.partial_step_s
            if fresh >= base * (utt.skips_seen + 1):
                # an update was due at the normal pace but inference is behind
                utt.skips_seen += 1
                self._skipped += 1
            return
        utt.requested = utt.audio_end
        utt.skips_seen = 0
        s = self.settings
        anchor = (
            len(utt.buffer) / SAMPLE_RATE
            > (s.busy_trim_after_s if self.scheduler.waiting() else s.trim_after_s)
            and (utt.audio_end - max(utt.full_requested, utt.start)) / SAMPLE_RATE
            >= s.anchor_every_s
        )
        if anchor:
            utt.full_requested = utt.audio_end
        utt.partial = self.scheduler.submit(
            lambda: self._snapshot(utt, final=False, full=anchor), Priority.PARTIAL
        )
        utt.partial_task = self._spawn(self._run_partial(utt, utt.partial))

    def _maybe_pause_pass(self) -> None:
        """Silence began a moment ago: queue the full-window pass that may become the final."""
        utt = self._utt
        if utt is None or utt.paused_at is None or utt.pause_pass_for == utt.paused_at:
            return
        s = self.settings
        delay = s.pause_pass_busy_ms if self.scheduler.waiting() else s.pause_pass_ms
        if self._samples - utt.paused_at < delay * SAMPLE_RATE // 1000:
            return
        speech = (utt.paused_at - utt.first_sample) / SAMPLE_RATE - self.settings.vad.pad_ms / 1000
        if speech < self.settings.min_speech_s:
            return
        utt.pause_pass_for = utt.paused_at
        utt.full_requested = utt.audio_end
        if utt.partial is not None and not utt.partial.started:
            utt.partial.cancel()  # the full pass covers the same audio and more
            utt.partial = None
            utt.requested = -1
        if utt.pause_job is not None and not utt.pause_job.started:
            return  # still queued: it takes the latest audio when it starts
        utt.pause_job = self.scheduler.submit(
            lambda: self._snapshot(utt, final=True), Priority.FINAL
        )
        utt.pause_task = self._spawn(self._run_pause_pass(utt, utt.pause_job))

    def _snapshot(self, utt: _Utterance, final: bool, full: bool = False) -> PassInput | None:
        if not final and utt.closing:
            return None
        s = self.settings
        audio = utt.buffer.copy()
        window = None
        # in 5 s steps: few distinct shapes for the encoder to allocate for
        needed = 5.0 * math.ceil((len(audio) / SAMPLE_RATE + s.partial_window_margin_s) / 5.0)
        if not final and not full and s.partial_window_min_s > 0:
            window = max(s.partial_window_min_s, needed)
        elif final and s.busy_final_window_min_s > 0 and self.scheduler.waiting():
            window = max(s.busy_final_window_min_s, needed)
            if window < FULL_WINDOW_S:
                self.scheduler.metrics.finals_shortened += 1
        return PassInput(
            audio=audio,
            prompt=self._prompt(utt),
            language=self.language,
            beam_size=s.final_beam_size if final else s.partial_beam_size,
            window_s=window,
            start_sample=utt.start,
            hotwords=s.hotwords,
        )

    def new_answer(self) -> None:
        """A new question was shown: earlier finals no longer prompt the next utterance."""
        self._context = ""

    def _prompt(self, utt: _Utterance) -> str:
        """Earlier finals of this answer, then what this utterance committed before its buffer.

        The earlier text is left out when it looks like a repetition loop (one misheard
        word carried into every later utterance is the failure this guards against).
        """
        n = self.settings.context_chars
        context = self._context[-n:] if n > 0 else ""
        if context and _looping(context):
            context = ""
        return " ".join(p for p in (context, utt.policy.prompt(self._t(utt.start))) if p)

    def _absolute(self, utt: _Utterance, hyp: Hypothesis, buffer_start: int) -> list[Word]:
        t0 = self._t(buffer_start)
        return [Word(w.text, t0 + w.start, t0 + w.end, w.probability) for w in hyp.words]

    def _learn_language(self, utt: _Utterance, hyp: Hypothesis, final: bool) -> None:
        if hyp.language:
            utt.language = hyp.language
        long_enough = final or hyp.duration >= self.settings.detect_min_s
        if self.language is None and hyp.language and long_enough:
            self.language = hyp.language

    async def _result(self, job: PassJob) -> tuple[PassInput, Hypothesis] | None:
        """A pass's input and hypothesis; None if it was dropped, cancelled or failed."""
        try:
            return await job.future
        except asyncio.CancelledError:
            return None
        except Exception as exc:
            self._fail(exc)
            return None

    async def _run_partial(self, utt: _Utterance, job: PassJob) -> None:
        result = await self._result(job)
        if utt.partial is job:
            utt.partial = None
        if result is None:
            return
        inp, hyp = result
        self._insert(
            utt,
            hyp,
            inp.start_sample,
            inp.start_sample + len(inp.audio),
            commit=inp.window_s is None,
        )
        if not utt.closing:
            self._emit_partial(utt)
            if utt is self._utt:
                self._maybe_partial()

    async def _run_pause_pass(self, utt: _Utterance, job: PassJob) -> None:
        result = await self._result(job)
        if utt.pause_job is job:
            utt.pause_job = None
        if result is None:
            return
        inp, hyp = result
        start = inp.start_sample
        last_end = hyp.words[-1].end if hyp.words else 0.0
        utt.pause_pass = _Pass(
            start,
            start + len(inp.audio),
            self._absolute(utt, hyp, start),
            trailing_silence=len(inp.audio) / SAMPLE_RATE - last_end >= 0.1,
        )
        if utt.closing:
            self._learn_language(utt, hyp, final=True)
            utt.logprobs.append(hyp.avg_logprob)
            return
        self._insert(utt, hyp, start, start + len(inp.audio))
        self._emit_partial(utt)
        if utt is self._utt:
            self._maybe_partial()

    def _emit_partial(self, utt: _Utterance) -> None:
        words = [*utt.policy.committed, *utt.policy.tentative]
        if words:
            self._emit(
                TranscriptPartial(
                    interview_id=self.interview_id,
                    t=self._t(utt.audio_end),
                    utterance_id=utt.id,
                    text=utt.policy.text(),
                    words=_timings(words),
                    language=utt.language,
                )
            )

    def _insert(
        self,
        utt: _Utterance,
        hyp: Hypothesis,
        buffer_start: int,
        buffer_end: int,
        commit: bool = True,
    ) -> None:
        self._learn_language(utt, hyp, final=False)
        utt.logprobs.append(hyp.avg_logprob)
        utt.policy.insert(
            self._absolute(utt, hyp, buffer_start),
            self._t(buffer_start),
            self._t(buffer_end),
            commit=commit,
        )
        busy = self.settings.busy_trim_after_s if self.scheduler.waiting() else None
        cut = utt.policy.trim_point(self._t(utt.start), self._t(utt.audio_end), busy)
        if cut is not None:
            drop = min(len(utt.buffer), round((cut - self._t(utt.start)) * SAMPLE_RATE))
            if drop > 0:
                utt.buffer = utt.buffer[drop:]
                utt.start += drop

    def _close(self, utt: _Utterance) -> None:
        utt.closing = True
        previous = self._chain
        self._chain = self._spawn(self._finalize(utt, previous))

    async def _finalize(self, utt: _Utterance, previous: asyncio.Task[None] | None) -> None:
        assert utt.end is not None
        try:
            words = await self._final_words(utt)
        except Exception as exc:
            self._fail(exc)
            words = utt.policy.finish(None)
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        # Whisper invents words in silence; the VAD knows where speech stopped, so words that
        # begin well after that (in the trailing pad) are dropped from the final.
        speech_end = self._t(utt.end) - self.settings.vad.pad_ms / 1000
        all_words = [w for w in utt.policy.committed if w.start <= speech_end + TAIL_TOLERANCE_S]
        while all_words and all_words[-1].probability < TAIL_MIN_PROBABILITY:
            all_words.pop()  # a near-zero-probability tail is the same kind of invention
        if not all_words:
            return
        self.scheduler.metrics.finals_emitted += 1
        text = join_words(all_words)
        self._context = f"{self._context} {text}".strip()[-1000:]
        self._emit(
            TranscriptFinal(
                interview_id=self.interview_id,
                t=self._t(utt.end),
                utterance_id=utt.id,
                text=text,
                words=_timings(all_words),
                language=utt.language,
                avg_logprob=float(np.mean(utt.logprobs)) if utt.logprobs else 0.0,
                start=all_words[0].start,
                end=all_words[-1].end,
            )
        )
        del words

    async def _final_words(self, utt: _Utterance) -> list[Word]:
        assert utt.end is not None
        speech = (utt.end - utt.first_sample) / SAMPLE_RATE - 2 * self.settings.vad.pad_ms / 1000
        if utt.partial is not None and not utt.partial.started:
            utt.partial.cancel()
        if utt.pause_task is not None:
            # queued or running: a queued one snapshots the closed buffer, i.e. it is the final
            await asyncio.gather(utt.pause_task, return_exceptions=True)
        speech_end = utt.end if utt.speech_end is None else utt.speech_end
        done = utt.pause_pass
        if done is not None and done.end >= speech_end and done.trailing_silence:
            self.scheduler.metrics.finals_from_pause_pass += 1
            return utt.policy.finish_from(self._t(done.start), done.words)
        if utt.partial_task is not None:
            await asyncio.gather(utt.partial_task, return_exceptions=True)
        if speech < self.settings.min_speech_s and not utt.policy.committed:
            return []
        if self.scheduler.finals_full():
            self.scheduler.metrics.finals_degraded += 1
            self._report_backlog(force=True)
            return utt.policy.finish(None)
        result = await self.scheduler.submit(
            lambda: self._snapshot(utt, final=True), Priority.FINAL
        ).future
        if result is None:
            return utt.policy.finish(None)
        inp, hyp = result
        self._learn_language(utt, hyp, final=True)
        utt.logprobs.append(hyp.avg_logprob)
        start = inp.start_sample
        return utt.policy.finish_from(self._t(start), self._absolute(utt, hyp, start))

    def _fail(self, exc: BaseException) -> None:
        log.error("transcription pass failed", exc_info=exc)
        self._emit(
            AnalyzerFailed(
                interview_id=self.interview_id,
                t=self._t(self._samples),
                analyzer="asr",
                error=type(exc).__name__,
            )
        )

    def _maybe_report_backlog(self) -> None:
        pending = self.scheduler.backlog_seconds()
        if pending > self.settings.backlog_report_s:
            self._report_backlog()
        elif self._backlog_level and pending < self.settings.backlog_report_s / 2:
            self._backlog_level = 0  # caught up: the next backlog is reported again

    def _level(self, pending: float) -> int:
        """1 past the report threshold, then one more each time the backlog doubles."""
        limit = self.settings.backlog_report_s
        return 0 if pending <= limit else 1 + int(math.log2(pending / limit))

    def _report_backlog(self, force: bool = False) -> None:
        """Report a backlog when it starts or has doubled since the last report.

        Every report is stored and sent to every observer: a report every few seconds while
        a node is behind (1,130 of them beside 819 finals in one run) made the backlog
        worse. ``force`` (finals are degraded) reports at least the first level.
        """
        now = self._clock()
        pending = self.scheduler.backlog_seconds()
        level = max(self._level(pending), 1 if force else 0)
        if level <= self._backlog_level:
            return
        if not force and now - self._last_report < self.settings.backlog_report_every_s:
            return
        self._last_report = now
        self._backlog_level = level
        self.scheduler.metrics.backlog_reports += 1
        self.scheduler.metrics.partials_skipped = max(
            self.scheduler.metrics.partials_skipped, self._skipped
        )
        self._emit(
            TranscriptionBacklogged(
                interview_id=self.interview_id,
                t=self._t(self._samples),
                pending_seconds=round(pending, 3),
                skipped_partials=self._skipped,
            )
        )


def _timings(words: list[Word]) -> list[WordTiming]:
    return [
        WordTiming(
            word=w.text.strip(),
            start=round(w.start, 3),
            end=round(w.end, 3),
            probability=round(w.probability, 4),
        )
        for w in words
    ]
