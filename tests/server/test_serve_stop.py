"""The real server process (`python run.py serve`) stops promptly with an interview live."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from aiohttp import ClientSession, CookieJar

from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CYCLES = 3  # each one starts a process; the in-process test runs twenty cycles


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CANDOR_DATA_DIR": str(data),
        "CANDOR_ADMIN_EMAIL": ADMIN_EMAIL,
        "CANDOR_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CANDOR_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CANDOR_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CANDOR_ASR__ENABLED": "false",
        "CANDOR_FACIAL_ANALYSIS": "off",
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_until_up(http: ClientSession, base: str) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                async with http.get(f"{base}/login") as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.2)


async def live_interview(http: ClientSession, base: str) -> tuple[CandidateClient, str]:
    """Sign in, schedule an interview, consent and join as an aiortc candidate."""
    resp = await http.post(
        f"{base}/api/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert resp.status == 200, await resp.text()
    # A script, not a page: it uses the bearer token (cookie writes need the CSRF token).
    auth = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    job = await (
        await http.post(f"{base}/api/jobs", json={"title": "Ops", "language": "en"}, headers=auth)
    ).json()
    cand = await (
        await http.post(f"{base}/api/candidates", json={"name": "Wu"}, headers=auth)
    ).json()
    iv = await (
        await http.post(
            f"{base}/api/interviews",
            json={"job_id": job["id"], "candidate_id": cand["id"]},
            headers=auth,
        )
    ).json()
    token = iv["invite_token"]
    notice = await (await http.get(f"{base}/api/join/{token}")).json()
    await http.post(
        f"{base}/api/join/{token}/consent",
        json={"recording": True, "ai_analysis": True, "notice_version": notice["notice_version"]},
    )
    client = CandidateClient(base, token, http)
    await client.join(video=PatternVideoTrack())
    async with asyncio.timeout(20):
        while True:
            url = f"{base}/api/interviews/{iv['id']}/events"
            events = await (await http.get(url, headers=auth)).json()
            if any(e["type"] == "media_started" for e in events):
                return client, str(iv["id"])
            await asyncio.sleep(0.1)


async def test_the_server_process_stops_within_five_seconds_with_an_interview_live(
    tmp_path: Path,
) -> None:
    for cycle in range(CYCLES):
        await stop_in_time(tmp_path / str(cycle), free_port())


async def stop_in_time(data: Path, port: int) -> None:
    """One cycle: start, make an interview live, SIGINT, exit (code 0) within 5 s."""
    base = f"http://127.0.0.1:{port}"
    proc = start_server(data, port)
    try:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            await wait_until_up(http, base)
            cand, iid = await live_interview(http, base)
            obs = await http.ws_connect(base.replace("http", "ws", 1) + f"/ws/observer/{iid}")
            proc.send_signal(signal.SIGINT)
            code = await asyncio.to_thread(proc.wait, 5)  # raises TimeoutExpired if it hangs
            assert code == 0
            await obs.close()
            await cand.leave()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
