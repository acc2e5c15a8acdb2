"""Compose smoke run: the real image and docker-compose.yml, started and checked from outside.

Usage: .venv/bin/python bench/compose_smoke.py [--build] [--no-interview] [--keep]
       [--timeout 900]

Needs a docker daemon and Compose (``docker compose`` or ``docker-compose`` 1.29). On a machine
without Docker Hub, run deploy/offline-base-images.sh first (local stand-ins for the base and
service images). Writes a throwaway env file (random keys, ``CANDOR_DOMAIN=localhost``,
``PUBLIC_IP=127.0.0.1``, free host ports), starts the whole stack with the proxy profile under
its own project name, and checks, through Caddy (https, its internal CA for localhost):
``/healthz``, ``/readyz`` (database, Redis, models), the sign-in page, ``/metrics`` hidden; on
the server's own loopback port: ``/metrics`` refused without the token and served with it;
the transcription worker's consumer in the Redis job group; the first admin password printed
once in the server's log. Unless ``--no-interview``: a candidate (aiortc, tests/client_peer.py)
joins through the proxy with real speech and generated video, with the TURN server the
server hands out (coturn, credentials minted per session): a relay candidate must be gathered;
transcription comes back from the worker container; the recording segment decodes. Reports
image size, build time, time to healthy, memory and CPU per container. Prints a table, writes
bench/results/compose_smoke.json. Always ends with ``down -v`` (unless ``--keep``).

Traffic stays on this machine: loopback and the containers' own bridge network.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "results" / "compose_smoke.json"
IMAGE = "candor:0.1.0"
LONG_RUNNING = ("postgres", "redis", "candor", "worker", "coturn", "proxy")
ADMIN_LINE = re.compile(r"First admin account: (\S+)\s+password: (\S+)")


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def docker_reachable(timeout: float = 10.0) -> bool:
    """True when a docker client is installed and its daemon answers."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def compose_command(timeout: float = 20.0) -> list[str] | None:
    """``docker compose`` (v2) when present, else ``docker-compose`` (v1), else None."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        if subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=timeout
        ).returncode == 0:
            return ["docker", "compose"]
    exe = shutil.which("docker-compose")
    return [exe] if exe else None


def free_port() -> int:
    """A TCP port free on every interface right now."""
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def write_env(path: Path) -> dict[str, str]:
    """A complete .env for the stack: random keys, localhost, free host ports."""
    env = {
        "CANDOR_DOMAIN": "localhost",
        "PUBLIC_IP": "127.0.0.1",
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "CANDOR_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "CANDOR_SECRET_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "TURN_SECRET": secrets.token_hex(32),
        "METRICS_TOKEN": secrets.token_hex(16),
        "CANDOR_LOCAL_PORT": str(free_port()),
        "HTTP_PORT": str(free_port()),
        "HTTPS_PORT": str(free_port()),
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)
    return env


@dataclass
class Compose:
    """One compose project (its own name, env file and the proxy profile)."""

    base: list[str]
    project: str
    env_file: Path
    log: list[dict[str, Any]] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        return [
            *self.base, "--project-name", self.project, "--project-directory", str(ROOT),
            "--env-file", str(self.env_file), "-f", str(ROOT / "docker-compose.yml"),
            "--profile", "proxy", *args,
        ]

    def run(self, *args: str, timeout: float = 300.0, check: bool = True) -> str:
        """Run one compose command (bounded); returns its output."""
        t0 = time.monotonic()
        done = subprocess.run(
            self.argv(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT,
        )
        self.log.append(
            {"args": list(args), "rc": done.returncode, "s": round(time.monotonic() - t0, 1)}
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"compose {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout + done.stderr

    def container(self, service: str) -> str:
        """The container id of a service ('' when it has none)."""
        ids = self.run("ps", "-q", service, timeout=60, check=False).split()
        return ids[-1] if ids and re.fullmatch(r"[0-9a-f]{12,64}", ids[-1]) else ""


def docker(*args: str, timeout: float = 60.0) -> str:
    """One docker command (bounded); returns stdout."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr[-1000:]}")
    return done.stdout


def health_of(cid: str) -> str:
    """A container's health status ('none' without a health check), or its state."""
    out = docker(
        "inspect", "--format",
        "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", cid,
    ).split()
    return out[1] if out[0] == "running" else out[0]


def stand_ins() -> dict[str, str]:
    """Images that are local stand-ins (deploy/offline-base-images.sh), with what they are."""
    names = [
        "python:3.11.11-slim-bookworm", "postgres:17.2-bookworm", "redis:7.4.1-bookworm",
        "coturn/coturn:4.6.3", "caddy:2.8.4-alpine",
    ]
    out = {}
    for name in names:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            label = docker(
                "image", "inspect", "--format", '{{index .Config.Labels "candor.stand-in"}}', name
            ).strip()
            if label and label != "<no value>":
                out[name] = label
    return out


async def wait_healthy(
    compose: Compose, services: tuple[str, ...], within: float
) -> dict[str, float]:
    """Seconds from now until each service's container reports healthy (raises past ``within``)."""
    t0 = time.monotonic()
    ids = {s: compose.container(s) for s in services}
    seen: dict[str, float] = {}
    while len(seen) < len(services):
        for name in services:
            if name in seen:
                continue
            if not ids[name]:
                ids[name] = compose.container(name)
            state = health_of(ids[name]) if ids[name] else "missing"
            if state == "healthy":
                seen[name] = round(time.monotonic() - t0, 1)
                progress(f"{name} healthy after {seen[name]} s")
            elif state in ("exited", "dead", "unhealthy", "restarting"):
                logs = compose.run("logs", "--tail", "40", name, check=False)[-3000:]
                raise RuntimeError(f"{name} is {state}:\n{logs}")
        if time.monotonic() - t0 > within:
            missing = sorted(set(services) - set(seen))
            raise TimeoutError(f"not healthy within {within:.0f} s: {missing}")
        await asyncio.sleep(1.0)
    return seen


def usage(compose: Compose) -> dict[str, dict[str, str]]:
    """Memory and CPU of each running container (docker stats, one sample)."""
    ids = {s: compose.container(s) for s in LONG_RUNNING}
    fmt = "{{.Container}}\t{{.MemUsage}}\t{{.CPUPerc}}\t{{.PIDs}}"
    rows = docker("stats", "--no-stream", "--format", fmt, *[i for i in ids.values() if i],
                  timeout=120).splitlines()
    out = {}
    for name, cid in ids.items():
        for row in rows:
            cols = row.split("\t")
            if cid and cid.startswith(cols[0]):
                out[name] = {"memory": cols[1].split(" / ")[0], "cpu": cols[2], "pids": cols[3]}
    return out


def docker_proxies() -> dict[str, float]:
    """Docker's userland proxies on this host (one per published port and address family)."""
    import psutil

    procs = [p for p in psutil.process_iter(["name", "memory_info"])
             if p.info["name"] == "docker-proxy"]
    rss = sum(p.info["memory_info"].rss for p in procs if p.info["memory_info"])
    return {"processes": len(procs), "rss_mb": round(rss / 2**20, 1)}


async def http_checks(env: dict[str, str]) -> dict[str, Any]:
    """What an operator and Prometheus see: through the proxy and on the local port."""
    proxy = f"https://localhost:{env['HTTPS_PORT']}"
    local = f"http://127.0.0.1:{env['CANDOR_LOCAL_PORT']}"
    out: dict[str, Any] = {}
    async with ClientSession(
        timeout=ClientTimeout(total=30), connector=TCPConnector(ssl=False)
    ) as http:
        async with http.get(f"http://localhost:{env['HTTP_PORT']}/healthz",
                            allow_redirects=False) as r:
            out["http_redirects_to_https"] = r.status in (301, 302, 307, 308)
        async with http.get(f"{proxy}/healthz") as r:
            out["proxy_healthz"] = r.status
        async with http.get(f"{proxy}/readyz") as r:
            out["proxy_readyz"] = r.status
            out["readyz_body"] = await r.json(content_type=None)
        async with http.get(f"{proxy}/login") as r:
            text = await r.text()
            out["proxy_login_page"] = r.status
            out["login_page_has_form"] = "<form" in text or "password" in text.lower()
        async with http.get(f"{proxy}/metrics") as r:
            out["proxy_metrics_hidden"] = r.status == 404
        async with http.get(f"{local}/metrics") as r:
            out["local_metrics_without_token"] = r.status
        async with http.get(
            f"{local}/metrics", headers={"Authorization": f"Bearer {env['METRICS_TOKEN']}"}
        ) as r:
            body = await r.text()
            out["local_metrics_with_token"] = r.status
            out["metrics_families"] = sum(1 for line in body.splitlines()
                                          if line.startswith("# TYPE"))
    return out


async def first_ready(env: dict[str, str], t0: float, within: float) -> float:
    """Seconds from t0 until the server's /readyz first answers 200 on its local port."""
    url = f"http://127.0.0.1:{env['CANDOR_LOCAL_PORT']}/readyz"
    async with ClientSession(timeout=ClientTimeout(total=5)) as http:
        while time.monotonic() - t0 < within:
            with contextlib.suppress(Exception):
                async with http.get(url) as r:
                    if r.status == 200:
                        return round(time.monotonic() - t0, 1)
            await asyncio.sleep(0.5)
    raise TimeoutError(f"/readyz not 200 within {within:.0f} s")


def worker_consumers(compose: Compose) -> list[dict[str, str]]:
    """The consumers of the transcription job group, as Redis reports them."""
    out = compose.run(
        "exec", "-T", "redis", "redis-cli", "--no-raw", "XINFO", "CONSUMERS",
        "candor:asr:jobs", "asr-workers", timeout=60, check=False,
    )
    names = re.findall(r'"name"\s*\n\s*\d+\)\s*"([^"]+)"', out)
    return [{"name": n} for n in names] or [{"raw": out.strip()[-500:]}]


async def interview(env: dict[str, str], password: str, email: str) -> dict[str, Any]:
    """A candidate joins through the proxy with real speech; transcripts come from the worker."""
    from bench.cluster import recordings_ok
    from tests.client_peer import CandidateClient, PatternVideoTrack
    from tests.cluster_nodes import api, new_interview
    from tests.media_files import duration_of, speech_file

    base = f"https://localhost:{env['HTTPS_PORT']}"
    out: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="candor-smoke-speech-"))
    try:
        audio = speech_file(tmp)
        seconds = duration_of(audio)
        async with ClientSession(
            timeout=ClientTimeout(total=60), connector=TCPConnector(ssl=False)
        ) as http:
            login = await api(http, "POST", f"{base}/api/login",
                              {"email": email, "password": password})
            http.headers["Authorization"] = f"Bearer {login['token']}"
            iv = await new_interview(http, base, 1, ai=True)
            cand = CandidateClient(base, iv["invite_token"], http)
            t0 = time.monotonic()
            try:
                await cand.join(audio_file=audio, video=PatternVideoTrack(320, 240, 15))
                out["join_s"] = round(time.monotonic() - t0, 2)
                assert cand.pc is not None
                sdp = cand.pc.localDescription.sdp
                out["client_relay_candidates"] = sdp.count(" typ relay")
                out["client_host_candidates"] = sdp.count(" typ host")
                await asyncio.sleep(seconds + 4.0)
            finally:
                await cand.leave()
            # the last utterance's final can come after the hang-up: wait until no new final
            # has arrived for 8 s (90 s at most)
            finals: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            deadline, quiet_since, count = time.monotonic() + 90, time.monotonic(), -1
            while time.monotonic() < deadline:
                events = await api(http, "GET", f"{base}/api/interviews/{iv['id']}/events")
                finals = [e for e in events if e["type"] == "transcript_final"]
                if len(finals) != count:
                    count, quiet_since = len(finals), time.monotonic()
                elif finals and time.monotonic() - quiet_since > 8.0:
                    break
                await asyncio.sleep(1.0)
            out["speech_s"] = round(seconds, 1)
            out["speech_file"] = audio.name
            out["finals"] = len(finals)
            out["transcript"] = " ".join(str(f["text"]) for f in finals)[:300]
            failed = [e for e in events if e["type"] == "analyzer_failed"]
            out["analyzer_failed"] = len(failed)
            out["analyzer_failures"] = [
                {k: v for k, v in e.items() if k not in ("id", "interview_id")} for e in failed
            ]
            out["recordings"] = await recordings_ok(http, base, iv["id"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


async def smoke(args: argparse.Namespace, compose: Compose, env: dict[str, str]) -> dict[str, Any]:
    report: dict[str, Any] = {"compose": " ".join(compose.base)}
    report["docker_server"] = docker("version", "--format", "{{.Server.Version}}").strip()
    if args.build:
        progress("building the image (docker build, as compose does)")
        t0 = time.monotonic()
        compose.run("build", "candor", timeout=args.timeout)
        report["build_s"] = round(time.monotonic() - t0, 1)
    report["image_bytes"] = int(docker("image", "inspect", "--format", "{{.Size}}", IMAGE))
    report["stand_ins"] = stand_ins()
    progress("up -d (proxy profile)")
    t0 = time.monotonic()
    ready = asyncio.create_task(first_ready(env, t0, args.timeout))
    try:
        await asyncio.to_thread(compose.run, "up", "-d", "--no-build", timeout=args.timeout)
        report["up_s"] = round(time.monotonic() - t0, 1)
        # health checks run every 10-30 s: the status lags what the server can already do
        report["readyz_200_after_s"] = await ready
    finally:
        ready.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ready
    healthy = await wait_healthy(compose, LONG_RUNNING, args.timeout)
    report["healthy_s"] = {k: round(v + report["up_s"], 1) for k, v in healthy.items()}
    report["migrate_exit"] = docker(
        "inspect", "--format", "{{.State.ExitCode}}", compose.container("migrate")
    ).strip()
    logs = compose.run("logs", "--no-color", "candor", timeout=60, check=False)
    admins = ADMIN_LINE.findall(logs)
    report["admin_password_printed_once"] = len(admins) == 1
    report["http"] = await http_checks(env)
    report["worker_consumers"] = worker_consumers(compose)
    report["user_in_candor"] = compose.run(
        "exec", "-T", "candor", "id", "-u", timeout=60, check=False).strip()
    report["models_in_image"] = compose.run(
        "exec", "-T", "candor", "ls", "/opt/candor/models", timeout=60, check=False).split()
    report["usage_idle"] = usage(compose)
    report["docker_proxy"] = docker_proxies()
    if not args.no_interview and admins:
        progress("a candidate joins through the proxy")
        report["interview"] = await interview(env, admins[0][1], admins[0][0])
        report["usage_after_interview"] = usage(compose)
        report["worker_log_tail"] = compose.run(
            "logs", "--no-color", "--tail", "5", "worker", timeout=60, check=False
        ).strip().splitlines()[-5:]
    return report


def table(report: dict[str, Any]) -> str:
    """The report as a short, readable table."""
    http = report.get("http", {})
    rows: list[tuple[str, Any]] = [
        ("docker server / compose", f"{report.get('docker_server')} / {report.get('compose')}"),
        ("build (s)", report.get("build_s", "not rebuilt")),
        ("image size (MB)", round(report.get("image_bytes", 0) / 1e6)),
        ("up -d (s)", report.get("up_s")),
        ("/readyz 200 after (s)", report.get("readyz_200_after_s")),
        ("health check healthy after (s)", report.get("healthy_s")),
        ("migrate exit code", report.get("migrate_exit")),
        ("proxy /healthz, /readyz, /login", (http.get("proxy_healthz"), http.get("proxy_readyz"),
                                             http.get("proxy_login_page"))),
        ("/metrics: proxy hidden, no token, token",
         (http.get("proxy_metrics_hidden"), http.get("local_metrics_without_token"),
          http.get("local_metrics_with_token"))),
        ("worker consumers", report.get("worker_consumers")),
        ("server uid", report.get("user_in_candor")),
    ]
    iv = report.get("interview")
    if iv:
        rows += [
            ("join through proxy (s)", iv.get("join_s")),
            ("relay / host candidates", (iv.get("client_relay_candidates"),
                                         iv.get("client_host_candidates"))),
            ("finals from the worker", iv.get("finals")),
            ("transcript", iv.get("transcript")),
            ("recordings", iv.get("recordings")),
        ]
    rows.append(("docker-proxy processes, RSS", report.get("docker_proxy")))
    for key in ("usage_idle", "usage_after_interview"):
        for name, u in (report.get(key) or {}).items():
            rows.append((f"{key} {name}", f"{u['memory']}  cpu {u['cpu']}  pids {u['pids']}"))
    if report.get("error"):
        rows.append(("ERROR", report["error"]))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--build", action="store_true", help="rebuild the image first (timed)")
    parser.add_argument("--no-interview", action="store_true", help="skip the candidate")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    parser.add_argument("--timeout", type=float, default=900.0, help="bound on each step (s)")
    args = parser.parse_args()
    if not docker_reachable():
        print("no docker daemon reachable", file=sys.stderr)
        return 2
    base = compose_command()
    if base is None:
        print("neither `docker compose` nor docker-compose is installed", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="candor-compose-"))
    env_file = workdir / "smoke.env"
    env = write_env(env_file)
    compose = Compose(base, f"candorsmoke{os.getpid()}", env_file)
    report: dict[str, Any] = {}
    try:
        report = asyncio.run(smoke(args, compose, env))
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"[:3000]
        report["logs"] = compose.run("logs", "--no-color", "--tail", "30", timeout=120,
                                     check=False)[-6000:]
    finally:
        if not args.keep:
            progress("down -v")
            compose.run("down", "-v", "--remove-orphans", timeout=300, check=False)
            shutil.rmtree(workdir, ignore_errors=True)
    report["compose_steps"] = compose.log
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, default=str))
    print(table(report))
    print(f"written {OUT.relative_to(ROOT)}")
    return 1 if report.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
