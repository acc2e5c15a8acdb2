"""Observers share one encoding of the candidate's media and still see and hear it."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError

from media.candidate_peer import CandidatePeer, ObserverPeer
from media.crypto import MasterKey
from tests.client_peer import PatternVideoTrack


async def connect_candidate(peer: CandidatePeer) -> RTCPeerConnection:
    """A real aiortc candidate sending generated video and audio to ``peer``."""
    pc = RTCPeerConnection()
    pc.addTrack(PatternVideoTrack(320, 240, fps=15))
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    answer = await peer.accept(pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc


class Watcher:
    """A receive-only aiortc observer that counts the frames it decodes."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.codecs: list[str] = []
        self.last_video: np.ndarray | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def join(self, candidate: CandidatePeer) -> ObserverPeer:
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._read(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        server = ObserverPeer()
        answer = await server.accept(self.pc.localDescription.sdp, candidate.observer_tracks())
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        self.codecs = [line for line in answer.splitlines() if line.startswith("a=rtpmap")]
        return server

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames[track.kind] += 1
                if track.kind == "video":
                    self.last_video = frame.to_ndarray(format="gray")  # type: ignore[union-attr]

    def seen(self, *, video: int, audio: int) -> bool:
        return self.frames["video"] >= video and self.frames["audio"] >= audio

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``check`` (frames arrive from peers this test does not drive) until it holds."""
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - the counters belong to the peers' tasks
            await asyncio.sleep(0.1)


async def test_three_observers_share_one_encoding_and_decode_it(tmp_path: Path) -> None:
    candidate = CandidatePeer(tmp_path / "seg.cnd", MasterKey(os.urandom(32)))
    sender = await connect_candidate(candidate)
    watchers = [Watcher() for _ in range(3)]
    servers: list[ObserverPeer] = []
    try:
        for watcher in watchers:
            servers.append(await watcher.join(candidate))
        await until(lambda: all(w.seen(video=10, audio=20) for w in watchers))
        # One encoder per kind, whatever the number of observers.
        assert set(candidate.fanouts) == {"audio", "video"}
        assert candidate.fanouts["video"].subscribers == 3
        # VP8 and Opus only: the codecs the fan-out encodes.
        for watcher in watchers:
            assert any("VP8/90000" in line for line in watcher.codecs)
            assert not any("H264" in line for line in watcher.codecs)
            assert watcher.last_video is not None and watcher.last_video.shape == (240, 320)
            # The gradient survives the round trip (not a blank or garbled picture).
            assert float(np.std(watcher.last_video)) > 20.0
        # A late observer starts at a keyframe and decodes too.
        late = Watcher()
        servers.append(await late.join(candidate))
        watchers.append(late)
        await until(lambda: late.frames["video"] >= 5)
        # Observers leaving stop the shared encoder once none is left.
        for server in servers:
            await server.close()
        await until(lambda: candidate.fanouts["video"].subscribers == 0, 5.0)
    finally:
        for watcher in watchers:
            await watcher.close()
        for server in servers:
            await server.close()
        await sender.close()
        await candidate.close()


async def test_a_subscriber_right_after_the_last_one_left_still_gets_packets(
    tmp_path: Path,
) -> None:
    candidate = CandidatePeer(tmp_path / "seg.cnd", MasterKey(os.urandom(32)))
    sender = await connect_candidate(candidate)
    try:
        await until(lambda: "video" in candidate.tracks)
        tracks = candidate.observer_tracks()
        first = next(t for t in tracks if t.kind == "video")
        async with asyncio.timeout(20):
            await first.recv()
        # The only observer leaves and another arrives in the same instant (a page that
        # re-offers): the encoder being cancelled must not leave the new one without video.
        first.stop()
        tracks += candidate.observer_tracks()
        second = next(t for t in tracks if t.kind == "video" and t is not first)
        async with asyncio.timeout(20):
            for _ in range(5):
                await second.recv()
        for track in tracks:
            track.stop()
    finally:
        await sender.close()
        await candidate.close()
