"""Webhook fan-out benchmark: 1,000 events to 5 endpoints, one of them down at first.

Usage: .venv/bin/python bench/webhooks.py [--events 1000] [--endpoints 5] [--down-seconds 5]

Starts the real app in-process (fresh SQLite database, encrypted outbox), subscribes five
local receivers that verify every Standard Webhooks signature, and queues the events through
``emit_webhook`` (100 interviews, events in order within each). One receiver's port refuses
connections for ``--down-seconds``, then comes up: its messages wait in the outbox, are
retried, and must all arrive too. Reports p50/p95/max latency (queued -> accepted) for the
healthy receivers and for the one that was down, duplicates, losses and order violations.
Prints a table and writes bench/results/webhooks.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from standardwebhooks import Webhook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.settings import Settings
from server.app import create_app
from server.integrations.webhooks.outbox import emit_webhook
from server.services import SERVICES
from server.storage.models import WebhookEndpoint

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Sink:
    """One receiver: verifies signatures, records arrival time per message id."""

    secret: str = ""
    arrived: dict[str, float] = field(default_factory=dict)
    at_n: dict[int, float] = field(default_factory=dict)  # event number -> arrival time
    order: dict[str, list[int]] = field(default_factory=dict)
    duplicates: int = 0
    bad: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except Exception:
            self.bad += 1
            return web.Response(status=401)
        msg_id = request.headers["webhook-id"]
        if msg_id in self.arrived:
            self.duplicates += 1
        else:
            self.arrived[msg_id] = time.time()
            data = payload["data"]
            self.at_n[int(data["n"])] = self.arrived[msg_id]
            self.order.setdefault(data["interview_id"], []).append(int(data["n"]))
        return web.Response(status=204)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(sink: Sink, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/hook", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else 0.0


async def run(events: int, endpoints: int, down_seconds: float) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="candor-bench-webhooks-"))
    fields: dict[str, Any] = {
        "data_dir": data_dir,
        "admin_password": "bench password 123",
        "master_key": base64.b64encode(os.urandom(32)).decode(),
        "secret_key": base64.b64encode(os.urandom(32)).decode(),
        "facial_analysis": "off",
        "asr": {"enabled": False},
        # Short retries so the down receiver's backlog drains within the run.
        "webhooks": {"retry_delays_s": [1, 2, 4, 8, 16, 32], "poll_s": 0.05, "max_in_flight": 32},
    }
    settings = Settings(**fields)
    server = TestServer(create_app(settings))
    await server.start_server()
    svc = server.app[SERVICES]
    sinks = [Sink() for _ in range(endpoints)]
    ports = [free_port() for _ in range(endpoints)]
    pairs = list(zip(sinks, ports, strict=True))
    runners = [await serve(s, p) for s, p in pairs[1:]]  # sink 0 is down at first
    async with svc.sessions() as session, session.begin():
        for sink, port in pairs:
            sink.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
            session.add(
                WebhookEndpoint(
                    url=f"http://127.0.0.1:{port}/hook",
                    events=["*"],
                    secret=sink.secret,
                    scopes=["interviews:read"],
                    disabled_reason="",
                )
            )
    queued_at: dict[int, float] = {}
    started = time.time()

    async def come_up() -> None:
        await asyncio.sleep(down_seconds)
        runners.append(await serve(sinks[0], ports[0]))

    up = asyncio.create_task(come_up())
    for n in range(events):
        async with svc.sessions() as session, session.begin():
            await emit_webhook(
                session,
                "interview.started",
                {"interview_id": f"iv{n % 100:03d}", "job_id": "job", "n": n},
            )
        queued_at[n] = time.time()
    queue_s = time.time() - started
    await up
    deadline = time.time() + 100
    while time.time() < deadline and any(len(s.arrived) < events for s in sinks):  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    total_s = time.time() - started
    for runner in runners:
        await runner.cleanup()
    await server.close()

    def lat(sink: Sink) -> list[float]:
        """Queued -> accepted, per event."""
        return [at - queued_at[n] for n, at in sink.at_n.items()]

    healthy = [x for s in sinks[1:] for x in lat(s)]
    down = lat(sinks[0])
    misordered = sum(1 for s in sinks for seq in s.order.values() if seq != sorted(seq))
    return {
        "events": events,
        "endpoints": endpoints,
        "down_seconds": down_seconds,
        "queue_seconds": round(queue_s, 2),
        "total_seconds": round(total_s, 2),
        "delivered": [len(s.arrived) for s in sinks],
        "lost": sum(events - len(s.arrived) for s in sinks),
        "duplicates": sum(s.duplicates for s in sinks),
        "bad_signatures": sum(s.bad for s in sinks),
        "misordered_interviews": misordered,
        "healthy_latency_s": {
            "p50": round(statistics.median(healthy), 3) if healthy else None,
            "p95": round(pct(healthy, 0.95), 3),
            "max": round(max(healthy), 3) if healthy else None,
        },
        "down_latency_s": {
            "p50": round(statistics.median(down), 3) if down else None,
            "p95": round(pct(down, 0.95), 3),
            "max": round(max(down), 3) if down else None,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=5)
    parser.add_argument("--down-seconds", type=float, default=5.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.endpoints, args.down_seconds))
    print(f"{'measure':<34} value")
    print(f"{'events x endpoints':<34} {result['events']} x {result['endpoints']}")
    print(f"{'delivered per endpoint':<34} {result['delivered']}")
    lost, dup, bad = result["lost"], result["duplicates"], result["bad_signatures"]
    print(f"{'lost / duplicates / bad signatures':<34} {lost} / {dup} / {bad}")
    print(f"{'interviews out of order':<34} {result['misordered_interviews']}")
    h, d = result["healthy_latency_s"], result["down_latency_s"]
    print(f"{'healthy latency p50 / p95 / max s':<34} {h['p50']} / {h['p95']} / {h['max']}")
    print(f"{'down-at-first latency p50/p95/max':<34} {d['p50']} / {d['p95']} / {d['max']}")
    took = f"{result['queue_seconds']} / {result['total_seconds']}"
    print(f"{'queueing took / all delivered in s':<34} {took}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webhooks.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
