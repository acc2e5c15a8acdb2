"""Feeds one candidate's live frames to the analyzers; what they find goes out as events.

Frames arrive on the event loop from the recorder's consumer. Nothing here blocks
it: audio frames are held until a tenth of a second has arrived (``AUDIO_BATCH_SECONDS``),
then resampled in one call and pushed to the transcriber, the record pass and the voice
analyzer in one block (per-frame calls cost a loop carrying eight interviews ~40 % of its
time, docs/operations.md); answer boundaries and the end of the media push what is held;
video frames are sampled by timestamp first and only the kept ones are decoded and
analysed on this interview's own worker thread, one at a time (a frame that
arrives while the previous one is still being analysed is skipped, never queued).
With facial analysis off, no video frame is sampled, decoded or analysed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av

from analysis.events import AnalyzerFailed, Event, TranscriptFinal
from analysis.vision import FaceAnalyzer, FrameSampler, create_face_analyzer
from analysis.voice import VoiceAnalyzer
from config.settings import FacialMode
from media.frames import AudioResampler16k, video_frame_to_rgb

log = logging.getLogger(__name__)

Emit = Callable[[Event], Awaitable[None]]

# Audio is analysed in blocks this long (a final may come this much later, at most).
AUDIO_BATCH_SECONDS = 0.1


class LiveAnalysis:
    """Per-interview analysis plumbing: transcription, voice and (by mode) face signals."""

    def __init__(
        self,
        interview_id: str,
        emit: Emit,
        clock: Callable[[], float],
        *,
        facial_mode: FacialMode,
        models_dir: Path,
        language: str,
        transcriber: Any = None,
        record: Any = None,
        face_fps: float = 5.0,
    ) -> None:
        self.interview_id = interview_id
        self._emit = emit
        self._clock = clock
        self.language = language
        self.face: FaceAnalyzer | None = create_face_analyzer(
            facial_mode,
            interview_id=interview_id,
            models_dir=models_dir,
        )
        self.sampler = FrameSampler(face_fps) if self.face is not None else None
        self.voice = VoiceAnalyzer(interview_id)
        self.transcriber = transcriber
        self.record = record  # analysis.asr.record.RecordTranscriber: the transcript of record
        self._resampler = AudioResampler16k()
        self._audio_t: float | None = None
        self._held: list[av.AudioFrame] = []  # frames not analysed yet (a block in the making)
        self._held_samples = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"face-{interview_id[:6]}")
        self._face_busy = False
        self._face_ready = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.frames_analyzed = 0
        self.frames_skipped = 0
        self._question: str | None = None

    async def start(self) -> None:
        """Load the face model on the worker thread (no-op when facial analysis is off)."""
        if self.face is not None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._pool, self.face.start)
                self._face_ready = True
            except Exception as exc:
                log.exception("face analyzer could not start")
                await self._emit(
                    AnalyzerFailed(
                        interview_id=self.interview_id,
                        t=self._clock(),
                        analyzer="face",
                        error=type(exc).__name__,
                    )
                )

    def sink(self, kind: str, frame: Any) -> None:
        """Take one media frame (called on the loop for every frame received)."""
        if kind == "audio":
            self._hold(frame)
        elif kind == "video" and self.face is not None and self._face_ready:
            self._video(frame)

    def audio_stopped(self) -> None:
        """The candidate's media ended (left, disconnected): what they said is finalized now."""
        self.push_held_audio()
        if self.transcriber is not None:
            try:
                self.transcriber.flush()
            except Exception:
                log.exception("transcriber could not finalize on disconnect")

    def new_segment(self) -> None:
        """A rejoin: audio restarts with a fresh resampler and clock anchor."""
        self.push_held_audio()
        self._resampler = AudioResampler16k()
        self._audio_t = None

    # -- audio ---------------------------------------------------------------

    def _hold(self, frame: av.AudioFrame) -> None:
        self._held.append(frame)
        self._held_samples += frame.samples
        if self._held_samples >= AUDIO_BATCH_SECONDS * (frame.sample_rate or 48000):
            self.push_held_audio()

    def push_held_audio(self) -> None:
        """Analyse the audio held so far now (a block is full, or a boundary came)."""
        held, self._held, self._held_samples = self._held, [], 0
        if held:
            self._audio(held)

    def _audio(self, frames: list[av.AudioFrame]) -> None:
        samples = self._resampler.convert_many(frames)
        if not len(samples):
            return
        now = self._clock()
        if self._audio_t is None or abs(now - self._audio_t) > 1.0:
            # First audio, or the sample count drifted far from the clock (a gap): re-anchor.
            self._audio_t = now - len(samples) / 16000
        t = self._audio_t
        self._audio_t = t + len(samples) / 16000
        self.voice.push_audio(samples, t)
        if self.record is not None:
            self.record.push_audio(samples, t)
        if self.transcriber is not None:
            try:
                self.transcriber.push_audio(samples, t)
            except Exception:
                log.exception("transcriber rejected audio")

    # -- video -----------------------------------------------------------------

    def _video(self, frame: av.VideoFrame) -> None:
        assert self.sampler is not None
        t = self._clock()
        if not self.sampler.keep(t):
            return
        if self._face_busy:
            self.frames_skipped += 1
            return
        self._face_busy = True
        task = asyncio.ensure_future(self._analyze(frame, t))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _analyze_sync(self, frame: av.VideoFrame, t: float) -> list[Event]:
        assert self.face is not None
        self.frames_analyzed += 1
        return self.face.push_frame(video_frame_to_rgb(frame), t)

    async def _analyze(self, frame: av.VideoFrame, t: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            events = await loop.run_in_executor(self._pool, self._analyze_sync, frame, t)
        finally:
            self._face_busy = False
        for event in events:
            await self._emit(event)

    # -- answers ---------------------------------------------------------------

    async def answer_started(self, question_id: str, question_text: str = "") -> None:
        """A question was shown: measures from now on belong to its answer."""
        self.push_held_audio()  # what came before the question is not its answer
        self._question = question_id
        if self.record is not None:
            self.record.answer_started(question_id, question_text)
        new_answer = getattr(self.transcriber, "new_answer", None)
        if new_answer is not None:
            new_answer()
        if self.face is not None and self._face_ready:
            t = self._clock()
            await asyncio.get_running_loop().run_in_executor(self._pool, self.face.start_answer, t)

    async def answer_ended(self, question_id: str) -> None:
        """The answer is over: emit the per-answer delivery summaries."""
        self.push_held_audio()
        if self.record is not None:
            self.record.answer_ended(question_id)
        if self._question != question_id:
            return
        self._question = None
        t = self._clock()
        await self._emit(self.voice.end_answer(question_id, self.language))
        if self.face is not None and self._face_ready:
            summary = await asyncio.get_running_loop().run_in_executor(
                self._pool, self.face.end_answer, question_id, t
            )
            await self._emit(summary)

    def words_heard(self, final: TranscriptFinal) -> None:
        """Recognised words feed the voice measures (speaking rate, fillers)."""
        self.voice.push_words(final.words)

    async def aclose(self) -> None:
        """Stop analysing; release the face model on its own thread."""
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        if self.face is not None:
            with contextlib.suppress(Exception):
                await asyncio.get_running_loop().run_in_executor(self._pool, self.face.close)
        self._pool.shutdown(wait=False)
