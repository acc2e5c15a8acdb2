"""Fuzz drivers shared by the CI fuzz tests and bench/fuzz.py: they count, tests assert."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from aiohttp import WSMsgType
from sqlalchemy import select

from analysis.competency import load_template, to_yaml
from analysis.competency.model import MAX_ERROR_CHARS, CompetencyModel, CompetencyModelError
from analysis.competency.yaml_io import from_yaml
from server.services import SERVICES, Services
from server.storage.models import Recording
from tests.fuzz.mutate import json_value, mutate_json, mutate_text, raw_garbage
from tests.server.helpers import AppClient, consent, new_interview

# Close codes a socket may end with on bad input (see server/routes/candidate.py).
CLEAN_CLOSES = {1000, 1001, 1009, 4400, 4404, 4409, 4413}


@dataclass
class FuzzStats:
    """What one fuzz run saw."""

    name: str
    inputs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    leaks: dict[str, int] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        """Record a failure (5xx, unclean close, unexpected exception); keep the first 20."""
        if len(self.failures) < 20:
            self.failures.append(what[:300])
        self.statuses["FAILED"] += 1

    def as_json(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        return {
            "name": self.name,
            "inputs": self.inputs,
            "statuses": dict(self.statuses),
            "failures": len(self.failures) and self.statuses["FAILED"],
            "first_failures": self.failures,
            "leaks": self.leaks,
        }


def services_of(client: AppClient) -> Services:
    """The app's services behind a test client."""
    svc: Services = client.app[SERVICES]
    return svc


def _recorder_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("recorder-"))


def _open_under(folder: Path) -> int:
    root = str(folder.resolve())
    return sum(1 for f in psutil.Process().open_files() if f.path.startswith(root))


async def leaks(client: AppClient, fds_before: int) -> dict[str, int]:
    """Recorder threads, open recording files, stuck rows, files on disk, extra descriptors."""
    svc = services_of(client)
    async with svc.sessions() as session:
        stuck = len(
            (await session.scalars(select(Recording).where(Recording.status == "recording"))).all()
        )
    rec_dir = svc.settings.recordings_dir
    files = sum(1 for p in rec_dir.rglob("*") if p.is_file()) if rec_dir.exists() else 0
    return {
        "recorder_threads": _recorder_threads(),
        "open_recording_files": _open_under(rec_dir) if rec_dir.exists() else 0,
        "recording_rows_stuck": stuck,
        "files_in_recordings_dir": files,
        "media_tasks": _media_tasks(),
        "extra_fds": max(0, psutil.Process().num_fds() - fds_before),
    }


def _media_tasks() -> int:
    # Recorder consumers and MediaRelay readers: each would pin a peer forever.
    return sum(
        1
        for t in asyncio.all_tasks()
        if t.get_name().startswith("rec-") or "run_track" in repr(t.get_coro())
    )


# -- REST bodies -------------------------------------------------------------


async def rest_targets(client: AppClient) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, a valid body) for every JSON-body route."""
    iv = await new_interview(client)
    iid, token = iv["id"], iv["invite_token"]
    jobs = await (await client.get("/api/jobs")).json()
    jid = jobs[0]["id"]
    cands = await (await client.post("/api/candidates", json={"name": "Han Mei"})).json()
    notice = await (await client.get(f"/api/join/{token}")).json()
    model = load_template("customer_service", "en").model_dump(mode="json")
    return [
        ("POST", "/api/login", {"email": "a@b.c", "password": "correct horse battery"}),
        (
            "POST",
            "/api/users",
            {"email": "u@x.io", "password": "long enough pw", "role": "recruiter"},
        ),
        ("POST", "/api/jobs", {"title": "Engineer", "language": "en"}),
        ("POST", "/api/candidates", {"name": "Li Lei", "email": "li@x.io"}),
        ("POST", "/api/interviews", {"job_id": jid, "candidate_id": cands["id"]}),
        ("POST", f"/api/interviews/{iid}/invite", {}),
        ("POST", f"/api/interviews/{iid}/access", {"user_id": "nobody"}),
        ("PUT", f"/api/jobs/{jid}/competency-model", model),
        ("POST", f"/api/jobs/{jid}/competency-model/from-template", {"key": "customer_service"}),
        ("POST", f"/api/interviews/{iid}/ratings", {"scores": {"x": 3}, "notes": "ok"}),
        ("POST", f"/api/interviews/{iid}/decision", {"decision": "hold", "notes": "n"}),
        ("PUT", f"/api/jobs/{jid}/scoring", {"weights": {"x": 1.0}}),
        ("POST", f"/api/interviews/{iid}/feedback", {"text": "Thanks", "send": False}),
        (
            "POST",
            f"/api/join/{token}/consent",
            {"recording": True, "ai_analysis": False, "notice_version": notice["notice_version"]},
        ),
        ("GET", "/api/audit", {"limit": "5"}),
        ("GET", "/api/templates/customer_service", {"language": "en"}),
        ("GET", f"/api/interviews/{iid}/recordings", {}),
    ]


async def fuzz_rest(client: AppClient, n: int, seed: int = 1) -> FuzzStats:
    """Send ``n`` fuzzed bodies (and query strings for GET routes); count answers."""
    rng = random.Random(seed)
    stats = FuzzStats("rest_bodies")
    targets = await rest_targets(client)
    fds = psutil.Process().num_fds()
    for i in range(n):
        method, path, valid = targets[i % len(targets)]
        keys = list(valid)
        style = rng.randrange(4)
        if method == "GET":
            params = {k: str(json_value(rng, 3))[:300] for k in keys or ["limit"]}
            resp = await client.get(path, params=params)
        else:
            if style == 0:
                data = raw_garbage(rng).encode("utf-8", "replace")
            elif style == 1:
                data = json.dumps(json_value(rng, 0, keys)).encode()
            else:
                data = json.dumps(mutate_json(rng, valid, keys)).encode()
            resp = await client.request(
                method, path, data=data, headers={"Content-Type": "application/json"}
            )
        stats.inputs += 1
        stats.statuses[str(resp.status)] += 1
        if resp.status >= 500:
            stats.fail(f"{method} {path}: {resp.status} {(await resp.text())[:200]}")
        resp.release()
    stats.leaks = await leaks(client, fds)
    return stats


# -- socket messages ---------------------------------------------------------

CANDIDATE_TYPES = ["answer_done", "ready", "heartbeat", "offer", "nonsense"]
OBSERVER_TYPES = [
    "inject_question",
    "approve_followup",
    "skip_followup",
    "add_observer_note",
    "give_live_rating",
    "view",
    "ping",
    "offer",
    "nonsense",
]
MESSAGE_KEYS = ["text", "position", "question_id", "competency_id", "score", "sdp", "note"]


def _message(rng: random.Random, types: list[str]) -> str:
    if rng.random() < 0.2:
        return raw_garbage(rng)
    body = json_value(rng, 1, MESSAGE_KEYS)
    msg = body if isinstance(body, dict) else {"x": body}
    msg["type"] = rng.choice(types)
    if msg["type"] == "offer" and isinstance(msg.get("sdp"), str) and msg["sdp"].startswith("v=0"):
        msg["sdp"] = "not " + msg["sdp"]  # real offers are the SDP fuzz's job
    return json.dumps(msg)


async def fuzz_sockets(client: AppClient, n: int, seed: int = 2) -> FuzzStats:
    """Send ``n`` fuzzed messages over the candidate and observer sockets."""
    rng = random.Random(seed)
    stats = FuzzStats("socket_messages")
    iv = await new_interview(client)
    await consent(client, iv["invite_token"], ai=False)
    paths = {
        "candidate": (f"/ws/candidate/{iv['invite_token']}", CANDIDATE_TYPES),
        "observer": (f"/ws/observer/{iv['id']}", OBSERVER_TYPES),
    }
    fds = psutil.Process().num_fds()
    sockets: dict[str, Any] = {}
    for i in range(n):
        which = "candidate" if i % 2 else "observer"
        path, types = paths[which]
        ws = sockets.get(which)
        if ws is None or ws.closed:
            resp_ws = await client.ws_connect(path)
            await resp_ws.receive(timeout=10)  # welcome / history
            sockets[which] = ws = resp_ws
        stats.inputs += 1
        await ws.send_str(_message(rng, types))
        # A ping after each message: the answer (or a close) shows the message was handled.
        await ws.send_str('{"type":"heartbeat"}' if which == "candidate" else '{"type":"ping"}')
        while True:
            msg = await ws.receive(timeout=10)
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                code = ws.close_code
                stats.statuses[f"close {code}"] += 1
                if code not in CLEAN_CLOSES:
                    stats.fail(f"{which} socket closed with {code}")
                await ws.close()
                break
            if msg.type == WSMsgType.TEXT:
                kind = json.loads(msg.data).get("type")
                if kind in ("heartbeat_ack", "pong"):
                    stats.statuses["answered"] += 1
                    break
    for ws in sockets.values():
        await ws.close()
    stats.leaks = await leaks(client, fds)
    return stats


# -- YAML import -------------------------------------------------------------

YAML_EXTRAS = [
    "x: &a [1, 2, 3]",
    "y: *a",
    "z: !!python/object/apply:os.system ['true']",
    "w: " + "[" * 60 + "]" * 60,
    "id: " + "k" * 500,
    "language: *missing",
    "<<: *a",
    "weight: 1e400",
    "%YAML 1.1",
    "---",
    "? complex key",
    "q: !!binary aGVsbG8=",
]


def fuzz_yaml(n: int, seed: int = 3) -> FuzzStats:
    """Import ``n`` mutated competency-model YAML files (in process)."""
    rng = random.Random(seed)
    stats = FuzzStats("yaml_import")
    seeds = [
        to_yaml(load_template(k, lang)) for k in ("customer_service",) for lang in ("en", "zh")
    ]
    for _ in range(n):
        text = mutate_text(rng, rng.choice(seeds), YAML_EXTRAS)
        stats.inputs += 1
        try:
            result = from_yaml(text)
        except CompetencyModelError as exc:
            stats.statuses["rejected"] += 1
            if any(len(e) > MAX_ERROR_CHARS for e in exc.errors) or len(exc.errors) > 21:
                stats.fail(f"error message too long: {len(str(exc))} characters")
        except Exception as exc:  # anything else would be a 500
            stats.fail(f"{type(exc).__name__}: {exc}")
        else:
            assert isinstance(result, CompetencyModel)
            stats.statuses["accepted"] += 1
    return stats


# -- SDP offers ----------------------------------------------------------------

SDP_EXTRAS = [
    "a=fingerprint:sha-256 ZZ:ZZ",
    "a=fingerprint:md5 00",
    "a=ice-ufrag:",
    "a=ice-pwd:x",
    "a=setup:bogus",
    "a=rtpmap:111 opus/0/0",
    "a=rtpmap:abc",
    "a=fmtp:97 apt=999999999999",
    "a=ssrc:-1 cname:x",
    "a=mid:",
    "a=group:BUNDLE 9 9 9",
    "a=extmap:99999 urn:x",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "m=video 0 RTP/AVP 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF",
    "c=IN IP6 ::::::",
    "a=candidate:1 1 udp 1 999.1.1.1 99999 typ host",
    "a=candidate:x",
    "a=sctp-port:-5",
    "a=rtcp:abc",
    "a=msid-semantic:WMS *",
    "a=sendrecv",
    "a=inactive",
    "b=AS:-1",
]


async def real_offer(kinds: tuple[str, ...] = ("audio", "video")) -> str:
    """A browser-like offer from an aiortc peer (no media flows: it is closed at once)."""
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    for kind in kinds:
        pc.addTransceiver(kind, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


class QuietLink:
    """The candidate's socket as the session sees it, for offers sent in process."""

    def __init__(self) -> None:
        self.closed = False

    async def send_json(self, data: Any) -> None:
        """Answers and questions are not needed here."""

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        """Mark closed (the session closes a replaced link with 4409)."""
        self.closed = True
        return True


async def fuzz_sdp(client: AppClient, n: int, seed: int = 4, via_socket: int = 100) -> FuzzStats:
    """Join with ``n`` mutated offers: most through the session, ``via_socket`` over the socket."""
    from media.candidate_peer import BadOffer
    from server.session_inputs import CandidateGone, CandidateOffer

    rng = random.Random(seed)
    stats = FuzzStats("sdp_offers")
    svc = services_of(client)
    iv = await new_interview(client)
    await consent(client, iv["invite_token"], ai=False)
    seeds = [await real_offer(), await real_offer(("audio",)), await real_offer(("video",))]
    fds = psutil.Process().num_fds()
    for i in range(n):
        sdp = mutate_text(rng, rng.choice(seeds).replace("\r\n", "\n"), SDP_EXTRAS)
        sdp = sdp.replace("\n", "\r\n")
        stats.inputs += 1
        if i < via_socket:
            ws = await client.ws_connect(f"/ws/candidate/{iv['invite_token']}")
            await ws.receive(timeout=10)
            await ws.send_json({"type": "offer", "sdp": sdp})
            msg = await ws.receive(timeout=10)
            if msg.type == WSMsgType.TEXT and json.loads(msg.data).get("type") == "answer":
                stats.statuses["accepted"] += 1
            elif msg.type == WSMsgType.TEXT:
                stats.statuses["rejected"] += 1
            else:
                stats.fail(f"socket ended without an answer or error: {msg.type} {ws.close_code}")
            await ws.close()
            continue
        session = svc.live.get(iv["id"])
        link = QuietLink()
        offer = CandidateOffer(sdp, link)
        session.submit(offer)
        try:
            await asyncio.wait_for(offer.reply, 30)
        except BadOffer:
            stats.statuses["rejected"] += 1
        except Exception as exc:
            stats.fail(f"{type(exc).__name__}: {exc}")
        else:
            stats.statuses["accepted"] += 1
            session.submit(CandidateGone(link, "left"))
    await svc.live.stop(iv["id"])
    stats.leaks = await leaks(client, fds)
    return stats
