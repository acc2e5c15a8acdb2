"""Fixtures for the transcription tests: one model per session, speech clips."""

from __future__ import annotations

import csv
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from analysis.asr.engine import WhisperEngine
from analysis.asr.model_files import prepare_whisper_base

PHRASE = "Ask not what your country can do for you."


def load_audio(path: Path) -> np.ndarray:
    """Any audio file as 16 kHz mono float32."""
    from faster_whisper.audio import decode_audio

    return np.asarray(decode_audio(str(path), sampling_rate=16_000), dtype=np.float32)


def references(shared: Path) -> dict[str, str]:
    """file → reference text from transcripts.tsv."""
    with (shared / "transcripts.tsv").open(encoding="utf-8") as f:
        return {row["file"]: row["reference"] for row in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="session")
def whisper_engine(models_dir: Path) -> WhisperEngine:
    """The bundled Whisper base, prepared and loaded once for the whole session."""
    engine = WhisperEngine(prepare_whisper_base(models_dir), cpu_threads=2)
    engine.load()
    return engine


@pytest.fixture(scope="session")
def espeak_speech(tmp_path_factory: pytest.TempPathFactory) -> Iterator[np.ndarray]:
    """A short English phrase spoken by espeak-ng (works without ../shared/data)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path_factory.mktemp("espeak") / "phrase.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-s", "140", "-w", str(wav), PHRASE], check=True)
    yield load_audio(wav)
