"""The recorder encodes copies: frames shared with observers and analyzers stay untouched."""

from __future__ import annotations

import io
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from media.crypto import EncryptedReader, MasterKey
from media.recorder import SegmentRecorder, finalize_recording


def test_recorded_frames_are_not_modified_and_the_segment_plays(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    path = tmp_path / "seg.cnd"
    rec = SegmentRecorder(path, master, with_audio=True, with_video=True)
    rec.start()
    frames = []
    for i in range(45):  # 3 s at 15 fps, with audio
        img = np.full((240, 320, 3), i * 5 % 255, np.uint8)
        v = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        v.pts, v.time_base = 123_456 + i * 6000, Fraction(1, 90000)
        frames.append(v)
        rec.push(v)
        for j in range(2):
            pcm = (np.sin(np.arange(960) / 10) * 8000).astype(np.int16).reshape(1, -1)
            a = av.AudioFrame.from_ndarray(np.repeat(pcm, 2, axis=1), format="s16", layout="stereo")
            a.sample_rate, a.pts, a.time_base = 48000, (i * 2 + j) * 960, Fraction(1, 48000)
            rec.push(a)
    rec.close()
    assert rec.error is None
    assert [f.pts for f in frames] == [123_456 + i * 6000 for i in range(45)]
    result = finalize_recording(path, master)
    assert 2.5 < result.duration < 3.5
    with av.open(io.BytesIO(EncryptedReader(path, master).read_all()), "r") as c:
        assert sum(1 for _ in c.decode(c.streams.video[0])) >= 40
