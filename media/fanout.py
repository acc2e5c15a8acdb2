"""Encode the candidate's media once per interview and hand the same packets to every observer.

aiortc's ``RTCRtpSender`` encodes every decoded frame it is given, once per sender: with
``MediaRelay`` proxies each observer cost a VP8 and an Opus encoder (about 13 % of a core
per observer at 640x480). A sender also accepts already-encoded ``av.Packet``s from its
track: it then only packetizes them (``Encoder.pack``). So one :class:`EncodedFanout` per
kind encodes the candidate's frames once, and each observer's :class:`EncodedTrack` yields
the same packets; an extra observer costs RTP packetization, SRTP and UDP, not an encoder.

Keyframes: a new subscriber (and an observer's PLI/FIR, see ``media.observer_peer``) asks for
one; requests are merged (at most one per ``KEYFRAME_MIN_GAP``) and the encoder also makes
one every ``KEYFRAME_EVERY`` seconds, so a lost picture heals even without a request. A new
track yields nothing before its first keyframe (a decoder cannot start on a delta frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

log = logging.getLogger(__name__)


VIDEO_BITRATE = 600_000
KEYFRAME_EVERY = 3.0  # seconds: bounds how long a picture lost without a PLI stays broken
KEYFRAME_MIN_GAP = 0.5  # seconds: many observers' PLIs at once make one keyframe
TRACK_QUEUE = 60  # packets (2 s of video); a slower observer drops, then waits for a keyframe
AUDIO_RATE = 48000
OPUS_SAMPLES = 960  # 20 ms, what WebRTC expects per Opus packet


class _VideoEncoder:
    """VP8 with aiortc's real-time settings; one instance per fan-out."""

    def __init__(self) -> None:
        self._codec: Any = None
        self._size = (0, 0)

    def encode(self, frame: Any, keyframe: bool) -> list[Any]:
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        if self._codec is None or self._size != (frame.width, frame.height):
            self._open(frame.width, frame.height)
            keyframe = True
        kinds = av.video.frame.PictureType
        frame.pict_type = kinds.I if keyframe else kinds.NONE
        packets = list(self._codec.encode(frame))
        for packet in packets:
            packet.pts, packet.time_base = frame.pts, frame.time_base
        return packets

    def _open(self, width: int, height: int) -> None:
        codec: Any = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height = width, height
        codec.bit_rate = VIDEO_BITRATE
        codec.pix_fmt = "yuv420p"
        codec.gop_size = 3000  # keyframes are asked for explicitly (see module docstring)
        codec.qmin, codec.qmax = 2, 56
        codec.options = {
            "bufsize": str(VIDEO_BITRATE),
            "cpu-used": "-6",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "minrate": str(VIDEO_BITRATE),
            "maxrate": str(VIDEO_BITRATE),
            "noise-sensitivity": "4",
            "overshoot-pct": "15",
            "partitions": "0",
            "static-thresh": "1",
            "undershoot-pct": "100",
        }
        codec.thread_count = 1
        self._codec, self._size = codec, (width, height)


class _AudioEncoder:
    """Opus, 48 kHz stereo, 20 ms packets (every Opus packet is a keyframe)."""

    def __init__(self) -> None:
        codec: Any = av.CodecContext.create("libopus", "w")
        codec.bit_rate = 64000
        codec.format = "s16"
        codec.layout = "stereo"
        codec.sample_rate = AUDIO_RATE
        codec.time_base = fractions.Fraction(1, AUDIO_RATE)
        codec.options = {"application": "voip"}
        self._codec = codec
        self._resampler = av.AudioResampler(
            format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=OPUS_SAMPLES
        )

    def encode(self, frame: Any, keyframe: bool) -> list[Any]:
        packets: list[Any] = []
        for chunk in self._resampler.resample(frame):
            packets.extend(self._codec.encode(chunk))
        for packet in packets:
            packet.time_base = fractions.Fraction(1, AUDIO_RATE)
        return packets


class EncodedTrack(MediaStreamTrack):
    """One observer's view of a fan-out: ``recv()`` yields the shared encoded packets."""

    def __init__(self, fanout: EncodedFanout) -> None:
        super().__init__()
        self.kind = fanout.kind
        self._fanout = fanout
        self._queue: asyncio.Queue[av.Packet[Any] | None] = asyncio.Queue(TRACK_QUEUE)
        self._waiting_key = fanout.kind == "video"
        self.dropped = 0

    def offer(self, packet: av.Packet[Any] | None) -> None:
        """Queue one packet (None: the source ended); never blocks the fan-out."""
        if packet is None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)
            return
        if self._waiting_key:
            if not packet.is_keyframe:
                return
            self._waiting_key = False
        if self._queue.full():
            # A slow observer: drop what is queued and restart at the next keyframe.
            while not self._queue.empty():
                self._queue.get_nowait()
                self.dropped += 1
            if self.kind == "video":
                self._waiting_key = not packet.is_keyframe
                if self._waiting_key:
                    self._fanout.request_keyframe()
                    return
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet[Any]:
        """The next encoded packet (raises ``MediaStreamError`` once the source ended)."""
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet

    def request_keyframe(self) -> None:
        """The observer lost a picture (PLI/FIR): ask the shared encoder for a keyframe."""
        self._fanout.request_keyframe()

    def stop(self) -> None:
        """Leave the fan-out (its encoder stops with the last track)."""
        super().stop()
        self._fanout.unsubscribe(self)


class EncodedFanout:
    """Encodes one decoded track once and offers every packet to each subscribed track.

    The encoder runs only while someone watches: the first subscriber starts a task that
    reads ``source()`` (a fresh relay proxy) and the last one leaving stops it.
    """

    def __init__(self, kind: str, source: Any) -> None:
        self.kind = kind
        self._source_factory = source
        self._tracks: set[EncodedTrack] = set()
        self._task: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()  # cancelled, still finishing
        self._keyframe_wanted = True
        self._last_keyframe = 0.0
        self._closed = False
        self.frames_encoded = 0

    @property
    def subscribers(self) -> int:
        """How many tracks currently receive the packets."""
        return len(self._tracks)

    def subscribe(self) -> EncodedTrack:
        """A new track of the shared packets; it starts at the next keyframe."""
        track = EncodedTrack(self)
        if self._closed:
            track.offer(None)
            return track
        self._tracks.add(track)
        self.request_keyframe()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"fanout-{self.kind}")
        return track

    def unsubscribe(self, track: EncodedTrack) -> None:
        """Forget a track; with none left the encoder stops."""
        self._tracks.discard(track)
        if not self._tracks and self._task is not None:
            # A new subscriber right after this (an observer's re-offer) starts a new encoder
            # task instead of waiting on one that is being cancelled.
            task, self._task = self._task, None
            task.cancel()
            self._retired.add(task)
            task.add_done_callback(self._retired.discard)

    def request_keyframe(self) -> None:
        """Make the next encoded video frame a keyframe (merged with other requests)."""
        self._keyframe_wanted = True

    async def aclose(self) -> None:
        """End every track and stop the encoder."""
        self._closed = True
        for track in list(self._tracks):
            track.offer(None)
        self._tracks.clear()
        tasks = [t for t in (self._task, *self._retired) if t is not None]
        self._task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _keyframe_due(self) -> bool:
        now = time.monotonic()
        due = now - self._last_keyframe >= KEYFRAME_EVERY
        if (self._keyframe_wanted and now - self._last_keyframe >= KEYFRAME_MIN_GAP) or due:
            self._keyframe_wanted = False
            self._last_keyframe = now
            return True
        return False

    async def _run(self) -> None:
        source: MediaStreamTrack = self._source_factory()
        encoder: _VideoEncoder | _AudioEncoder = (
            _VideoEncoder() if self.kind == "video" else _AudioEncoder()
        )
        try:
            while self._tracks:
                try:
                    frame = await source.recv()
                except MediaStreamError:
                    break
                if self.kind == "video":
                    keyframe = self._keyframe_due()
                    # A VP8 encode takes milliseconds: off the loop, as aiortc's sender does.
                    packets = await asyncio.to_thread(encoder.encode, frame, keyframe)
                else:
                    packets = encoder.encode(frame, False)
                self.frames_encoded += 1
                for packet in packets:
                    for track in list(self._tracks):
                        track.offer(packet)
        except Exception:
            log.exception("observer media fan-out failed")
        finally:
            source.stop()
            # The source ended (the candidate left): the tracks end too. A retired task's
            # tracks have moved to its successor and stay.
            if self._task is asyncio.current_task() and not self._closed:
                for track in list(self._tracks):
                    track.offer(None)
