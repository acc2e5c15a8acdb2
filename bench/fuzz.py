"""Longer fuzz runs than CI: REST bodies, socket messages, YAML import and SDP offers.

    PYTHONPATH=. python bench/fuzz.py --n 10000

Prints a table and writes bench/results/fuzz.json with the counts (inputs, answers by
status, failures, leaks). Uses a fresh app on a temporary data folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from tests.fuzz.drivers import FuzzStats, fuzz_rest, fuzz_sdp, fuzz_sockets, fuzz_yaml
from tests.server.helpers import make_settings, sign_in

RESULTS = Path(__file__).resolve().parent / "results" / "fuzz.json"


async def run(n: int, seed: int, only: list[str]) -> list[tuple[FuzzStats, float]]:
    """Each fuzzer on its own fresh app; (stats, seconds)."""
    out: list[tuple[FuzzStats, float]] = []
    for name in only:
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(make_settings(Path(tmp)))
            async with TestClient(TestServer(app)) as client:
                await sign_in(client)
                t0 = time.perf_counter()
                if name == "rest":
                    stats = await fuzz_rest(client, n, seed)
                elif name == "sockets":
                    stats = await fuzz_sockets(client, n, seed)
                elif name == "yaml":
                    stats = await asyncio.to_thread(fuzz_yaml, n, seed)
                else:
                    stats = await fuzz_sdp(client, n, seed, via_socket=max(100, n // 20))
                out.append((stats, time.perf_counter() - t0))
    return out


def main() -> None:
    """Parse arguments, run, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="inputs per fuzzer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="*", default=["rest", "sockets", "yaml", "sdp"])
    args = parser.parse_args()
    results = asyncio.run(run(args.n, args.seed, args.only))
    print(f"{'fuzzer':<16}{'inputs':>8}{'failures':>10}{'seconds':>9}  answers / leaks")
    rows: list[dict[str, Any]] = []
    for stats, seconds in results:
        failures = stats.statuses.get("FAILED", 0)
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses.items()))
        print(f"{stats.name:<16}{stats.inputs:>8}{failures:>10}{seconds:>9.1f}  {answers}")
        print(f"{'':<43}{stats.leaks}")
        rows.append({**stats.as_json(), "seconds": round(seconds, 1), "seed": args.seed})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
