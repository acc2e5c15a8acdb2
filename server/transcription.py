"""Live transcription: one shared model and scheduler, one stream per interview.

The interview's session reads each stream's events (server/session.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from analysis.asr.engine import Transcriber
from analysis.asr.scheduler import AsrScheduler
from analysis.asr.stream import StreamingTranscriber, StreamSettings
from analysis.asr.vad import VadSettings
from config.settings import Settings

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 30.0


class Transcribers:
    """Creates the Whisper engine on first use (model load happens off the loop)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.scheduler: AsrScheduler | None = None
        self._streams: dict[str, StreamingTranscriber] = {}
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

    async def open(self, interview_id: str, language: str) -> StreamingTranscriber:
        """A stream for one interview; its owner reads ``events()`` until it closes."""
        scheduler = await self._ensure_scheduler()
        asr = self.settings.asr
        stream = StreamingTranscriber(
            interview_id,
            scheduler,
            StreamSettings(
                vad=VadSettings(min_silence_ms=asr.min_silence_ms),
                language=asr.language or language,
                final_beam_size=asr.final_beam_size,
                partial_beam_size=asr.partial_beam_size,
            ),
            vad_session=self._vad_session,
        )
        self._streams[interview_id] = stream
        return stream

    async def close(self, interview_id: str) -> None:
        """Finish an interview's stream: every utterance still open becomes a final."""
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
            **self.scheduler.metrics.snapshot(),
        }

    async def aclose(self) -> None:
        """Stop all streams and the workers."""
        for stream in self._streams.values():
            stream.end_input()
        self._streams.clear()
        if self.scheduler is not None:
            await self.scheduler.aclose()
            self.scheduler = None
