"""Candidate import benchmark: preview and import a CSV of 1,000 and 10,000 new people.

Usage: .venv/bin/python bench/import_speed.py [--rows 1000 10000] [--database-url URL]

Starts the real app in-process on a loopback port (a fresh SQLite database unless
``--database-url`` names a PostgreSQL database, which is emptied first), signs in, and for
each size creates a job and sends a generated UTF-8 CSV to
``POST /api/jobs/{id}/candidates/import``: first ``?dry_run=1`` (the preview the job page
shows), then the import itself; then reads the job's board. Every new person gets their own
data key, as in production. Checks that every row was imported and that the board counts
them, and the longest time the event loop was blocked during the import (the server runs in
this process, so a live interview on it would have stalled that long). Prints a table and
writes bench/results/import.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.settings import Settings
from server.app import create_app

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench password not secret"


class LoopWatch:
    """How long the event loop (server and client share it here) was blocked at most."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        """Sleep 10 ms at a time; any overshoot is time the loop could not run anything."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.longest = max(self.longest, time.perf_counter() - before - 0.01)


def people_csv(rows: int, seed: int) -> bytes:
    """A CSV of ``rows`` distinct people (name, email, mobile, external id, tags)."""
    lines = ["name,email,phone,external_id,tags"]
    for n in range(rows):
        phone = f"13{seed % 10}{n:08d}"
        lines.append(f"候选人 {seed}-{n},p{seed}x{n}@example.com,{phone},ext-{n},campus;2026")
    return ("\n".join(lines) + "\n").encode()


async def empty_postgres(url: str) -> None:
    """Drop every table of the benchmark's PostgreSQL database (it is created again)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def run(sizes: list[int], database_url: str | None) -> dict[str, Any]:
    """Time preview, import and board for each size; returns the figures."""
    if database_url:
        await empty_postgres(database_url)
    with tempfile.TemporaryDirectory() as tmp:
        options: dict[str, Any] = {
            "data_dir": Path(tmp) / "data",
            "admin_email": ADMIN_EMAIL,
            "admin_password": ADMIN_PASSWORD,
            "master_key": base64.b64encode(os.urandom(32)).decode(),
            "secret_key": base64.b64encode(os.urandom(32)).decode(),
            "facial_analysis": "off",
            "asr": {"enabled": False},
            "workflow_poll_seconds": 3600,
        }
        if database_url:
            options["database_url"] = database_url
        settings = Settings(**options)
        server = TestServer(create_app(settings), host="127.0.0.1")
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        runs = []
        try:
            async with ClientSession() as http:
                login = await http.post(
                    f"{base}/api/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
                )
                token = (await login.json())["token"]
                auth = {"Authorization": f"Bearer {token}"}
                for seed, rows in enumerate(sizes):
                    runs.append(await one_size(http, base, auth, rows, seed))
        finally:
            await server.close()
    return {
        "database": "postgresql" if database_url else "sqlite",
        "runs": runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }


async def one_size(
    http: ClientSession, base: str, auth: dict[str, str], rows: int, seed: int
) -> dict[str, Any]:
    """Preview, import and board of one generated file into a new job."""
    resp = await http.post(f"{base}/api/jobs", json={"title": f"Bench {rows}"}, headers=auth)
    job = (await resp.json())["id"]
    body = people_csv(rows, seed)
    url = f"{base}/api/jobs/{job}/candidates/import"
    headers = {**auth, "Content-Type": "text/csv"}
    started = time.perf_counter()
    preview = await http.post(f"{url}?dry_run=1", data=body, headers=headers)
    previewed = await preview.json()
    preview_s = time.perf_counter() - started
    started = time.perf_counter()
    watch = LoopWatch()
    watcher = asyncio.create_task(watch.run())
    done = await http.post(url, data=body, headers=headers)
    result = await done.json()
    import_s = time.perf_counter() - started
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    if done.status != 200 or result.get("imported") != rows:
        raise RuntimeError(f"import of {rows} rows failed: {done.status} {str(result)[:300]}")
    started = time.perf_counter()
    board = await (await http.get(f"{base}/api/jobs/{job}/pipeline", headers=auth)).json()
    board_s = time.perf_counter() - started
    if board["counts"]["screened"] != rows:
        raise RuntimeError(f"the board counts {board['counts']['screened']} of {rows}")
    return {
        "rows": rows,
        "csv_bytes": len(body),
        "preview_valid": previewed.get("valid"),
        "preview_seconds": round(preview_s, 2),
        "import_seconds": round(import_s, 2),
        "preview_and_import_seconds": round(preview_s + import_s, 2),
        "rows_per_second": round(rows / import_s),
        "board_seconds": round(board_s, 2),
        "longest_loop_stall_ms": round(watch.longest * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL (emptied!)")
    args = parser.parse_args()
    result = asyncio.run(run(args.rows, args.database_url))
    print(f"database: {result['database']}; {result['machine']}")
    head = ("rows", "preview s", "import s", "both s", "rows/s", "board s", "stall ms")
    keys = ["rows", "preview_seconds", "import_seconds", "preview_and_import_seconds"]
    keys += ["rows_per_second", "board_seconds", "longest_loop_stall_ms"]
    print(" ".join(f"{h:>10}" for h in head))
    for r in result["runs"]:
        print(" ".join(f"{r[k]:>10}" for k in keys))
    RESULTS.mkdir(exist_ok=True)
    name = "import.json" if result["database"] == "sqlite" else "import_postgres.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
