"""Live transcription for rooms: one shared model and scheduler, one stream per interview."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from analysis.asr.engine import Transcriber
from analysis.asr.scheduler import AsrScheduler
from analysis.asr.stream import StreamingTranscriber, StreamSettings, TranscriptionEvent
from analysis.asr.vad import VadSettings
from analysis.events import TranscriptFinal, TranscriptPartial
from config.settings import Settings

if TYPE_CHECKING:
    from server.live import LiveRoom

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 30.0


class Transcribers:
    """Creates the Whisper engine on first use (model load happens off the loop)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.scheduler: AsrScheduler | None = None
        self._streams: dict[str, tuple[StreamingTranscriber, asyncio.Task[None]]] = {}
        self._lock = asyncio.Lock()
        self._vad_session: Any = None  # one Silero session for every stream (state is per stream)

    def preload(self) -> asyncio.Task[Any]:
        """Load the model in the background so the first candidate does not wait."""
        return asyncio.create_task(self._ensure_scheduler(), name="asr-preload")

    async def _ensure_scheduler(self) -> AsrScheduler:
        async with self._lock:
            if self.scheduler is None:
                asr = self.settings.asr
                engine: Transcriber
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
                self.scheduler = AsrScheduler(engine, workers=asr.workers)
                await self.scheduler.start()
            if self._vad_session is None:
                from analysis.asr.vad import load_silero_session

                self._vad_session = await asyncio.to_thread(load_silero_session)
            return self.scheduler

    async def open(self, room: LiveRoom, language: str) -> StreamingTranscriber:
        """A stream for ``room``; its events flow back into the room in order."""
        scheduler = await self._ensure_scheduler()
        asr = self.settings.asr
        stream = StreamingTranscriber(
            room.interview_id,
            scheduler,
            StreamSettings(
                vad=VadSettings(min_silence_ms=asr.min_silence_ms),
                language=asr.language or language,
                final_beam_size=asr.final_beam_size,
                partial_beam_size=asr.partial_beam_size,
            ),
            vad_session=self._vad_session,
        )
        task = asyncio.create_task(self._forward(room, stream), name="transcript-forward")
        self._streams[room.interview_id] = (stream, task)
        return stream

    async def _forward(self, room: LiveRoom, stream: StreamingTranscriber) -> None:
        speaking: set[str] = set()
        async for event in stream.events():
            try:
                await self._deliver(room, event, speaking)
            except Exception:
                log.exception("could not deliver a transcription event")

    async def _deliver(
        self, room: LiveRoom, event: TranscriptionEvent, speaking: set[str]
    ) -> None:
        from analysis.interview.commands import SpeechStarted, SpeechStopped

        interviewer = room.interviewer
        if isinstance(event, TranscriptPartial):
            if event.utterance_id not in speaking:
                speaking.add(event.utterance_id)
                if interviewer is not None:
                    at = event.words[0].start if event.words else event.t
                    await interviewer.handle(SpeechStarted(at=at))
            await room.emit(event)
        elif isinstance(event, TranscriptFinal):
            if interviewer is not None and event.utterance_id not in speaking:
                await interviewer.handle(SpeechStarted(at=event.start))
            speaking.discard(event.utterance_id)
            if room.analysis is not None:
                room.analysis.words_heard(event)
            await room.transcript_final(event)
            if interviewer is not None:
                await interviewer.handle(SpeechStopped(at=event.end))
        else:
            await room.emit(event)

    async def close(self, room: LiveRoom) -> None:
        """Finish the room's stream: every utterance still open becomes a final."""
        entry = self._streams.pop(room.interview_id, None)
        if entry is None:
            return
        stream, task = entry
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await stream.aclose()
                await task
        except TimeoutError:
            log.warning("transcription did not finish in time; pending finals dropped")
            task.cancel()

    def metrics(self) -> dict[str, Any]:
        """Counters for the metrics endpoint."""
        if self.scheduler is None:
            return {"loaded": False, "streams": 0}
        return {
            "loaded": True,
            "streams": len(self._streams),
            "backlog_seconds": self.scheduler.backlog_seconds(),
            **self.scheduler.metrics.snapshot(),
        }

    async def aclose(self) -> None:
        """Stop all streams and the workers."""
        for stream, task in list(self._streams.values()):
            stream.end_input()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._streams.clear()
        if self.scheduler is not None:
            await self.scheduler.aclose()
            self.scheduler = None
