"""A programmatic candidate: streams a media file (or generated video) to a Candor server.

Used by integration tests and benchmarks in place of a browser; it speaks the
same WebSocket signaling as web_client/candidate.js.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.contrib.media import MediaPlayer

from media.ice import rtc_configuration


class PatternVideoTrack(VideoStreamTrack):
    """Generated video: a moving gradient, so every frame differs (15 fps)."""

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self._w, self._h, self._fps = width, height, fps
        self._n = 0
        self._t0: float | None = None

    async def recv(self) -> av.VideoFrame:
        """The next frame, paced in real time."""
        if self._t0 is None:
            self._t0 = time.monotonic()
        target = self._t0 + self._n / self._fps
        await asyncio.sleep(max(0.0, target - time.monotonic()))
        x = np.linspace(0, 255, self._w, dtype=np.float32)
        shift = (self._n * 7) % 256
        row = ((x + shift) % 256).astype(np.uint8)
        img = np.repeat(np.repeat(row[None, :, None], self._h, axis=0), 3, axis=2)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = self._n * (90000 // self._fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self._n += 1
        return frame


class StillVideoTrack(VideoStreamTrack):
    """A still image (RGB array) sent as video at ``fps``, e.g. a photo of a face."""

    def __init__(self, rgb: np.ndarray, fps: int = 15) -> None:
        super().__init__()
        h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        self._frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
        self._fps = fps
        self._n = 0
        self._t0: float | None = None

    async def recv(self) -> av.VideoFrame:
        """The same picture again, paced in real time."""
        if self._t0 is None:
            self._t0 = time.monotonic()
        await asyncio.sleep(max(0.0, self._t0 + self._n / self._fps - time.monotonic()))
        frame = self._frame.reformat(format="yuv420p")
        frame.pts = self._n * (90000 // self._fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self._n += 1
        return frame


class CandidateClient:
    """Joins an interview over WebSocket + WebRTC and streams media."""

    def __init__(self, base_url: str, token: str, http: ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http
        self.ws: ClientWebSocketResponse | None = None
        self.pc: RTCPeerConnection | None = None
        self.player: MediaPlayer | None = None
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self.segment = 0

    async def join(
        self,
        audio_file: Path | None = None,
        video: MediaStreamTrack | None = None,
        video_file: Path | None = None,
        audio: MediaStreamTrack | None = None,
    ) -> dict[str, Any]:
        """Connect, send an offer with the given media, apply the answer."""
        ws_url = self.base_url.replace("http", "ws", 1) + f"/ws/candidate/{self.token}"
        self.ws = await self.http.ws_connect(ws_url)
        self._reader = asyncio.create_task(self._read())
        welcome = await self.next_message("welcome")
        # the same ICE servers the candidate page gets (none by default: no STUN)
        async with self.http.get(f"{self.base_url}/api/join/{self.token}/ice") as resp:
            resp.raise_for_status()
            servers = (await resp.json())["iceServers"]
        self.pc = RTCPeerConnection(rtc_configuration(servers))
        if audio_file is not None:
            self.player = MediaPlayer(str(audio_file))
            if self.player.audio is not None:
                self.pc.addTrack(self.player.audio)
        elif audio is not None:
            self.pc.addTrack(audio)
        if video_file is not None:
            vplayer = MediaPlayer(str(video_file))
            if vplayer.video is not None:
                self.pc.addTrack(vplayer.video)
        elif video is not None:
            self.pc.addTrack(video)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.ws.send_json({"type": "offer", "sdp": self.pc.localDescription.sdp})
        answer = await self.next_message("answer")
        self.segment = int(answer.get("segment", 0))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        return welcome

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                await self.messages.put(json.loads(msg.data))
        await self.messages.put({"type": "_closed", "code": self.ws.close_code})

    async def next_message(self, kind: str, timeout: float = 20.0) -> dict[str, Any]:
        """Wait for the next message of ``kind`` (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.messages.get()
                if msg["type"] == kind:
                    return msg
                if msg["type"] == "_closed":
                    raise ConnectionError(f"channel closed with code {msg['code']}")

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message on the candidate channel."""
        assert self.ws is not None
        await self.ws.send_json(message)

    async def leave(self, vanish: bool = False) -> None:
        """Hang up; ``vanish`` drops the media but never says goodbye on the channel."""
        if self.pc is not None:
            await self.pc.close()
        if self.ws is not None and not vanish:
            await self.ws.close()
        if self._reader is not None and not vanish:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
