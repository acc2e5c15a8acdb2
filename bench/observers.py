"""Observer fan-out benchmark: server CPU with 0, 1, 2, 4, 8 observers watching one candidate.

Usage: .venv/bin/python bench/observers.py [--counts 0,1,2,4,8] [--seconds 10] [--root DIR]

Starts ``run.py serve`` (from ``--root``, default this tree: point it at another checkout to
measure the code before a change), lets one aiortc candidate stream the real face+speech clip
(512x512, 30 fps, no AI analysis), then adds aiortc observers (receive-only peers over the
observer socket, as web_client/observer.js) until each count is reached, and samples the
server's CPU over a window at each count. Every observer must decode new video frames in every
window. Prints a table and writes bench/results/observers.json. The observers run in this
process (they decode what they receive); only the server's CPU is the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from aiohttp import ClientSession, ClientTimeout, ClientWebSocketResponse, WSMsgType
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import live_room  # noqa: E402
from bench.live_room import (  # noqa: E402
    Sampler,
    Server,
    code_version,
    has_media,
    join,
    leave,
    new_seat,
    poll_until,
    prepare_media,
    progress,
    wait_ready,
)

OUT = ROOT / "bench" / "results" / "observers.json"


class Observer:
    """A receive-only aiortc peer on the observer socket; counts decoded frames."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.ws: ClientWebSocketResponse | None = None
        self.frames = {"audio": 0, "video": 0}
        self.codec = ""
        self._tasks: list[asyncio.Task[None]] = []

    async def join(self, http: ClientSession, base: str, interview_id: str) -> None:
        """Open the socket, send an offer, apply the answer."""
        url = base.replace("http", "ws", 1) + f"/ws/observer/{interview_id}"
        self.ws = await http.ws_connect(url)
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._consume(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.ws.send_json({"type": "offer", "sdp": self.pc.localDescription.sdp})
        async with asyncio.timeout(30):
            async for msg in self.ws:
                if msg.type != WSMsgType.TEXT:
                    raise ConnectionError("observer socket closed before the answer")
                data = json.loads(msg.data)
                if data["type"] == "answer":
                    break
                if data["type"] == "error":
                    raise RuntimeError(f"observer offer refused: {data}")
        sdp = str(data["sdp"])
        self.codec = next((ln.split()[1] for ln in sdp.splitlines() if "a=rtpmap" in ln), "")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        self._tasks.append(asyncio.create_task(self._drain()))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames[track.kind] += 1

    async def _drain(self) -> None:
        assert self.ws is not None
        async for _msg in self.ws:
            pass

    async def close(self) -> None:
        """Hang up and stop the readers."""
        await self.pc.close()
        if self.ws is not None:
            await self.ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def until(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    media = prepare_media(workdir, args.seconds * (len(args.counts) + 2) + 60, False)
    server = Server(workdir / "server")
    server.workdir.mkdir()
    proc = server.start()
    observers: list[Observer] = []
    rows: list[dict[str, Any]] = []
    try:
        async with ClientSession(timeout=ClientTimeout(total=60)) as http:
            token = await wait_ready(http, server)
            http.headers["Authorization"] = f"Bearer {token}"
            seat = await new_seat(http, server.url, 1, False)
            await join(seat, server.url, http, media)
            await poll_until(http, server.url, [seat], has_media, "candidate media", 60)
            sampler = Sampler(proc)
            sampler.start()
            await asyncio.sleep(2.0)
            for count in args.counts:
                while len(observers) < count:
                    obs = Observer()
                    observers.append(obs)
                    await obs.join(http, server.url, seat.interview_id)
                await until(
                    lambda: all(o.frames["video"] > 0 for o in observers), "observers' video"
                )
                await asyncio.sleep(2.0)  # let the new peers settle (DTLS, first keyframe)
                before = [o.frames["video"] for o in observers]
                t0 = sampler.take().t
                await asyncio.sleep(args.seconds)
                window = sampler.window(t0, sampler.take().t)
                got = [o.frames["video"] - b for o, b in zip(observers, before, strict=True)]
                fps = round(min(got) / window["seconds"], 1) if got else None
                row = {
                    "observers": count,
                    "server_cpu_pct": round(window["server_cpu_pct"], 1),
                    "client_cpu_pct": round(window["client_cpu_pct"], 1),
                    "rss_mb": round(window["rss_median_mb"], 0),
                    "observer_video_fps_min": fps,
                    "codecs": sorted({o.codec for o in observers}),
                }
                rows.append(row)
                progress(
                    f"{count} observer(s): server {row['server_cpu_pct']}% of a core, "
                    f"slowest observer {row['observer_video_fps_min']} fps"
                )
            await sampler.stop()
            for obs in observers:
                await obs.close()
            await leave(seat)
    finally:
        for obs in observers:
            with contextlib.suppress(Exception):
                await obs.close()
        server.stop()
    return {"rows": rows, "problems": server.log_problems()[:20]}


def marginal(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """CPU of the first observer, and per observer beyond the first."""
    by = {r["observers"]: r["server_cpu_pct"] for r in rows}
    first = by[1] - by[0] if 0 in by and 1 in by else None
    most = max(by)
    extra = (by[most] - by[1]) / (most - 1) if 1 in by and most > 1 else None
    return {"first_observer_pct": first, "each_additional_observer_pct": extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="0,1,2,4,8")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve from")
    args = parser.parse_args()
    args.counts = [int(c) for c in args.counts.split(",")]
    root = args.root.resolve()
    live_room.ROOT = root  # the server subprocess runs run.py from this tree
    os.environ["PYTHONPATH"] = str(root)
    with tempfile.TemporaryDirectory(prefix="candor-obs-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    result.update(
        {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "root": str(root),
            "code": code_version(),
            "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version()},
            "window_seconds": args.seconds,
            **marginal(result["rows"]),
        }
    )
    print(f"{'observers':>9} {'server %':>9} {'bench %':>8} {'RSS MB':>7} {'min fps':>8}")
    for r in result["rows"]:
        print(
            f"{r['observers']:>9} {r['server_cpu_pct']:>9} {r['client_cpu_pct']:>8} "
            f"{r['rss_mb']:>7} {r['observer_video_fps_min']!s:>8}"
        )
    print(
        f"first observer: {result['first_observer_pct']}% of a core; each additional: "
        f"{result['each_additional_observer_pct']}%"
    )
    OUT.parent.mkdir(exist_ok=True)
    name = OUT if root == ROOT else OUT.with_name(f"observers-{root.name}.json")
    name.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
