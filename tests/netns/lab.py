"""Processes of the TURN relay test, each started inside its own network namespace.

``python -m tests.netns.lab serve SOCKET`` runs Candor on a Unix socket (settings from the
CANDOR_* environment); ``python -m tests.netns.lab candidate SOCKET TOKEN SECONDS`` joins as an
aiortc candidate, streams generated video and a tone, and prints the ICE state reached.
Signaling goes over the Unix socket (a file, shared by every namespace); media can only go
through the TURN relay.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import sys

import numpy as np


def serve(socket_path: str) -> None:
    """Run the app on a Unix socket until SIGTERM."""
    from aiohttp import web

    from config.settings import Settings
    from server.app import create_app

    web.run_app(create_app(Settings()), path=socket_path, print=None)


async def candidate(socket_path: str, token: str, seconds: float) -> int:
    """Join, stream for ``seconds``, leave; print what the ICE transport reached."""
    import av
    from aiohttp import ClientSession, UnixConnector
    from aiortc import AudioStreamTrack

    from tests.client_peer import CandidateClient, PatternVideoTrack

    class Tone(AudioStreamTrack):
        """A 440 Hz tone in 20 ms frames (48 kHz mono)."""

        n = 0

        async def recv(self) -> av.AudioFrame:
            await super().recv()  # paces in real time
            t = (np.arange(960) + self.n * 960) / 48000
            self.n += 1
            pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, (self.n - 1) * 960
            frame.time_base = fractions.Fraction(1, 48000)
            return frame

    async with ClientSession(connector=UnixConnector(path=socket_path)) as http:
        client = CandidateClient("http://candor", token, http)
        await client.join(video=PatternVideoTrack(), audio=Tone())
        pc = client.pc
        assert pc is not None
        await asyncio.sleep(seconds)
        state = pc.iceConnectionState
        await client.leave()
    print(json.dumps({"ice": state}), flush=True)
    return 0 if state == "completed" else 1


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit(asyncio.run(candidate(sys.argv[2], sys.argv[3], float(sys.argv[4]))))
