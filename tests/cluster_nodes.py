"""Real Candor nodes behind HAProxy on loopback, for the cluster tests and bench/cluster.py.

Every process started here is stopped by its PID (``Cluster.stop``), also on failure.
PostgreSQL (a database made for the run) and Redis (a database number of the caller's
choice) are shared by the nodes; the recordings directory is one folder both nodes use.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "candor.cfg"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])




@dataclass
class Proc:
    """One child process, stopped by PID."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL (a node that dies without any cleanup)."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, grace: float = 8.0) -> None:
        """SIGINT, then SIGKILL after ``grace`` seconds."""
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Nodes:
    """N Candor nodes, optional transcription workers, and HAProxy in front."""

    workdir: Path
    db_url: str
    redis_url: str
    lease_seconds: float = 3.0
    asr: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    worker_env: dict[str, str] = field(default_factory=dict)  # workers only, over extra_env
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    lb_port: int = 0
    master_key: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    secret_key: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())

    @property
    def lb(self) -> str:
        return f"http://127.0.0.1:{self.lb_port}"

    def url(self, node: str) -> str:
        return f"http://127.0.0.1:{self.ports[node]}"

    def env(self, node: str) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CANDOR_DATA_DIR": str(self.workdir / "data"),  # shared: recordings, keys
            "CANDOR_DATABASE_URL": self.db_url,
            "CANDOR_BUS": "redis",
            "CANDOR_REDIS_URL": self.redis_url,
            "CANDOR_CLUSTER": "true",
            "CANDOR_NODE_ID": node,
            "CANDOR_LEASE_SECONDS": str(self.lease_seconds),
            "CANDOR_ADMIN_EMAIL": ADMIN_EMAIL,
            "CANDOR_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CANDOR_MASTER_KEY": self.master_key,
            "CANDOR_SECRET_KEY": self.secret_key,
            "CANDOR_FACIAL_ANALYSIS": "off",
            "CANDOR_ASR__ENABLED": "true" if self.asr else "false",
            **self.extra_env,
        }
        env.pop("CANDOR_CONFIG", None)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        proc = self.procs[name] = Proc(name, popen, log)
        return proc

    def start_node(self, node: str) -> Proc:
        """``run.py serve`` for one node (its port is kept across restarts)."""
        port = self.ports.setdefault(node, free_port())
        argv = [sys.executable, str(ROOT / "run.py"), "serve", "--host", "127.0.0.1"]
        return self._spawn(node, [*argv, "--port", str(port)], self.env(node))

    def start_worker(self, name: str) -> Proc:
        """``run.py worker``: transcription passes from the Redis stream."""
        env = {**self.env(name), **self.worker_env}
        return self._spawn(name, [sys.executable, str(ROOT / "run.py"), "worker"], env)

    def start_lb(self, nodes: list[str]) -> Proc:
        """HAProxy with the documented config (deploy/haproxy/candor.cfg)."""
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            raise RuntimeError("haproxy is not installed: bash scripts/install.sh --test")
        self.lb_port = self.lb_port or free_port()
        env = {**os.environ, "CANDOR_LB_BIND": f"127.0.0.1:{self.lb_port}"}
        for letter, node in zip("AB", nodes, strict=False):
            env[f"CANDOR_NODE_{letter}"] = f"127.0.0.1:{self.ports[node]}"
        return self._spawn("haproxy", [haproxy, "-db", "-f", str(HAPROXY_CFG)], env)

    async def wait_up(
        self, http: ClientSession, base: str, proc: Proc | None = None, timeout: float = 90.0
    ) -> None:
        """Until ``base`` serves the sign-in page (``proc``, if given, must stay alive)."""
        deadline = time.monotonic() + timeout
        while True:
            if proc is not None and not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{self.logs(proc.name)}")
            with contextlib.suppress(OSError, TimeoutError):
                async with http.get(f"{base}/login", timeout=ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base} did not come up")
            await asyncio.sleep(0.3)

    def stop(self) -> None:
        """Stop every process started here, by PID (LB first, then nodes and workers)."""
        order = sorted(self.procs.values(), key=lambda p: p.name != "haproxy")
        for proc in order:
            with contextlib.suppress(Exception):
                proc.stop()

    def logs(self, name: str, lines: int = 40) -> str:
        """The tail of one process's log (for failure messages)."""
        proc = self.procs.get(name)
        if proc is None or not proc.log.exists():
            return ""
        return "\n".join(proc.log.read_text(errors="replace").splitlines()[-lines:])


async def sign_in(http: ClientSession, base: str) -> str:
    """The admin's bearer token."""
    async with http.post(
        f"{base}/api/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ) as resp:
        resp.raise_for_status()
        return str((await resp.json())["token"])


async def api(http: ClientSession, method: str, url: str, body: Any = None) -> Any:
    """One JSON API call (raises with the answer's text on an error status)."""
    async with http.request(method, url, json=body) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"{method} {url}: {resp.status} {await resp.text()}")
        return await resp.json()


async def new_interview(http: ClientSession, base: str, k: int, ai: bool = False) -> dict[str, Any]:
    """An observer-led interview (no competency model) with the candidate's consent."""
    job = await api(http, "POST", f"{base}/api/jobs", {"title": f"Cluster {k}", "language": "en"})
    cand = await api(http, "POST", f"{base}/api/candidates", {"name": f"Cluster candidate {k}"})
    iv: dict[str, Any] = await api(
        http, "POST", f"{base}/api/interviews", {"job_id": job["id"], "candidate_id": cand["id"]}
    )
    token = iv["invite_token"]
    notice = await api(http, "GET", f"{base}/api/join/{token}")
    await api(
        http,
        "POST",
        f"{base}/api/join/{token}/consent",
        {"recording": True, "ai_analysis": ai, "notice_version": notice["notice_version"]},
    )
    return iv
