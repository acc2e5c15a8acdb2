"""Live transcription: one shared model and scheduler, one stream per interview.

The interview's session reads each stream's events (server/session.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from analysis.asr.engine import Transcriber
from analysis.asr.record import RecordTranscriber, hotwords
from analysis.asr.scheduler import AsrScheduler
from analysis.asr.stream import StreamingTranscriber, StreamSettings
from analysis.asr.vad import VadSettings
from analysis.events import Event
from config.settings import Settings

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 30.0
RECORD_DRAIN_TIMEOUT = 60.0  # on shutdown; a pass not done by then is left to live finals


class Transcribers:
    """Creates the Whisper engine on first use (model load happens off the loop)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.scheduler: AsrScheduler | None = None
        self._streams: dict[str, StreamingTranscriber] = {}
        self._records: dict[str, RecordTranscriber] = {}
        self._finishing: set[RecordTranscriber] = set()
        self._lock = asyncio.Lock()
        self._vad_session: Any = None  # one Silero session for every stream (state is per stream)

    async def preload(self) -> AsrScheduler:
        """Load the model ahead of time so the first candidate does not wait."""
        return await self._ensure_scheduler()

    async def _ensure_scheduler(self) -> AsrScheduler:
        async with self._lock:
            if self.scheduler is None:
                asr = self.settings.asr
                engine: Transcriber
                record_engine: Transcriber | None = None
                if asr.mode == "redis":
                    # passes run on `run.py worker` processes; workers = passes in flight
                    from analysis.asr.remote import RedisEngine

                    remote = RedisEngine.from_settings(self.settings)
                    await asyncio.to_thread(remote.start)
                    engine = remote
                else:
                    from analysis.asr.engine import WhisperEngine

                    local = await asyncio.to_thread(
                        WhisperEngine.from_settings, asr, self.settings.models_dir
                    )
                    await asyncio.to_thread(local.load)
                    engine = local
                    if asr.record and asr.record_background and asr.device == "cpu":
                        record_engine = local.twin()  # loads in the record thread
                self.scheduler = AsrScheduler(
                    engine, workers=asr.workers, record_engine=record_engine,
                    record_batch=asr.record_batch, final_batch=asr.final_batch,
                )
                await self.scheduler.start()
            if self._vad_session is None:
                from analysis.asr.vad import load_silero_session

                self._vad_session = await asyncio.to_thread(load_silero_session)
            return self.scheduler

    async def open(
        self,
        interview_id: str,
        language: str,
        *,
        vocabulary: list[str] | None = None,
        emit: Callable[[Event], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> StreamingTranscriber:
        """A stream for one interview; its owner reads ``events()`` until it closes.

        With ``emit`` and ``clock``, a ``RecordTranscriber`` (``recorder(interview_id)``)
        keeps each answer's audio and runs its transcript-of-record pass when the answer
        ends; its ``TranscriptRecord`` events go to ``emit`` (the event log), also after the
        session closed.
        """
        scheduler = await self._ensure_scheduler()
        asr = self.settings.asr
        terms = list(vocabulary or [])
        if asr.record and emit is not None and clock is not None:
            self._records[interview_id] = RecordTranscriber(
                interview_id,
                scheduler,
                emit,
                language=asr.language or language,
                clock=clock,
                vocabulary=terms,
            )
        stream = StreamingTranscriber(
            interview_id,
            scheduler,
            StreamSettings(
                vad=VadSettings(min_silence_ms=asr.min_silence_ms),
                language=asr.language or language,
                final_beam_size=asr.final_beam_size,
                partial_beam_size=asr.partial_beam_size,
                hotwords=hotwords(terms),
            ),
            vad_session=self._vad_session,
        )
        self._streams[interview_id] = stream
        return stream

    def recorder(self, interview_id: str) -> RecordTranscriber | None:
        """The record-pass keeper of an open interview."""
        return self._records.get(interview_id)

    async def close(self, interview_id: str) -> None:
        """Finish an interview's stream: every utterance still open becomes a final.

        An answer still open gets its record pass now; the pass outlives the session
        (awaited on shutdown).
        """
        record = self._records.pop(interview_id, None)
        if record is not None:
            record.finish()
            self._finishing.add(record)
            self._finishing = {r for r in self._finishing if r.pending}
        stream = self._streams.pop(interview_id, None)
        if stream is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await stream.aclose()
        except TimeoutError:
            log.warning("transcription did not finish in time; pending finals dropped")
            stream.end_input()

    def metrics(self) -> dict[str, Any]:
        """Counters for the metrics endpoint."""
        if self.scheduler is None:
            return {"loaded": False, "streams": 0}
        return {
            "loaded": True,
            "streams": len(self._streams),
            "backlog_seconds": self.scheduler.backlog_seconds(),
            "record_passes_pending": sum(
                r.pending for r in [*self._records.values(), *self._finishing]
            ),
            **self.scheduler.metrics.snapshot(),
        }

    async def aclose(self) -> None:
        """Stop all streams and the workers."""
        for stream in self._streams.values():
            stream.end_input()
        self._streams.clear()
        records = [*self._records.values(), *self._finishing]
        for record in records:
            record.finish()
        await asyncio.gather(*(r.drain(RECORD_DRAIN_TIMEOUT) for r in records))
        self._records.clear()
        self._finishing.clear()
        if self.scheduler is not None:
            await self.scheduler.aclose()
            self.scheduler = None
