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
    spoken = tmp_path / "spoken.wav"
    text = "And so my fellow Americans, ask not what your country can do for you."
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(spoken), text], check=True)
    # A pause at the end, as people make: it ends the utterance when a browser loops the file.
    out = tmp_path / "speech.wav"
    subprocess.run(["sox", str(spoken), str(out), "pad", "0", "2"], check=True)
    return out


def duration_of(path: Path) -> float:
    """Duration in seconds of the first audio stream, counting decoded samples."""
    with av.open(str(path)) as c:
        return sum(f.samples / f.sample_rate for f in c.decode(c.streams.audio[0]))


def to_wav(src: Path, out: Path, rate: int = 48000) -> Path:
    """Decode any audio file to 16-bit mono WAV (what Chromium's fake microphone reads)."""
    with av.open(str(src)) as inp, av.open(str(out), "w", format="wav") as dst:
        stream = dst.add_stream("pcm_s16le", rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for frame in inp.decode(audio=0):
            for f in resampler.resample(frame):
                for p in stream.encode(f):
                    dst.mux(p)
        for p in stream.encode(None):
            dst.mux(p)
    return out


def fake_camera_y4m(tmp_path: Path, seconds: float = 4.0, size: int = 320) -> Path:
    """A Y4M clip for Chromium's fake camera: a real face from ../shared when present."""
    import numpy as np

    out = tmp_path / "camera.y4m"
    src = SHARED_DATA / "video" / "liveportrait_d10.mp4"
    with av.open(str(out), "w", format="yuv4mpegpipe") as dst:
        stream = dst.add_stream("rawvideo", rate=15)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        n = int(seconds * 15)
        frames = []
        if src.exists():
            with av.open(str(src)) as inp:
                for i, frame in enumerate(inp.decode(video=0)):
                    if i % 2 == 0:
                        frames.append(frame.reformat(width=size, height=size, format="yuv420p"))
                    if len(frames) >= n:
                        break
        else:
            x = np.linspace(0, 255, size, dtype=np.float32)
            for i in range(n):
                row = ((x + i * 7) % 256).astype(np.uint8)
                img = np.repeat(np.repeat(row[None, :, None], size, axis=0), 3, axis=2)
                frames.append(
                    av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
                )
        for i, frame in enumerate(frames):
            frame.pts = i
            for p in stream.encode(frame):
                dst.mux(p)
        for p in stream.encode(None):
            dst.mux(p)
    return out
