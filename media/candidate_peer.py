"""The server side of a candidate's WebRTC connection for one recording segment."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from media.crypto import MasterKey
from media.fanout import EncodedFanout, EncodedTrack
from media.ice import advertise_public_ip, rtc_configuration
from media.peer_close import close_peer_connection, end_remote_tracks
from media.recorder import RecordingResult, SegmentRecorder, finalize_recording
from media.udp_ports import PortRange, bound_to

log = logging.getLogger(__name__)

FrameSink = Callable[[str, Any], None]


def _announce(sdp: str, public_ip: str | None) -> str:
    return advertise_public_ip(sdp, public_ip) if public_ip else sdp


class BadOffer(ValueError):
    """The SDP offer could not be used."""


def _brief(exc: BaseException) -> str:
    # Parser messages may quote the offer: keep what reaches the client short.
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


async def _settled(task: asyncio.Task[str] | None) -> None:
    """Wait until an SDP negotiation has ended, however it ends (its outcome is not raised).

    A peer connection must not be closed while ICE gathers: aioice then leaks the UDP
    sockets it has already bound (they are only tracked once gathering completes).
    """
    if task is not None and not task.done():
        await asyncio.wait([task])


class CandidatePeer:
    """Accepts one offer, records every received track, fans tracks out to observers.

    Every received track is consumed by the recorder loop, so no queue grows
    without bound. Observers get the tracks encoded once (``media.fanout``), fed by
    ``MediaRelay`` proxies with ``buffered=False`` while anyone watches.
    Frame sinks (analysis) must not block: they get each frame on the loop.
    """

    def __init__(
        self,
        recording_path: Path,
        master: MasterKey,
        *,
        on_first_frame: Callable[[str], None] | None = None,
        on_closed: Callable[[], None] | None = None,
        ice: RTCConfiguration | None = None,
        public_ip: str | None = None,
        port_range: PortRange | None = None,
    ) -> None:
        self.recording_path = recording_path
        self._port_range = port_range
        self._master = master
        self._on_first_frame = on_first_frame
        self._on_closed = on_closed
        # never aiortc's default (a public STUN server): no servers unless configured
        self.pc = RTCPeerConnection(ice or rtc_configuration([]))
        self._public_ip = public_ip
        self.relay = MediaRelay()
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.fanouts: dict[str, EncodedFanout] = {}
        self.sinks: list[FrameSink] = []
        self.recorder: SegmentRecorder | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._negotiation: asyncio.Task[str] | None = None
        self._closed = False
        self.first_frame_at: dict[str, float] = {}

    async def accept(self, sdp: str) -> str:
        """Apply the candidate's offer and return our answer SDP.

        The negotiation runs to its end even if the caller is cancelled (see ``_settled``).
        Any failure (a malformed or unusable offer, or aiortc choking on one) closes the
        connection, stops the recorder, removes its file and raises BadOffer: nothing leaks.
        """
        self._negotiation = asyncio.create_task(self._accept(sdp), name="candidate-negotiation")
        try:
            return await asyncio.shield(self._negotiation)
        except BaseException as exc:
            await self.close()
            self.recording_path.unlink(missing_ok=True)
            if isinstance(exc, BadOffer) or not isinstance(exc, Exception):
                raise
            raise BadOffer(f"the SDP offer could not be used: {_brief(exc)}") from exc

    async def _accept(self, sdp: str) -> str:

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind in ("audio", "video") and track.kind not in self.tracks:
                self.tracks[track.kind] = track

        @self.pc.on("connectionstatechange")
        async def _on_state() -> None:
            if self.pc.connectionState in ("failed", "closed") and self._on_closed:
                self._on_closed()

        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:
            raise BadOffer(f"the SDP offer could not be parsed: {_brief(exc)}") from exc
        if not self.tracks:
            raise BadOffer("the offer carries neither audio nor video")
        self.recorder = SegmentRecorder(
            self.recording_path,
            self._master,
            with_audio="audio" in self.tracks,
            with_video="video" in self.tracks,
        )
        self.recorder.start()
        for kind, track in self.tracks.items():
            proxy = self.relay.subscribe(track, buffered=True)
            self._tasks.append(asyncio.create_task(self._consume(kind, proxy), name=f"rec-{kind}"))
        answer = await self.pc.createAnswer()
        with bound_to(self._port_range):  # the host candidates are gathered here
            await self.pc.setLocalDescription(answer)
        return _announce(self.pc.localDescription.sdp, self._public_ip)

    async def _consume(self, kind: str, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if kind not in self.first_frame_at:
                self.first_frame_at[kind] = loop.time()
                if self._on_first_frame:
                    self._on_first_frame(kind)
            assert self.recorder is not None
            self.recorder.push(frame)
            for sink in self.sinks:
                try:
                    sink(kind, frame)
                except Exception:
                    log.exception("frame sink failed")

    def observer_tracks(self) -> list[MediaStreamTrack]:
        """The candidate's tracks for one observer: the shared encoded packets, per kind."""
        tracks: list[MediaStreamTrack] = []
        for kind, track in self.tracks.items():
            fanout = self.fanouts.get(kind)
            if fanout is None:
                fanout = self.fanouts[kind] = EncodedFanout(kind, self._proxy_of(track))
            tracks.append(fanout.subscribe())
        return tracks

    def _proxy_of(self, track: MediaStreamTrack) -> Callable[[], MediaStreamTrack]:
        return lambda: self.relay.subscribe(track, buffered=False)

    async def close(self) -> RecordingResult | None:
        """Hang up, stop recording and finalize the segment (None if nothing was recorded)."""
        if self._closed:
            return None
        self._closed = True
        await _settled(self._negotiation)
        for fanout in self.fanouts.values():
            await fanout.aclose()
        await close_peer_connection(self.pc)
        end_remote_tracks(list(self.tracks.values()))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.recorder is None:
            return None
        recorder = self.recorder
        await asyncio.to_thread(recorder.close)
        if recorder.frames_in == 0:
            self.recording_path.unlink(missing_ok=True)  # nothing recorded: no empty file left
            return None
        if not self.recording_path.exists():
            return None
        try:
            return await asyncio.to_thread(finalize_recording, self.recording_path, self._master)
        except Exception:
            log.exception("could not finalize a recording segment")
            return None


# The fan-out encodes VP8 and Opus once; an observer's sender must use those codecs.
_SHARED_CODECS = {"video": ("video/vp8", "video/rtx"), "audio": ("audio/opus",)}


def _shared_codecs(kind: str) -> list[RTCRtpCodecCapability]:
    return [
        c
        for c in RTCRtpSender.getCapabilities(kind).codecs
        if c.mimeType.lower() in _SHARED_CODECS[kind]
    ]


def _forward_keyframe_requests(sender: RTCRtpSender, track: EncodedTrack) -> None:
    """Pass an observer's PLI/FIR to the shared encoder.

    aiortc's sender handles PLI/FIR by calling its own ``_send_keyframe`` (which only affects
    frames it encodes itself); with encoded packets the request must reach the fan-out, and
    aiortc offers no public hook for it, so this one sender's method is wrapped.
    """
    own = sender._send_keyframe

    def send_keyframe() -> None:
        own()
        track.request_keyframe()

    setattr(sender, "_send_keyframe", send_keyframe)  # noqa: B010 - see the docstring


class ObserverPeer:
    """An observer's receive-only connection fed by the shared encoded tracks."""

    def __init__(
        self,
        ice: RTCConfiguration | None = None,
        public_ip: str | None = None,
        port_range: PortRange | None = None,
    ) -> None:
        self.pc = RTCPeerConnection(ice or rtc_configuration([]))
        self._public_ip = public_ip
        self._port_range = port_range
        self._proxies: list[MediaStreamTrack] = []
        self._negotiation: asyncio.Task[str] | None = None
        self._closing: asyncio.Task[None] | None = None

    async def accept(self, sdp: str, tracks: list[MediaStreamTrack]) -> str:
        """Apply the observer's offer, attach the candidate's tracks, return the answer.

        On failure or cancellation the peer is closed once the negotiation has ended.
        """
        self._proxies.extend(tracks)
        self._negotiation = asyncio.create_task(
            self._accept(sdp, tracks), name="observer-negotiation"
        )
        try:
            return await asyncio.shield(self._negotiation)
        except BaseException as exc:
            await self.close()
            if isinstance(exc, BadOffer) or not isinstance(exc, Exception):
                raise
            raise BadOffer(f"the SDP offer could not be used: {_brief(exc)}") from exc

    async def _accept(self, sdp: str, tracks: list[MediaStreamTrack]) -> str:
        # Transceivers made before the offer is applied take its m-lines (by kind) and
        # negotiate only the codecs the fan-out encodes.
        for track in tracks:
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            if isinstance(track, EncodedTrack):
                transceiver.setCodecPreferences(_shared_codecs(track.kind))
                _forward_keyframe_requests(transceiver.sender, track)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:
            raise BadOffer(f"the SDP offer could not be parsed: {_brief(exc)}") from exc
        answer = await self.pc.createAnswer()
        with bound_to(self._port_range):  # the host candidates are gathered here
            await self.pc.setLocalDescription(answer)
        return _announce(self.pc.localDescription.sdp, self._public_ip)

    async def close(self) -> None:
        """Hang up and release the relay proxies; every call waits for the one hang-up.

        The hang-up runs to its end even if a caller is cancelled (a session stopping while
        this peer negotiates closes it from ``accept`` and again at its end), so a later call
        never returns before the connection is closed.
        """
        if self._closing is None:
            self._closing = asyncio.create_task(self._hang_up(), name="observer-hangup")
        await asyncio.shield(self._closing)

    async def _hang_up(self) -> None:
        await _settled(self._negotiation)
        for proxy in self._proxies:
            proxy.stop()
        await close_peer_connection(self.pc)
