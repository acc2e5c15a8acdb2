"""Summarize a bench/ice_trace.py trace: which side's consent checks failed, and why.

Usage: .venv/bin/python bench/ice_report.py bench/results/trace [--since EPOCH] [--json]

For each side (process): consent checks sent and missed; for the missed ones, whether the
other side received the request and how long after it was sent (the request waited in a
queue on its way) — or received it in time, so the answer was what came late; consents
expired; per connection pair, which side's ICE closed first; the loop lag (> 0.1 s) and CPU
each process logged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def load(directory: Path, since: float) -> list[dict[str, Any]]:
    events = []
    for path in sorted(directory.glob("ice-*.jsonl")):
        for line in path.read_text().splitlines():
            with_time = json.loads(line)
            if with_time["t"] >= since:
                events.append(with_time)
    return sorted(events, key=lambda e: e["t"])


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    received = {e["tid"]: e for e in events if e["ev"] == "stun_in"}
    checks = [e for e in events if e["ev"] == "check"]
    sides: dict[str, Any] = {}
    for who in sorted({e["who"] for e in checks}):
        mine = [e for e in checks if e["who"] == who]
        missed = [e for e in mine if not e["ok"]]
        arrived = [received[e["tid"]]["t"] - e["sent"] for e in missed if e["tid"] in received]
        answered = [e["rtt"] for e in mine if e["ok"]]
        all_arrivals = [received[e["tid"]]["t"] - e["sent"] for e in mine if e["tid"] in received]
        sides[who] = {
            "checks": len(mine),
            "missed": len(missed),
            "missed_request_never_reached_peer": len(missed) - len(arrived),
            "missed_request_reached_peer_after_s": {
                "p50": pct(arrived, 50),
                "p95": pct(arrived, 95),
                "max": pct(arrived, 100),
                "within_0.5s": sum(1 for a in arrived if a <= 0.5),
            },
            "request_reached_peer_after_s_all": {
                "p50": pct(all_arrivals, 50),
                "p95": pct(all_arrivals, 95),
            },
            "answered_rtt_s": {"p50": pct(answered, 50), "max": pct(answered, 100)},
            "check_timer_late_s": {
                "p95": pct([e["timer_late"] for e in mine], 95),
                "max": pct([e["timer_late"] for e in mine], 100),
            },
            "consent_expired": sum(1 for e in events if e["ev"] == "expired" and e["who"] == who),
        }
    # pairs: a connection is named by its two ufrags; which side's ICE closed first, and how
    closes: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["ev"] == "ice_close" and e["ru"] != "None":
            closes[frozenset((e["lu"], e["ru"]))].append(e)
    first: dict[str, int] = defaultdict(int)
    for evs in closes.values():
        head = evs[0]
        first[f"{head['who']} by {head['by']}"] += 1
    procs: dict[str, Any] = {}
    for who in sorted({e["who"] for e in events}):
        lags = [e["lag"] for e in events if e["ev"] == "lag" and e["who"] == who]
        cpu = [e["pct"] for e in events if e["ev"] == "cpu" and e["who"] == who]
        queue = [e["max"] for e in events if e["ev"] == "queue" and e["who"] == who]
        procs[who] = {
            "lag_over_0.1s": len(lags),
            "lag_over_0.5s": sum(1 for x in lags if x > 0.5),
            "lag_max_s": max(lags) if lags else None,
            "cpu_pct_p50": pct(cpu, 50),
            "cpu_pct_p95": pct(cpu, 95),
            "seconds": len(cpu),
            "aioice_queue_max_p95": pct([float(q) for q in queue], 95),
            "aioice_queue_max": max(queue) if queue else None,
        }
    return {"sides": sides, "closed_first": dict(first), "processes": procs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace", type=Path)
    parser.add_argument("--since", type=float, default=0.0)
    args = parser.parse_args()
    json.dump(summary(load(args.trace, args.since)), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
