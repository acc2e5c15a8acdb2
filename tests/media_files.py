"""Real speech for tests: from ../shared/data when present, else spoken by espeak-ng."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av

from tests.conftest import SHARED_DATA


def speech_file(tmp_path: Path) -> Path:
    """A file of real speech (JFK, 11 s) or, without ../shared, an espeak-ng phrase."""
    jfk = SHARED_DATA / "en" / "jfk.flac"
    if jfk.exists():
        return jfk
    if shutil.which("espeak-ng") is None:
        import pytest

        pytest.skip("neither ../shared/data nor espeak-ng is available")
    out = tmp_path / "speech.wav"
    text = "And so my fellow Americans, ask not what your country can do for you."
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(out), text], check=True)
    return out


def duration_of(path: Path, kind: str = "audio") -> float:
    """Duration in seconds of the first stream of ``kind``, counting decoded samples/frames."""
    with av.open(str(path)) as c:
        stream = next(s for s in c.streams if s.type == kind)
        total = 0.0
        for frame in c.decode(stream):
            if kind == "audio":
                total += frame.samples / frame.sample_rate
        return total
