"""Live room benchmark: join-to-first-frame, server CPU and memory per candidate, with recording.

Usage: .venv/bin/python bench/live_room.py [--counts 1,2,4] [--seconds 20] [--analysis]

For each count N it starts a fresh server (``run.py serve`` in a subprocess, temporary data
dir), lets N aiortc candidates (tests/client_peer.py, the same signaling as the browser)
join N interviews at once and stream a real face+speech clip, samples the server's CPU
and RSS every 0.5 s, then checks every recording was finalized. Prints a table and
writes bench/results/live_room.json. The candidates run in this process and share the
machine's cores with the server: their CPU is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil
from aiohttp import ClientSession, ClientTimeout

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.client_peer import CandidateClient, PatternVideoTrack  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CLIP = SHARED / "video" / "liveportrait_d10.mp4"  # 15 s, 512x512 H.264 30 fps, AAC speech
OUT = ROOT / "bench" / "results" / "live_room.json"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench password not secret"
SAMPLE_EVERY = 0.5
SETTLE = 1.0  # seconds after the last first frame before the CPU window opens


def code_version() -> dict[str, Any]:
    """The commit measured, and whether server code in the tree differs from it."""

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(
                ["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    changed = git("status", "--porcelain", "--", "server", "media", "analysis", "config", "run.py")
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted": changed.splitlines()}


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(values, q))


def wall(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# -- media ---------------------------------------------------------------------


@dataclass(frozen=True)
class Media:
    audio: Path | None
    video: Path | None
    description: str


def loop_stream(src: Path, dst: Path, kind: str, seconds: float) -> None:
    """Copy one stream of ``src`` (no re-encode), repeated until it lasts ``seconds``.

    Separate audio-only and video-only files, because aiortc's MediaPlayer decodes every
    stream of a file and would queue the frames of a track nobody sends.
    """
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        istream = inp.streams.audio[0] if kind == "audio" else inp.streams.video[0]
        ostream = out.add_stream_from_template(istream)
        tb = istream.time_base
        assert tb is not None
        next_dts: int | None = None
        while next_dts is None or next_dts * tb < seconds:
            inp.seek(0)
            shift: int | None = None
            for pkt in inp.demux(istream):
                if pkt.dts is None or pkt.pts is None:
                    continue
                if shift is None:  # the next copy starts where the last one ended
                    shift = 0 if next_dts is None else next_dts - pkt.dts
                pkt.pts += shift
                pkt.dts += shift
                next_dts = pkt.dts + (pkt.duration or 1)
                pkt.stream = ostream
                out.mux(pkt)


def tone_wav(dst: Path, seconds: float) -> None:
    """A generated 48 kHz mono tone with a slow warble (fallback when shared data is absent)."""
    t = np.arange(int(48_000 * seconds)) / 48_000
    pcm = (0.2 * np.sin(2 * np.pi * (220 + 30 * np.sin(2 * np.pi * 0.5 * t)) * t) * 32767).astype(
        np.int16
    )
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(pcm.tobytes())


def prepare_media(workdir: Path, seconds: float, generated: bool) -> Media:
    """Audio and video files long enough for the run (real clip looped, or generated)."""
    if generated:
        tone_wav(workdir / "tone.wav", seconds)
        return Media(workdir / "tone.wav", None, "GENERATED: 220 Hz tone + PatternVideoTrack")
    loop_stream(CLIP, workdir / "clip_video.mp4", "video", seconds)
    loop_stream(CLIP, workdir / "clip_audio.m4a", "audio", seconds)
    return Media(
        workdir / "clip_audio.m4a",
        workdir / "clip_video.mp4",
        f"{CLIP.relative_to(ROOT.parent)} (512x512 H.264 30 fps + AAC 44.1 kHz, looped)",
    )


# -- server process --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``run.py serve`` in a subprocess with its own data dir."""

    workdir: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def start(self) -> psutil.Process:
        env = {
            **os.environ,
            "CANDOR_DATA_DIR": str(self.workdir / "data"),
            "CANDOR_HOST": "127.0.0.1",
            "CANDOR_PORT": str(self.port),
            "CANDOR_ADMIN_EMAIL": ADMIN_EMAIL,
            "CANDOR_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CANDOR_FACIAL_ANALYSIS": "off",
            "CANDOR_BUS": "memory",
            "CANDOR_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "CANDOR_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        env.pop("CANDOR_CONFIG", None)
        env.pop("CANDOR_DATABASE_URL", None)
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), "serve"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return psutil.Process(self.popen.pid)

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def log_problems(self) -> list[str]:
        """Warning and error lines of the server's structured log."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if isinstance(rec, dict) and rec.get("level") in ("warning", "error", "critical"):
                    out.append(f"{rec.get('level')}: {rec.get('logger')}: {rec.get('msg')}")
                continue
            if "Traceback" in line or "Error" in line:
                out.append(line.strip()[:200])
        return out


async def wait_ready(http: ClientSession, server: Server, timeout: float = 60) -> str:
    """Sign in as soon as the server answers; returns the bearer token."""
    deadline = time.monotonic() + timeout
    while True:
        assert server.popen is not None
        if server.popen.poll() is not None:
            raise RuntimeError(f"server exited early; see {server.log_path}")
        try:
            resp = await http.post(
                f"{server.url}/api/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            if resp.status == 200:
                return str((await resp.json())["token"])
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("server did not start")
        await asyncio.sleep(0.25)


# -- sampling --------------------------------------------------------------------


@dataclass
class Sample:
    t: float  # monotonic
    server_cpu: float  # user+system seconds, all threads
    server_rss: int
    client_cpu: float
    busy_cores: float  # whole machine, in cores (0..ncpu)


class Sampler:
    """Samples server and bench process every SAMPLE_EVERY seconds."""

    def __init__(self, server: psutil.Process) -> None:
        self.server = server
        self.client = psutil.Process()
        self.samples: list[Sample] = []
        self.max_threads = 0
        self._task: asyncio.Task[None] | None = None

    def take(self) -> Sample:
        st, ct = self.server.cpu_times(), self.client.cpu_times()
        busy = psutil.cpu_percent(None) / 100 * (psutil.cpu_count() or 1)
        self.max_threads = max(self.max_threads, self.server.num_threads())
        s = Sample(
            time.monotonic(),
            st.user + st.system,
            self.server.memory_info().rss,
            ct.user + ct.system,
            busy,
        )
        self.samples.append(s)
        return s

    async def run(self) -> None:
        while True:
            self.take()
            await asyncio.sleep(SAMPLE_EVERY)

    def start(self) -> None:
        psutil.cpu_percent(None)
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.take()

    def window(self, t0: float, t1: float) -> dict[str, float]:
        """CPU (in % of one core) and RSS over [t0, t1] from the samples inside it."""
        inside = [s for s in self.samples if t0 <= s.t <= t1]
        if len(inside) < 2:
            raise RuntimeError("too few samples in the measuring window")
        a, b = inside[0], inside[-1]
        secs = b.t - a.t
        return {
            "seconds": secs,
            "server_cpu_pct": 100 * (b.server_cpu - a.server_cpu) / secs,
            "client_cpu_pct": 100 * (b.client_cpu - a.client_cpu) / secs,
            "machine_busy_pct": 100 * statistics.mean(s.busy_cores for s in inside[1:]),
            "rss_median_mb": statistics.median(s.server_rss for s in inside) / 2**20,
            "rss_max_mb": max(s.server_rss for s in inside) / 2**20,
        }


# -- candidates --------------------------------------------------------------------


class TimedCandidateClient(CandidateClient):
    """CandidateClient that notes when the offer went out (join() waits for the answer
    right after sending it, so the wait is where we stamp)."""

    offer_sent_at: float | None = None
    answer_at: float | None = None

    async def next_message(self, kind: str, timeout: float = 20.0) -> dict[str, Any]:
        if kind == "answer" and self.offer_sent_at is None:
            self.offer_sent_at = time.time()
            msg = await super().next_message(kind, timeout)
            self.answer_at = time.time()
            return msg
        return await super().next_message(kind, timeout)


@dataclass
class Seat:
    """One candidate in one interview."""

    interview_id: str
    token: str
    client: TimedCandidateClient | None = None
    join_called_at: float = 0.0
    left_at: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)

    def first(self, event_type: str, **match: Any) -> dict[str, Any] | None:
        for e in self.events:
            if e["type"] == event_type and all(e.get(k) == v for k, v in match.items()):
                return e
        return None


async def api(http: ClientSession, method: str, url: str, body: Any = None) -> Any:
    async with http.request(method, url, json=body) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"{method} {url}: {resp.status} {await resp.text()}")
        return await resp.json()


async def new_seat(http: ClientSession, base: str, k: int, analysis: bool) -> Seat:
    """Job, candidate, interview and the candidate's consent."""
    job = await api(http, "POST", f"{base}/api/jobs", {"title": f"Bench {k}", "language": "en"})
    cand = await api(http, "POST", f"{base}/api/candidates", {"name": f"Bench candidate {k}"})
    iv = await api(
        http, "POST", f"{base}/api/interviews", {"job_id": job["id"], "candidate_id": cand["id"]}
    )
    token = iv["invite_token"]
    notice = await api(http, "GET", f"{base}/api/join/{token}")
    await api(
        http,
        "POST",
        f"{base}/api/join/{token}/consent",
        {"recording": True, "ai_analysis": analysis, "notice_version": notice["notice_version"]},
    )
    return Seat(iv["id"], token)


async def join(seat: Seat, base: str, http: ClientSession, media: Media) -> None:
    seat.client = TimedCandidateClient(base, seat.token, http)
    seat.join_called_at = time.time()
    if media.video is None:
        await seat.client.join(audio_file=media.audio, video=PatternVideoTrack())
    else:
        await seat.client.join(audio_file=media.audio, video_file=media.video)


async def leave(seat: Seat) -> None:
    assert seat.client is not None and seat.client.pc is not None
    tracks = [s.track for s in seat.client.pc.getSenders() if s.track is not None]
    seat.left_at = time.time()
    await seat.client.leave()
    for track in tracks:  # stop the players' decoder threads too
        track.stop()


async def poll_until(
    http: ClientSession, base: str, seats: list[Seat], done: Any, what: str, timeout: float
) -> None:
    """Refresh every seat's event log until ``done(seat)`` holds for all."""
    deadline = time.monotonic() + timeout
    while True:
        for seat in seats:
            seat.events = await api(
                http, "GET", f"{base}/api/interviews/{seat.interview_id}/events"
            )
        ready = sum(1 for s in seats if done(s))
        if ready == len(seats):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {ready}/{len(seats)} {what} after {timeout:.0f} s")
        await asyncio.sleep(0.25)


def has_media(seat: Seat) -> bool:
    return bool(
        seat.first("media_started", kind="audio") and seat.first("media_started", kind="video")
    )


async def recorded(http: ClientSession, base: str, seat: Seat) -> list[dict[str, Any]]:
    """Every segment's status and what its (decrypted) file holds, from packets, no decode."""
    out = []
    for seg in await api(http, "GET", f"{base}/api/interviews/{seat.interview_id}/recordings"):
        async with http.get(base + seg["url"]) as resp:
            data = await resp.read()
        info: dict[str, Any] = {
            "segment": seg["segment"],
            "status": seg.get("status"),
            "bytes": len(data),
        }
        with av.open(io.BytesIO(data), "r") as c:
            for stream in c.streams:
                pkts = [p for p in c.demux(stream) if p.pts is not None]
                info[f"{stream.type}_packets"] = len(pkts)
                c.seek(0)
            info["duration"] = (c.duration or 0) / 1e6
        if info.get("video_packets") and info["duration"]:
            info["video_fps"] = info["video_packets"] / info["duration"]
        out.append(info)
    return out


# -- one round ---------------------------------------------------------------------


async def warm_up(http: ClientSession, base: str, media: Media, analysis: bool) -> None:
    """One short session so codecs and lazy imports are loaded before the idle baseline."""
    seat = await new_seat(http, base, 0, analysis)
    await join(seat, base, http, media)
    await poll_until(http, base, [seat], has_media, "warm-up media", 30)
    await asyncio.sleep(2)
    await leave(seat)
    await poll_until(
        http, base, [seat], lambda s: s.first("recording_finalized"), "warm-up recording", 60
    )


async def round_of(n: int, args: argparse.Namespace, media: Media, workdir: Path) -> dict[str, Any]:
    """Fresh server, N candidates at once, measurements."""
    server = Server(workdir / f"n{n}")
    server.workdir.mkdir()
    proc = server.start()
    try:
        return await _measure(n, args, media, server, proc)
    finally:
        server.stop()


async def _measure(
    n: int, args: argparse.Namespace, media: Media, server: Server, proc: psutil.Process
) -> dict[str, Any]:
    base = server.url
    async with ClientSession(timeout=ClientTimeout(total=60)) as http:
        token = await wait_ready(http, server)
        http.headers["Authorization"] = f"Bearer {token}"
        cold_rss = proc.memory_info().rss / 2**20
        if not args.no_warmup:
            progress(f"N={n}: warm-up session (3 s)")
            await warm_up(http, base, media, args.analysis)
        sampler = Sampler(proc)
        sampler.start()
        await asyncio.sleep(2.5)
        idle = sampler.window(sampler.samples[0].t, sampler.take().t)
        seats = [await new_seat(http, base, k + 1, args.analysis) for k in range(n)]
        progress(f"N={n}: idle server RSS {idle['rss_median_mb']:.0f} MB; {n} candidate(s) join")
        await asyncio.gather(*(join(s, base, http, media) for s in seats))
        await poll_until(http, base, seats, has_media, "first frames", 60)
        progress(f"N={n}: all media flowing; measuring for {args.seconds:.0f} s")
        await asyncio.sleep(SETTLE)
        t0 = sampler.take().t
        while (left := t0 + args.seconds - time.monotonic()) > 0:
            await asyncio.sleep(min(5.0, left))
            now = time.monotonic()
            if now - t0 > 1:
                w = sampler.window(t0, now)
                progress(
                    f"N={n}: {now - t0:4.1f} s  server {w['server_cpu_pct']:.0f}%  "
                    f"clients {w['client_cpu_pct']:.0f}%  RSS {w['rss_median_mb']:.0f} MB"
                )
        steady = sampler.window(t0, sampler.take().t)
        progress(f"N={n}: leaving; waiting for the recordings to be finalized")
        await asyncio.gather(*(leave(s) for s in seats))
        try:
            await poll_until(
                http, base, seats, lambda s: s.first("recording_finalized"), "finalized", 90
            )
            finalize_error = None
        except TimeoutError as exc:
            finalize_error = str(exc)
        await sampler.stop()
        recordings = [await recorded(http, base, s) for s in seats]
    problems = server.log_problems()
    return summarize(
        n, args, seats, sampler, idle, steady, cold_rss, recordings, problems, finalize_error
    )


def summarize(
    n: int,
    args: argparse.Namespace,
    seats: list[Seat],
    sampler: Sampler,
    idle: dict[str, float],
    steady: dict[str, float],
    cold_rss: float,
    recordings: list[list[dict[str, Any]]],
    problems: list[str],
    finalize_error: str | None,
) -> dict[str, Any]:
    """Per-candidate figures and the round's totals."""
    per: list[dict[str, Any]] = []
    for seat, recs in zip(seats, recordings, strict=True):
        c = seat.client
        assert c is not None and c.offer_sent_at is not None
        joined = seat.first("candidate_joined")
        starts = {k: seat.first("media_started", kind=k) for k in ("audio", "video")}
        first = min(wall(e["at"]) for e in starts.values() if e)
        done = seat.first("recording_finalized")
        per.append(
            {
                "interview_id": seat.interview_id,
                "join_call_to_first_frame_s": first - seat.join_called_at,
                "offer_to_first_frame_s": first - c.offer_sent_at,
                "offer_to_answer_s": (c.answer_at or 0) - c.offer_sent_at,
                "offer_to_first_frame_by_kind_s": {
                    k: wall(e["at"]) - c.offer_sent_at for k, e in starts.items() if e
                },
                "server_joined_to_first_frame_s": first - wall(joined["at"]) if joined else None,
                "streamed_s": seat.left_at - c.offer_sent_at,
                "leave_to_finalized_s": wall(done["at"]) - seat.left_at if done else None,
                "recording_duration_s": done["duration"] if done else None,
                "recordings": recs,
            }
        )

    def col(key: str) -> list[float]:
        return [p[key] for p in per if p[key] is not None]

    offer, server_side, fin = (
        col("offer_to_first_frame_s"),
        col("server_joined_to_first_frame_s"),
        col("leave_to_finalized_s"),
    )
    fps = [r["video_fps"] for p in per for r in p["recordings"] if "video_fps" in r]
    return {
        "candidates": n,
        "offer_to_first_frame_p50_s": pct(offer, 50),
        "offer_to_first_frame_max_s": max(offer),
        "server_joined_to_first_frame_p50_s": pct(server_side, 50),
        "server_joined_to_first_frame_max_s": max(server_side) if server_side else None,
        "server_cpu_pct_total": steady["server_cpu_pct"],
        "server_cpu_pct_per_candidate": steady["server_cpu_pct"] / n,
        "server_idle_cpu_pct": idle["server_cpu_pct"],
        "client_cpu_pct_total": steady["client_cpu_pct"],
        "machine_busy_pct": steady["machine_busy_pct"],
        "other_processes_pct": steady["machine_busy_pct"]
        - steady["server_cpu_pct"]
        - steady["client_cpu_pct"],
        "cpu_saturated": steady["machine_busy_pct"] > 90 * (psutil.cpu_count() or 1),
        "rss_cold_mb": cold_rss,
        "rss_idle_mb": idle["rss_median_mb"],
        "rss_streaming_mb": steady["rss_median_mb"],
        "rss_max_mb": steady["rss_max_mb"],
        "rss_per_session_mb": (steady["rss_median_mb"] - idle["rss_median_mb"]) / n,
        "server_threads_max": sampler.max_threads,
        "window_s": steady["seconds"],
        "finalized": sum(1 for p in per if p["leave_to_finalized_s"] is not None),
        "finalize_error": finalize_error,
        "leave_to_finalized_p50_s": pct(fin, 50),
        "leave_to_finalized_max_s": max(fin) if fin else None,
        "recorded_video_fps_min": min(fps) if fps else None,
        "server_log_problems": problems,
        "per_candidate": per,
        "samples": [
            {
                "t": s.t - sampler.samples[0].t,
                "server_cpu": s.server_cpu,
                "server_rss_mb": s.server_rss / 2**20,
                "client_cpu": s.client_cpu,
                "busy_cores": s.busy_cores,
            }
            for s in sampler.samples
        ],
    }


# -- report --------------------------------------------------------------------------


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


COLUMNS: list[tuple[str, Any]] = [
    ("N", lambda r: str(r["candidates"])),
    (
        "offer→1st frame p50/max s",
        lambda r: (
            f"{_fmt(r['offer_to_first_frame_p50_s'])} / {_fmt(r['offer_to_first_frame_max_s'])}"
        ),
    ),
    (
        "srv joined→1st p50/max s",
        lambda r: (
            f"{_fmt(r['server_joined_to_first_frame_p50_s'])} / "
            f"{_fmt(r['server_joined_to_first_frame_max_s'])}"
        ),
    ),
    ("srv CPU %/cand", lambda r: _fmt(r["server_cpu_pct_per_candidate"], ".0f")),
    ("srv CPU %", lambda r: _fmt(r["server_cpu_pct_total"], ".0f")),
    ("clients CPU %", lambda r: _fmt(r["client_cpu_pct_total"], ".0f")),
    ("others %", lambda r: _fmt(r["other_processes_pct"], ".0f")),
    ("RSS idle MB", lambda r: _fmt(r["rss_idle_mb"], ".0f")),
    ("RSS/session MB", lambda r: _fmt(r["rss_per_session_mb"], ".1f")),
    ("finalized", lambda r: f"{r['finalized']}/{r['candidates']}"),
    ("leave→final max s", lambda r: _fmt(r["leave_to_finalized_max_s"])),
    ("rec fps min", lambda r: _fmt(r["recorded_video_fps_min"], ".1f")),
]


def table(runs: list[dict[str, Any]]) -> str:
    """One row per candidate count (CPU % is of one core)."""
    rows = [[cell(r) for _, cell in COLUMNS] for r in runs]
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, (name, _) in enumerate(COLUMNS)]
    head = " | ".join(name.rjust(w) for (name, _), w in zip(COLUMNS, widths, strict=True))
    body = [" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([head, "-" * len(head), *body])


async def main(args: argparse.Namespace) -> int:
    generated = args.generated
    if not generated and not CLIP.exists():
        print(
            f"Shared media not found: {CLIP}\n"
            "This benchmark streams real recordings from ../shared/data (see its README).\n"
            "Run it from a checkout next to shared/, or pass --generated to stream a "
            "generated tone and test pattern instead (figures not comparable).",
            file=sys.stderr,
        )
        return 2
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="candor-bench-") as tmp:
        workdir = Path(tmp)
        progress("preparing media")
        media = prepare_media(workdir, args.seconds + 30, generated)
        progress(f"media: {media.description}; AI analysis consent: {args.analysis}")
        load_before = os.getloadavg()
        runs = []
        for n in counts:
            runs.append(await round_of(n, args, media, workdir))
    print(table(runs))
    for r in runs:
        for line in r["server_log_problems"][:5]:
            print(f"  N={r['candidates']} server log: {line}")
        if r["cpu_saturated"]:
            print(
                f"  N={r['candidates']}: the machine was CPU-bound during the window "
                f"({r['machine_busy_pct']:.0f}% of {psutil.cpu_count()} cores busy, other "
                f"processes {r['other_processes_pct']:.0f}%): the server competed for the cores, "
                "so its CPU per candidate may be understated and latencies inflated"
            )
        if r["finalize_error"]:
            print(f"  N={r['candidates']} NOT ALL FINALIZED: {r['finalize_error']}")
    result = {
        "machine": {
            "cpus": psutil.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_before": load_before,
            "note": "shared machine: other processes compete for the cores (see others %)",
        },
        "code": code_version(),
        "settings": {
            "counts": counts,
            "seconds": args.seconds,
            "ai_analysis_consent": args.analysis,
            "warmup": not args.no_warmup,
            "media": media.description,
            "generated_media": generated,
        },
        "runs": runs,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {OUT.relative_to(ROOT)}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--counts", default="1,2,4", help="simultaneous candidates per round")
    p.add_argument("--seconds", type=float, default=20.0, help="measured streaming per round")
    p.add_argument(
        "--analysis",
        action="store_true",
        help="candidates consent to AI analysis (default off: media and recording only)",
    )
    p.add_argument("--generated", action="store_true", help="stream generated media, no files")
    p.add_argument("--no-warmup", action="store_true", help="skip the warm-up session")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
