"""Load and fault run: 2 nodes + transcription workers behind HAProxy, candidates and observers.

Usage: .venv/bin/python bench/cluster.py [--candidates 8] [--observers 50] [--seconds 600]
       [--workers 2] [--faults node,redis,worker,network]

Loopback only, bounded. Starts its own redis-server (on a free port, so it can be restarted
without touching anyone else's), a PostgreSQL database made for the run, two ``run.py serve``
nodes (cluster mode, shared data dir) and ``run.py worker`` processes (transcription via Redis
Streams), and HAProxy with deploy/haproxy/candor.cfg. Candidates (aiortc, tests/client_peer.py)
join through the load balancer and stream real speech (../shared/data/en, looped) with generated
video, rejoining whenever their socket closes, as the page does. Observers (``websockets``
clients) connect straight to either node, catch up from the log on gaps and reconnects as
web_client/event_stream.js does, and inject questions. Faults, spread over the run: SIGKILL the
node that owns candidate 0 (restarted 10 s later), restart Redis, SIGKILL a worker, drop
candidate 0's network for 5 s. Reports join latency, observer event delay p50/p95, final
transcript latency, CPU and memory per node, lost events, what each candidate saw at each fault,
and checks every recording segment decodes. Writes bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
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
import websockets
from aiohttp import ClientSession, ClientTimeout

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.client_peer import CandidateClient, PatternVideoTrack  # noqa: E402
from tests.cluster_nodes import (  # noqa: E402
    Nodes,
    Proc,
    api,
    free_port,
    new_interview,
    postgres_database,
    sign_in,
)

SPEECH = ROOT.parent / "shared" / "data" / "en"
OUT = ROOT / "bench" / "results" / "cluster.json"
ANSWER_AFTER = 8.0  # seconds a candidate "answers" before pressing Done
ASK_EVERY = 20.0  # seconds between one observer's questions
LIVE_ONLY = {"transcript_partial"}


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def wall(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def speech_wav(dst: Path, seconds: float) -> None:
    """Real English speech (several clips, 1.5 s pauses between) looped to ``seconds``."""
    clips = sorted(SPEECH.glob("*.flac"))[:6]
    parts: list[np.ndarray] = []
    for clip in clips:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        with av.open(str(clip)) as c:
            for frame in c.decode(audio=0):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
        parts.append(np.zeros(int(48000 * 1.5), np.int16))
    one = np.concatenate(parts)
    pcm = np.tile(one, int(seconds * 48000 / len(one)) + 1)[: int(seconds * 48000)]
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(pcm.astype(np.int16).tobytes())


# -- candidates ------------------------------------------------------------------------


@dataclass
class Seen:
    """What one candidate saw: joins, drops, questions."""

    joins: list[dict[str, Any]] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)
    drops: list[float] = field(default_factory=list)


class BenchCandidate:
    """Streams speech through the LB and rejoins whenever the socket closes (as the page)."""

    def __init__(self, k: int, iv: dict[str, Any], lb: str, wav: Path) -> None:
        self.k = k
        self.iv = iv
        self.lb = lb
        self.wav = wav
        self.seen = Seen()
        self.client: CandidateClient | None = None
        self._stop = asyncio.Event()
        self._drop = asyncio.Event()
        self._vanished: list[CandidateClient] = []

    async def run(self, http: ClientSession) -> None:
        dropped_at: float | None = None
        while not self._stop.is_set():
            t0 = time.time()
            client = CandidateClient(self.lb, self.iv["invite_token"], http)
            try:
                await client.join(audio_file=self.wav, video=PatternVideoTrack(320, 240, 15))
            except Exception as exc:
                await _hang_up(client)
                self.seen.joins.append({"at": t0, "failed": str(exc)[:120]})
                await asyncio.sleep(1.0)
                continue
            self.client = client
            self.seen.joins.append(
                {
                    "at": t0,
                    "join_s": round(time.time() - t0, 3),
                    "after_drop_s": round(time.time() - dropped_at, 3) if dropped_at else None,
                    "segment": client.segment,
                }
            )
            await self._serve(client)
            dropped_at = time.time()
            self.seen.drops.append(dropped_at)
            if self._drop.is_set():  # a network drop: media gone, no goodbye, 5 s away
                tracks = [s.track for s in client.pc.getSenders() if s.track] if client.pc else []
                await client.leave(vanish=True)
                for track in tracks:
                    track.stop()
                self._vanished.append(client)
                await asyncio.sleep(5.0)
                self._drop.clear()
            else:
                await _hang_up(client)
        for old in self._vanished:
            await _hang_up(old)

    async def _serve(self, client: CandidateClient) -> None:
        answering: asyncio.Task[None] | None = None
        try:
            while not self._stop.is_set():
                get = asyncio.create_task(client.messages.get())
                stop = asyncio.create_task(self._stop.wait())
                drop = asyncio.create_task(self._drop.wait())
                done, pending = await asyncio.wait(
                    {get, stop, drop}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                if get not in done:
                    return
                msg = get.result()
                if msg["type"] == "_closed":
                    return
                if msg["type"] == "show_question":
                    self.seen.questions.append(
                        {"at": time.time(), "id": msg["question_id"], "segment": client.segment}
                    )
                    if answering is not None:
                        answering.cancel()
                    answering = asyncio.create_task(self._answer(client, msg["question_id"]))
        finally:
            if answering is not None:
                answering.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await answering

    async def _answer(self, client: CandidateClient, qid: str) -> None:
        await asyncio.sleep(ANSWER_AFTER)
        with contextlib.suppress(Exception):
            await client.send({"type": "answer_done", "question_id": qid})

    def drop_network(self) -> None:
        """Lose the connection (media and socket, no goodbye) and stay away 5 s."""
        self._drop.set()

    def stop(self) -> None:
        self._stop.set()


async def _hang_up(client: CandidateClient) -> None:
    tracks = [s.track for s in client.pc.getSenders() if s.track] if client.pc else []
    with contextlib.suppress(Exception):
        await client.leave()
    for track in tracks:
        track.stop()


# -- observers ---------------------------------------------------------------------------


class BenchObserver:
    """A ``websockets`` observer on one node; reconnects with ``?after=`` and fills gaps."""

    def __init__(self, k: int, iv: dict[str, Any], nodes: list[str], token: str) -> None:
        self.k = k
        self.iid = iv["id"]
        self.nodes = nodes  # its node first, the other as fallback
        self.token = token
        self.seqs: set[int] = set()
        self.first_after: int | None = None
        self.delays: list[float] = []
        self.finals: dict[str, float] = {}
        self.reconnects = 0
        self.asked = 0
        self.refused: list[str] = []
        self._stop = asyncio.Event()

    @property
    def last(self) -> int:
        n = self.first_after or 0
        while n + 1 in self.seqs:
            n += 1
        return n

    async def run(self, http: ClientSession) -> None:
        attempt = 0
        while not self._stop.is_set():
            node = self.nodes[attempt % len(self.nodes)]
            url = node.replace("http", "ws", 1) + f"/ws/observer/{self.iid}?after={self.last}"
            try:
                async with websockets.connect(
                    url, additional_headers={"Authorization": f"Bearer {self.token}"}
                ) as ws:
                    attempt = 0
                    await self._session(ws, http, node)
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError):
                attempt += 1
            if not self._stop.is_set():
                self.reconnects += 1
                await asyncio.sleep(1.0)

    async def _session(self, ws: Any, http: ClientSession, node: str) -> None:
        asker = asyncio.create_task(self._ask(ws))
        try:
            async for raw in ws:
                if self._stop.is_set():
                    return
                msg = json.loads(raw)
                if msg["type"] == "history":
                    if self.first_after is None:
                        self.first_after = int(msg["after"])
                    for e in msg["events"]:
                        self.seqs.add(int(e["seq"]))
                elif msg["type"] == "event":
                    await self._event(msg["event"], http, node)
                elif msg["type"] == "error":
                    self.refused.append(str(msg.get("message", ""))[:80])
        finally:
            asker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asker

    async def _event(self, event: dict[str, Any], http: ClientSession, node: str) -> None:
        now = time.time()
        self.delays.append(now - wall(event["at"]))
        if event["type"] == "transcript_final":
            self.finals.setdefault(event["utterance_id"], now)
        if event["type"] in LIVE_ONLY:
            return
        seq = int(event["seq"])
        if seq > self.last + 1:  # a gap: catch up from the log, as event_stream.js does
            with contextlib.suppress(Exception):
                missed = await api(
                    http, "GET", f"{node}/api/interviews/{self.iid}/events?after={self.last}"
                )
                self.seqs.update(int(e["seq"]) for e in missed)
        self.seqs.add(seq)

    async def _ask(self, ws: Any) -> None:
        await asyncio.sleep(ASK_EVERY * (0.3 + 0.7 * (self.k % 5) / 5))
        while True:
            self.asked += 1
            text = f"Observer {self.k} asks question {self.asked}: what did you learn?"
            await ws.send(json.dumps({"type": "inject_question", "text": text}))
            await asyncio.sleep(ASK_EVERY)

    def stop(self) -> None:
        self._stop.set()


# -- processes ---------------------------------------------------------------------------


class Redis:
    """Our own redis-server (no persistence), restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = self.workdir / "redis.log"
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.workdir)]
        with log.open("ab") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.proc = Proc("redis", popen, log)
        time.sleep(0.3)

    def restart(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


class Usage:
    """CPU and RSS per named process, sampled every second (restarted processes included)."""

    def __init__(self, nodes: Nodes, names: list[str]) -> None:
        self.nodes = nodes
        self.names = names
        self.cpu: dict[str, float] = dict.fromkeys(names, 0.0)
        self.rss: dict[str, list[float]] = {n: [] for n in names}
        self._last: dict[int, float] = {}
        self.seconds = 0.0

    async def run(self) -> None:
        while True:
            for name in self.names:
                proc = self.nodes.procs.get(name)
                if proc is None or not proc.alive():
                    continue
                with contextlib.suppress(psutil.Error):
                    p = psutil.Process(proc.pid)
                    times = p.cpu_times()
                    used = times.user + times.system
                    self.cpu[name] += used - self._last.get(proc.pid, used)
                    self._last[proc.pid] = used
                    self.rss[name].append(p.memory_info().rss / 2**20)
            self.seconds += 1.0
            await asyncio.sleep(1.0)

    def table(self) -> dict[str, dict[str, float | None]]:
        return {
            n: {
                "cpu_pct": round(100 * self.cpu[n] / max(self.seconds, 1.0), 1),
                "rss_median_mb": round(float(np.median(self.rss[n])), 0) if self.rss[n] else None,
                "rss_max_mb": round(max(self.rss[n]), 0) if self.rss[n] else None,
            }
            for n in self.names
        }


async def owner_of(redis_url: str, iid: str) -> str | None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        value = await client.get(f"candor:lease:{iid}")
        return value.decode() if isinstance(value, bytes) else value
    finally:
        await client.aclose()


# -- the run -----------------------------------------------------------------------------


async def faults(
    args: argparse.Namespace,
    nodes: Nodes,
    redis: Redis,
    cands: list[BenchCandidate],
    log: list[dict[str, Any]],
    http: ClientSession,
) -> None:
    """The faults, spread evenly over the run."""
    chosen = [f for f in args.faults.split(",") if f]
    gap = args.seconds / (len(chosen) + 1)
    start = time.monotonic()
    restarts: list[asyncio.Task[None]] = []
    for i, fault in enumerate(chosen):
        await asyncio.sleep(max(0.0, start + (i + 1) * gap - time.monotonic()))
        at = time.time()
        entry: dict[str, Any] = {"fault": fault, "at": at}
        if fault == "node":
            victim = await owner_of(redis.url, cands[0].iv["id"]) or "a"
            entry["node"] = victim
            nodes.procs[victim].kill()
            progress(f"fault: SIGKILL node {victim}")
            restarts.append(asyncio.create_task(restart_node(nodes, victim, http)))
        elif fault == "redis":
            progress("fault: restart Redis")
            await asyncio.to_thread(redis.restart)
        elif fault == "worker":
            progress("fault: SIGKILL worker w1")
            nodes.procs["w1"].kill()
        elif fault == "network":
            progress("fault: candidate 0 loses its network for 5 s")
            cands[0].drop_network()
        log.append(entry)
    await asyncio.gather(*restarts)


async def restart_node(nodes: Nodes, name: str, http: ClientSession) -> None:
    """Bring a killed node back after 10 s (the load balancer's checks readmit it)."""
    await asyncio.sleep(10.0)
    nodes.start_node(name)
    await nodes.wait_up(http, nodes.url(name), nodes.procs[name])
    progress(f"node {name} restarted")


def what_candidates_saw(
    fault_log: list[dict[str, Any]],
    cands: list[BenchCandidate],
    logs: dict[str, list[dict[str, Any]]],
    end: float,
) -> list[dict[str, Any]]:
    """Per fault and candidate: dropped?, reconnect time, the machine's question resumed?"""
    out = []
    for i, fault in enumerate(fault_log):
        t0 = fault["at"]
        t1 = fault_log[i + 1]["at"] if i + 1 < len(fault_log) else end
        per = []
        for c in cands:
            drops = [d for d in c.seen.drops if t0 - 1 <= d < t1]
            rejoin = next(
                (j for j in c.seen.joins if drops and j["at"] >= drops[0] and "join_s" in j), None
            )
            # The interview's current question when the candidate came back (from the log:
            # while they were away the interview may have moved on, and a screen sent by a
            # node as it died may never have reached them).
            cut = rejoin["at"] if rejoin else t0
            shown = [
                e for e in logs[c.iv["id"]] if e["type"] == "question_shown" and wall(e["at"]) < cut
            ]
            before = [{"id": shown[-1]["question_id"]}] if shown else []
            after = [q for q in c.seen.questions if rejoin and q["at"] >= rejoin["at"]]
            per.append(
                {
                    "candidate": c.k,
                    "dropped": bool(drops),
                    "reconnect_s": rejoin["after_drop_s"] if rejoin else None,
                    "failed_attempts": [
                        j["failed"]
                        for j in c.seen.joins
                        if "failed" in j
                        and drops
                        and j["at"] >= drops[0]
                        and (rejoin is None or j["at"] < rejoin["at"])
                    ],
                    "new_segment": rejoin["segment"] if rejoin else None,
                    "resumed_current_question": (
                        (before[-1]["id"] == after[0]["id"]) if before and after else None
                    ),
                }
            )
        out.append(
            {
                "fault": fault["fault"],
                **{k: v for k, v in fault.items() if k == "node"},
                "candidates": per,
            }
        )
    return out


async def recordings_ok(http: ClientSession, base: str, iid: str) -> list[dict[str, Any]]:
    out = []
    for seg in await api(http, "GET", f"{base}/api/interviews/{iid}/recordings"):
        async with http.get(base + seg["url"]) as resp:
            data = await resp.read()
        frames = 0
        with contextlib.suppress(Exception), av.open(io.BytesIO(data), "r") as c:
            if c.streams.video:
                frames = sum(1 for _ in c.decode(c.streams.video[0]))
        out.append({"segment": seg["segment"], "status": seg.get("status"), "video_frames": frames})
    return out


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    wav = workdir / "speech.wav"
    speech_wav(wav, args.seconds + 60)
    redis = Redis(workdir)
    redis.start()
    async with postgres_database() as db_url:
        nodes = Nodes(
            workdir,
            db_url,
            redis.url,
            lease_seconds=3.0,
            asr=True,
            extra_env={
                "CANDOR_ASR__MODE": "redis",
                "CANDOR_ASR__CPU_THREADS": "1",
                "CANDOR_MODELS_DIR": str(ROOT / "models"),
            },
        )
        try:
            return await _run(args, nodes, redis, wav)
        finally:
            nodes.stop()
            redis.stop()


async def _run(args: argparse.Namespace, nodes: Nodes, redis: Redis, wav: Path) -> dict[str, Any]:
    async with ClientSession(timeout=ClientTimeout(total=60)) as http:
        nodes.start_node("a")
        await nodes.wait_up(http, nodes.url("a"), nodes.procs["a"])
        nodes.start_node("b")
        for w in range(args.workers):
            nodes.start_worker(f"w{w + 1}")
        await nodes.wait_up(http, nodes.url("b"), nodes.procs["b"])
        nodes.start_lb(["a", "b"])
        await nodes.wait_up(http, nodes.lb, nodes.procs["haproxy"])
        token = await sign_in(http, nodes.lb)
        http.headers["Authorization"] = f"Bearer {token}"
        ivs = [await new_interview(http, nodes.lb, k, ai=True) for k in range(args.candidates)]
        usage = Usage(nodes, ["a", "b", *[f"w{w + 1}" for w in range(args.workers)]])
        sampler = asyncio.create_task(usage.run())
        cands = [BenchCandidate(k, iv, nodes.lb, wav) for k, iv in enumerate(ivs)]
        urls = [nodes.url("a"), nodes.url("b")]
        observers = [
            BenchObserver(k, ivs[k % len(ivs)], [urls[k % 2], urls[(k + 1) % 2]], token)
            for k in range(args.observers)
        ]
        progress(f"{len(cands)} candidates and {len(observers)} observers start")
        tasks = [asyncio.create_task(c.run(http)) for c in cands]
        tasks += [asyncio.create_task(o.run(http)) for o in observers]
        fault_log: list[dict[str, Any]] = []
        fault_task = asyncio.create_task(faults(args, nodes, redis, cands, fault_log, http))
        try:
            await asyncio.sleep(args.seconds)
        finally:
            end = time.time()
            for c in cands:
                c.stop()
            await asyncio.sleep(8.0)  # observers see the candidates leave and segments close
            for o in observers:
                o.stop()
            fault_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fault_task
            await asyncio.wait(tasks, timeout=20)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        progress("run over; checking logs and recordings")
        per_iv: dict[str, Any] = {}
        lost = 0
        final_latency: list[float] = []
        processing: list[float] = []
        logs: dict[str, list[dict[str, Any]]] = {}
        lost_kinds: dict[str, int] = {}
        for iv in ivs:
            log = await api(http, "GET", f"{nodes.lb}/api/interviews/{iv['id']}/events")
            logs[iv["id"]] = log
            # Events stored after the observers hung up are not theirs to miss.
            seqs = {int(e["seq"]) for e in log if wall(e["at"]) < end + 6.0}
            joined = [e for e in log if e["type"] == "candidate_joined"]
            t0 = wall(joined[0]["at"]) - float(joined[0]["t"]) if joined else 0.0
            finals = {e["utterance_id"]: e for e in log if e["type"] == "transcript_final"}
            # When the final was made (its ``at``) after the speech ended (interview clock).
            processing += [wall(e["at"]) - (t0 + float(e["end"])) for e in finals.values()]
            for o in observers:
                if o.iid != iv["id"] or o.first_after is None:
                    continue
                missing = {s for s in seqs if s > o.first_after} - o.seqs
                lost += len(missing)
                for e in log:
                    if int(e["seq"]) in missing:
                        lost_kinds[e["type"]] = lost_kinds.get(e["type"], 0) + 1
                for uid, seen_at in o.finals.items():
                    if uid in finals:
                        final_latency.append(seen_at - (t0 + float(finals[uid]["end"])))
            observed = {u for o in observers if o.iid == iv["id"] for u in o.finals}
            per_iv[iv["id"]] = {
                "events": len(seqs),
                "finals_in_log": len(finals),
                "finals_seen_live_not_in_log": len(observed - set(finals)),
                "questions_shown": sum(1 for e in log if e["type"] == "question_shown"),
                "recordings": await recordings_ok(http, nodes.lb, iv["id"]),
            }
    joins = [j["join_s"] for c in cands for j in c.seen.joins[:1] if "join_s" in j]
    delays = [d for o in observers for d in o.delays]
    return {
        "scale": {
            "candidates": args.candidates,
            "observers": args.observers,
            "seconds": args.seconds,
            "workers": args.workers,
        },
        "join_latency_s": {"p50": pct(joins, 50), "p95": pct(joins, 95), "max": pct(joins, 100)},
        "observer_event_delay_s": {"p50": pct(delays, 50), "p95": pct(delays, 95)},
        "final_transcript_latency_s": {
            "seen_by_observers_p50": pct(final_latency, 50),
            "seen_by_observers_p95": pct(final_latency, 95),
            "made_after_speech_end_p50": pct(processing, 50),
            "made_after_speech_end_p95": pct(processing, 95),
            "n": len(processing),
        },
        "lost_events": lost,
        "lost_by_type": lost_kinds,
        "observer_reconnects": sum(o.reconnects for o in observers),
        "questions_asked": sum(o.asked for o in observers),
        "questions_refused": sum(len(o.refused) for o in observers),
        "usage": usage.table(),
        "faults": what_candidates_saw(fault_log, cands, logs, end),
        "interviews": per_iv,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--observers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--faults", default="node,redis,worker,network")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="candor-cluster-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    result["when"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(json.dumps(result, indent=2))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
