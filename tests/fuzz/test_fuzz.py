"""Bounded fuzzing in CI: 2,000 inputs each, no 5xx, no unclean socket close, nothing leaked."""

from __future__ import annotations

import asyncio

from tests.fuzz.drivers import FuzzStats, fuzz_rest, fuzz_sdp, fuzz_sockets, fuzz_yaml
from tests.server.helpers import AppClient

N = 2000
NO_LEAKS = {
    "recorder_threads": 0,
    "open_recording_files": 0,
    "recording_rows_stuck": 0,
    "files_in_recordings_dir": 0,
    "media_tasks": 0,
}


def assert_clean(stats: FuzzStats) -> None:
    assert stats.inputs >= N
    assert not stats.failures, stats.failures
    leaked = {k: v for k, v in stats.leaks.items() if k != "extra_fds"}
    assert leaked == {k: 0 for k in leaked}, stats.leaks
    # Pools (SQLite, the thread executor) may open a few descriptors; a leak would be hundreds.
    assert stats.leaks.get("extra_fds", 0) <= 10, stats.leaks


async def test_fuzzed_rest_bodies_never_get_a_5xx(admin: AppClient) -> None:
    stats = await fuzz_rest(admin, N)
    assert_clean(stats)
    assert sum(v for k, v in stats.statuses.items() if k.startswith("4")) > N // 2


async def test_fuzzed_socket_messages_never_break_a_socket(admin: AppClient) -> None:
    assert_clean(await fuzz_sockets(admin, N))


def test_fuzzed_yaml_imports_fail_cleanly_with_short_messages() -> None:
    stats = fuzz_yaml(N)
    assert not stats.failures, stats.failures
    assert stats.statuses["rejected"] > 0


async def test_fuzzed_sdp_offers_leave_nothing_behind(admin: AppClient) -> None:
    stats = await fuzz_sdp(admin, N)
    await asyncio.sleep(0.2)  # let closing peers' callbacks run
    assert_clean(stats)
    assert stats.statuses["rejected"] > 0
