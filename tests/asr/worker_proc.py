"""A transcription worker process for the Redis tests: real model, or one that hangs."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import numpy as np

from analysis.asr.engine import Hypothesis
from analysis.asr.redis_worker import run_worker
from config.settings import AsrSettings, Settings
from tests.asr.fakes import FakeTranscriber


class HangingTranscriber(FakeTranscriber):
    """Signals that it got a job, then never finishes (the test kills the process)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def hear(
        self, audio: np.ndarray, *, language: str | None, beam_size: int, window_s: float | None
    ) -> Hypothesis:
        self.marker.write_text("busy")
        while True:
            time.sleep(1)

    def transcribe_long(
        self, audio: np.ndarray, prompt: str = "", language: str | None = None,
        beam_size: int = 5, hotwords: str = "",
    ) -> Hypothesis:
        return self.transcribe(audio, prompt, language, beam_size)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["hang", "real"], required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--claim-idle-ms", type=int, default=1000)
    parser.add_argument("--marker", type=Path, default=Path("/dev/null"))
    parser.add_argument("--models-dir", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings(
        models_dir=args.models_dir,
        asr=AsrSettings(
            redis_stream=args.stream,
            redis_group=args.group,
            claim_idle_ms=args.claim_idle_ms,
            final_beam_size=1,
        ),
    )
    factory = (lambda: HangingTranscriber(args.marker)) if args.mode == "hang" else None
    asyncio.run(run_worker(settings, asyncio.Event(), factory))


if __name__ == "__main__":
    main()
