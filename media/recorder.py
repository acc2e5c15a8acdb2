"""Record a candidate's audio and video into an encrypted MP4 segment.

Frames arrive on the event loop and are handed to one thread per recording,
which encodes (H.264 + AAC), muxes a fragmented MP4 (playable even if the
process dies mid-way) and encrypts it as it is written. ``finalize()`` remuxes
the stream into a regular MP4 with the index at the front, so every browser can
seek it, and encrypts that under a fresh key.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from media.crypto import EncryptedReader, EncryptedWriter, MasterKey, read_unclosed

log = logging.getLogger(__name__)

AUDIO_RATE = 48000
VIDEO_TB = Fraction(1, 90000)
SEAL_EVERY = 1.0  # seconds between sealed chunks of the live file
MAX_BACKLOG = 600  # frames; beyond this the recorder drops video first (never audio)


@dataclass(frozen=True)
class RecordingResult:
    """What a finished segment holds."""

    path: Path
    duration: float
    size: int


class _Sink:
    """Mutable state owned by the recorder thread."""

    def __init__(self, writer: EncryptedWriter) -> None:
        self.writer = writer
        self.container: Any = None
        self.audio: Any = None
        self.video: Any = None
        self.audio_next = 0  # next output sample index
        self.last_video_pts = -1
        self.pending_audio: list[tuple[float, Any]] = []


class SegmentRecorder:
    """Encodes frames of one segment on a background thread.

    ``t0`` is the monotonic time the segment started: each frame is placed at
    (arrival of its track's first frame - t0) + its own media-clock offset.
    """

    def __init__(
        self, path: Path, master: MasterKey, *, with_audio: bool, with_video: bool
    ) -> None:
        self.path = path
        self._master = master
        self._with_audio = with_audio
        self._with_video = with_video
        self._queue: queue.Queue[tuple[str, Any, float] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._first: dict[str, tuple[int, float]] = {}
        self.frames_in = 0
        self.dropped = 0
        self.error: BaseException | None = None

    def start(self) -> None:
        """Open the encrypted file and start the encoder thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._t0 = time.monotonic()
        writer = EncryptedWriter(self.path, self._master, framed=True)
        self._thread = threading.Thread(
            target=self._run, args=(writer,), name=f"recorder-{self.path.stem}", daemon=True
        )
        self._thread.start()

    def push(self, frame: Any) -> None:
        """Queue an aiortc/PyAV frame (audio or video); never blocks the caller."""
        kind = "audio" if isinstance(frame, av.AudioFrame) else "video"
        now = time.monotonic()
        if kind not in self._first:
            self._first[kind] = (frame.pts or 0, now - self._t0)
        first_pts, offset = self._first[kind]
        t = offset + float(((frame.pts or 0) - first_pts) * frame.time_base)
        if kind == "video" and self._queue.qsize() > MAX_BACKLOG:
            self.dropped += 1
            return
        self.frames_in += 1
        self._queue.put((kind, frame, t))

    def close(self, timeout: float = 30.0) -> None:
        """Drain the queue and close the stream (the file stays fragmented MP4)."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    # -- recorder thread -------------------------------------------------

    def _run(self, writer: EncryptedWriter) -> None:
        sink = _Sink(writer)
        sealed_at = time.monotonic()
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                if time.monotonic() - sealed_at >= SEAL_EVERY:
                    # Seal what the muxer wrote so far: a crash now loses about a second.
                    writer.seal()
                    sealed_at = time.monotonic()
                kind, frame, t = item
                try:
                    if kind == "audio" and self._with_audio:
                        self._audio(sink, frame, t)
                    elif kind == "video" and self._with_video:
                        self._video(sink, frame, t)
                except Exception as exc:  # a bad frame must not end the recording
                    log.warning("recorder skipped a frame", extra={"error": repr(exc)})
        except BaseException as exc:
            self.error = exc
            log.exception("recorder thread failed")
        finally:
            self._finish(sink)

    def _open(self, sink: _Sink, width: int, height: int) -> None:
        options = {
            "movflags": "frag_keyframe+empty_moov+default_base_moof",
            "frag_duration": "1000000",
        }
        sink.container = av.open(sink.writer, mode="w", format="mp4", options=options)
        if self._with_video:
            v = sink.container.add_stream("libx264", rate=30)
            v.width, v.height = width, height
            v.pix_fmt = "yuv420p"
            v.time_base = VIDEO_TB
            v.codec_context.time_base = VIDEO_TB
            v.codec_context.gop_size = 60
            v.options = {"preset": "veryfast", "tune": "zerolatency", "crf": "28"}
            sink.video = v
        if self._with_audio:
            a = sink.container.add_stream("aac", rate=AUDIO_RATE)
            a.layout = "mono"
            a.bit_rate = 64000
            sink.audio = a

    def _audio(self, sink: _Sink, frame: Any, t: float) -> None:
        if sink.container is None:
            if self._with_video and len(sink.pending_audio) < 150:
                sink.pending_audio.append((t, frame))  # wait up to ~3 s for the video size
                return
            self._open(sink, 640, 480)
        self._flush_pending(sink)
        self._audio_one(sink, frame, t)

    def _flush_pending(self, sink: _Sink) -> None:
        pending, sink.pending_audio = sink.pending_audio, []
        for pt, pf in pending:
            self._audio_one(sink, pf, pt)

    def _audio_one(self, sink: _Sink, frame: Any, t: float) -> None:
        pcm = frame.to_ndarray()
        if frame.format.is_planar:
            samples = pcm.astype(np.float32).mean(axis=0)
        else:
            chans = len(frame.layout.channels)
            samples = pcm.reshape(-1, chans).astype(np.float32).mean(axis=1)
        if frame.format.name.startswith("s16"):
            samples = samples / 32768.0
        target = round(t * AUDIO_RATE)
        gap = target - sink.audio_next
        if gap > AUDIO_RATE // 10:  # missing audio (loss, late start): fill with silence
            self._encode_audio(sink, np.zeros(gap, np.float32))
        elif gap < -AUDIO_RATE // 5:  # far behind the clock: drop the overlap
            skip = min(-gap, len(samples))
            samples = samples[skip:]
        if len(samples):
            self._encode_audio(sink, samples)

    def _encode_audio(self, sink: _Sink, samples: np.ndarray) -> None:
        out = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        out.sample_rate = AUDIO_RATE
        out.pts = sink.audio_next
        out.time_base = Fraction(1, AUDIO_RATE)
        sink.audio_next += len(samples)
        for packet in sink.audio.encode(out):
            sink.container.mux(packet)

    def _video(self, sink: _Sink, frame: Any, t: float) -> None:
        if sink.container is None:
            self._open(sink, max(2, frame.width // 2 * 2), max(2, frame.height // 2 * 2))
            self._flush_pending(sink)
        pts = round(t / VIDEO_TB)
        if pts <= sink.last_video_pts:
            return
        v = sink.video
        # The frame is shared with the observers' relay and the analyzers: never change it.
        # Work on a copy (reformat returns the same object when nothing needs converting).
        out = frame.reformat(width=v.width, height=v.height, format="yuv420p")
        if out is frame:
            out = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        frame = out
        frame.pts = pts
        frame.time_base = VIDEO_TB
        sink.last_video_pts = pts
        for packet in v.encode(frame):
            sink.container.mux(packet)

    def _finish(self, sink: _Sink) -> None:
        try:
            if sink.container is None and sink.pending_audio:
                self._open(sink, 640, 480)
            if sink.container is not None:
                self._flush_pending(sink)
            if sink.container is not None:
                for stream in (sink.video, sink.audio):
                    if stream is not None:
                        for packet in stream.encode(None):
                            sink.container.mux(packet)
                sink.container.close()
        except Exception:
            log.exception("recorder could not flush the last frames")
        finally:
            sink.writer.close()


def _remux_to_faststart(data: bytes) -> tuple[bytes, float]:
    """A regular MP4 from a fragmented one (index at the end; browsers fetch it by Range)."""
    src = av.open(io.BytesIO(data), mode="r")
    out_buf = io.BytesIO()
    dst = av.open(out_buf, mode="w", format="mp4")
    mapping = {}
    for stream in src.streams:
        if stream.type in ("audio", "video"):
            mapping[stream.index] = dst.add_stream_from_template(stream)
    end = 0.0
    for packet in src.demux(*[s for s in src.streams if s.index in mapping]):
        if packet.dts is None:
            continue
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        packet.stream = mapping[packet.stream.index]
        dst.mux(packet)
    dst.close()
    src.close()
    return out_buf.getvalue(), end


def finalize_recording(path: Path, master: MasterKey, *, unclosed: bool = False) -> RecordingResult:
    """Remux a closed (or crash-cut, with ``unclosed``) segment into a seekable encrypted MP4."""
    data = read_unclosed(path, master) if unclosed else EncryptedReader(path, master).read_all()
    if not data:
        raise ValueError("recording is empty")
    try:
        final, duration = _remux_to_faststart(data)
    except Exception:
        log.exception("remux failed; keeping the fragmented stream")
        final, duration = data, 0.0
    tmp = path.with_suffix(".final.tmp")
    if tmp.exists():
        tmp.unlink()
    writer = EncryptedWriter(tmp, master)
    writer.write(final)
    writer.close()
    os.replace(tmp, path)
    return RecordingResult(path=path, duration=duration, size=len(final))
