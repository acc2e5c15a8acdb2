"""A candidate reaches the server only through a TURN relay (coturn, use-auth-secret).

Three network namespaces made by the test: the candidate's, the server's and the relay's.
The relay's namespace owns 10.231.0.1 (coturn) and a veth to each other namespace, and does
not forward, so candidate and server cannot exchange a single packet except through coturn's
relayed allocations. Signaling goes over a Unix socket (a file, not a network address).
Needs root, `ip netns` and coturn (`scripts/install.sh --test` installs it); skips otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from aiohttp import ClientSession, UnixConnector

pytestmark = [pytest.mark.timeout(180), pytest.mark.netns]

ROOT = Path(__file__).resolve().parents[2]
RELAY_IP = "10.231.0.1"
TURN_SECRET = "relay-test-" + secrets.token_hex(8)
STREAM_SECONDS = 5.0


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=10)


@dataclass
class Lab:
    """Namespace names of one test run."""

    turn: str
    cand: str
    srv: str

    def exec(self, ns: str, *cmd: str) -> list[str]:
        """The command line that runs ``cmd`` inside namespace ``ns``."""
        return ["ip", "netns", "exec", ns, *cmd]


def _can_make_namespaces() -> str | None:
    if os.geteuid() != 0:
        return "needs root to make network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    if shutil.which("turnserver") is None:
        return "coturn is not installed (scripts/install.sh --test installs it)"
    probe = "candor-probe-" + secrets.token_hex(3)
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, timeout=10)
    if made.returncode != 0:
        return f"ip netns is unavailable here: {made.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


@pytest.fixture
def lab() -> Iterator[Lab]:
    """Three namespaces wired as described above; deleted (with their veths) afterwards."""
    why = _can_make_namespaces()
    if why:
        pytest.skip(why)
    tag = secrets.token_hex(3)
    lab = Lab(f"cnd-turn-{tag}", f"cnd-cand-{tag}", f"cnd-srv-{tag}")
    made: list[str] = []
    try:
        for ns in (lab.turn, lab.cand, lab.srv):
            _ip("netns", "add", ns)
            made.append(ns)
            _ip("link", "set", "lo", "up", ns=ns)
        subprocess.run(
            lab.exec(lab.turn, "sysctl", "-qw", "net.ipv4.ip_forward=0"), check=True, timeout=10
        )
        _ip("addr", "add", f"{RELAY_IP}/32", "dev", "lo", ns=lab.turn)
        for side, ns, net in (("c", lab.cand, "10.231.1"), ("s", lab.srv, "10.231.2")):
            inner, outer = f"cnd{tag}{side}", f"cnd{tag}{side}t"
            _ip(
                "link",
                "add",
                inner,
                "netns",
                ns,
                "type",
                "veth",
                "peer",
                "name",
                outer,
                "netns",
                lab.turn,
            )
            _ip("addr", "add", f"{net}.1/24", "dev", outer, ns=lab.turn)
            _ip("link", "set", outer, "up", ns=lab.turn)
            _ip("addr", "add", f"{net}.2/24", "dev", inner, ns=ns)
            _ip("link", "set", inner, "up", ns=ns)
            _ip("route", "add", f"{RELAY_IP}/32", "via", f"{net}.1", ns=ns)
        yield lab
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


@contextlib.contextmanager
def running(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    """Start ``cmd``; on exit stop that PID (SIGTERM, then SIGKILL) whatever happened."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def coturn(lab: Lab, tmp: Path) -> list[str]:
    """coturn on the relay address, checking credentials minted from TURN_SECRET."""
    return lab.exec(
        lab.turn,
        "turnserver",
        "-n",
        "-v",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        f"--listening-ip={RELAY_IP}",
        f"--relay-ip={RELAY_IP}",
        "--listening-port=3478",
        "--min-port=49160",
        "--max-port=49260",
        "--use-auth-secret",
        f"--static-auth-secret={TURN_SECRET}",
        "--realm=candor.test",
        "--fingerprint",
        "--simple-log",
        "--log-file=stdout",
        f"--pidfile={tmp / 'turnserver.pid'}",
        f"--allowed-peer-ip={RELAY_IP}",
        "--allowed-peer-ip=10.231.1.0-10.231.2.255",
    )


async def _wait_for_socket(path: Path, within: float, proc_log: Path) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists():
            with contextlib.suppress(OSError):
                async with ClientSession(connector=UnixConnector(path=str(path))) as http:
                    async with http.get("http://candor/login") as resp:
                        if resp.status == 200:
                            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the server did not start:\n{proc_log.read_text()[-3000:]}")


async def test_a_candidate_connects_only_through_the_turn_relay(lab: Lab, tmp_path: Path) -> None:
    # the two namespaces really cannot reach each other
    ping = await asyncio.to_thread(
        subprocess.run,
        lab.exec(lab.cand, "ping", "-c", "1", "-W", "1", "10.231.2.2"),
        capture_output=True,
        timeout=10,
    )
    assert ping.returncode != 0
    sock = tmp_path / "candor.sock"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CANDOR_DATA_DIR": str(tmp_path / "data"),
        "CANDOR_ADMIN_EMAIL": "admin@example.com",
        "CANDOR_ADMIN_PASSWORD": "correct horse battery staple",
        "CANDOR_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CANDOR_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CANDOR_ASR__ENABLED": "false",
        "CANDOR_FACIAL_ANALYSIS": "off",
        "CANDOR_MODELS_DIR": str(ROOT / "models"),
        "CANDOR_ICE_SERVERS": f"turn:{RELAY_IP}:3478?transport=udp",
        "CANDOR_TURN_SECRET": TURN_SECRET,
    }
    py = sys.executable
    with (
        running(coturn(lab, tmp_path), tmp_path / "coturn.log"),
        running(
            lab.exec(lab.srv, py, "-m", "tests.netns.lab", "serve", str(sock)),
            tmp_path / "server.log",
            env,
        ),
    ):
        await _wait_for_socket(sock, 60, tmp_path / "server.log")
        async with ClientSession(connector=UnixConnector(path=str(sock))) as http:
            base = "http://candor"
            resp = await http.post(
                f"{base}/api/login",
                json={"email": "admin@example.com", "password": "correct horse battery staple"},
            )
            assert resp.status == 200
            # bearer token, no cookie: API writes need no page's CSRF token then
            http.cookie_jar.clear()
            http.headers["Authorization"] = f"Bearer {(await resp.json())['token']}"
            job = await (await http.post(f"{base}/api/jobs", json={"title": "Eng"})).json()
            cand = await (await http.post(f"{base}/api/candidates", json={"name": "A"})).json()
            iv = await (
                await http.post(
                    f"{base}/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}
                )
            ).json()
            token = iv["invite_token"]
            notice = await (await http.get(f"{base}/api/join/{token}")).json()
            await http.post(
                f"{base}/api/join/{token}/consent",
                json={
                    "recording": True,
                    "ai_analysis": False,
                    "notice_version": notice["notice_version"],
                },
            )
            joined = await asyncio.to_thread(
                subprocess.run,
                lab.exec(
                    lab.cand,
                    py,
                    "-m",
                    "tests.netns.lab",
                    "candidate",
                    str(sock),
                    token,
                    str(STREAM_SECONDS),
                ),
                env=env,
                capture_output=True,
                timeout=90,
            )
            out = joined.stdout.decode()
            assert joined.returncode == 0, (
                out + joined.stderr.decode()[-3000:] + (tmp_path / "coturn.log").read_text()[-2000:]
            )
            assert json.loads(out.strip().splitlines()[-1])["ice"] == "completed"
            # the recording is complete: finalized, with about STREAM_SECONDS of audio and video
            segs: list[dict[str, object]] = []
            for _ in range(100):
                segs = await (await http.get(f"{base}/api/interviews/{iv['id']}/recordings")).json()
                if segs and segs[0]["status"] == "final":
                    break
                await asyncio.sleep(0.2)
            [seg] = segs
            assert seg["status"] == "final"
            data = await (await http.get(f"{base}{seg['url']}")).read()
    with av.open(io.BytesIO(data), mode="r") as c:
        frames = len(list(c.decode(c.streams.video[0])))
    with av.open(io.BytesIO(data), mode="r") as c:
        audio_s = sum((f.samples / f.sample_rate for f in c.decode(c.streams.audio[0])), 0.0)
    # the first second goes to ICE, allocation and DTLS through the relay
    assert frames >= 15 * (STREAM_SECONDS - 2), frames
    assert audio_s >= STREAM_SECONDS - 2, audio_s
    # coturn checked the credentials the candidate page endpoint minted (username ends "-c")
    log = (tmp_path / "coturn.log").read_text()
    assert any(
        "-c>" in line and "ALLOCATE processed, success" in line for line in log.splitlines()
    ), log[-3000:]
