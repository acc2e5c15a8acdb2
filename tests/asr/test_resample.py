"""48 kHz stereo s16 frames (as aiortc delivers them) become 16 kHz mono float32."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from media.frames import AudioResampler16k, frame_time


def stereo_frames(seconds: float, freq: float = 440.0) -> list[av.AudioFrame]:
    rate, size = 48_000, 960  # 20 ms, the Opus frame aiortc decodes
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    frames = []
    for i in range(0, len(tone) - size + 1, size):
        chunk = tone[i : i + size]
        interleaved = np.stack([chunk, chunk], axis=1).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(interleaved, format="s16", layout="stereo")
        frame.sample_rate = rate
        frame.pts = i
        frame.time_base = Fraction(1, rate)
        frames.append(frame)
    return frames


def test_frames_become_16k_mono_float32_of_the_same_duration() -> None:
    resampler = AudioResampler16k()
    frames = stereo_frames(1.0)
    out = np.concatenate([resampler.convert(f) for f in frames] + [resampler.flush()])
    assert out.dtype == np.float32
    assert abs(len(out) - 16_000) <= 64
    assert 0.4 < float(np.abs(out).max()) <= 1.0
    spectrum = np.abs(np.fft.rfft(out[:16_000] if len(out) >= 16_000 else out))
    peak_hz = np.argmax(spectrum) * 16_000 / (2 * (len(spectrum) - 1))
    assert abs(peak_hz - 440) < 5
    assert frame_time(frames[25]) == 0.5
