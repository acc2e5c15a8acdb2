"""Redis clients survive a Redis restart (analysis/redis_client.py).

A client made by plain ``from_url`` keeps its pooled connection after Redis restarts and fails
the next command on it; in the full-scale fault run that lost a node's answer to a handover
request. The clients Candor makes reconnect and retry.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from analysis.redis_client import async_redis, sync_redis
from server.cluster import Cluster
from tests.cluster_nodes import free_port

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server (apt install redis-server)"
)


class OwnRedis:
    """A redis-server of the test's own, restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.workdir)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_commands_after_a_redis_restart_reconnect_instead_of_failing(
    own_redis: OwnRedis,
) -> None:
    plain = aioredis.from_url(own_redis.url)
    ours = async_redis(own_redis.url)
    blocking = sync_redis(own_redis.url)
    try:
        await plain.set("k", "1")
        await ours.set("k", "1")
        blocking.set("k", "1")
        own_redis.restart()
        with pytest.raises(RedisConnectionError):  # what happened to the node's reply
            await plain.publish("candor:test", "after restart")
        assert await ours.publish("candor:test", "after restart") == 0
        assert await ours.set("k", "2") is True
        assert blocking.get("k") == b"2"
    finally:
        await plain.aclose()
        await ours.aclose()
        blocking.close()


async def test_a_reply_that_cannot_be_sent_is_logged_not_left_in_a_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Unreachable:
        async def publish(self, channel: str, data: str) -> int:
            raise RedisConnectionError("Redis is gone")

    cluster = Cluster("redis://127.0.0.1:1/0", "node-a", 6.0)
    cluster._redis = Unreachable()

    async def handler(interview_id: str, message: dict[str, Any]) -> str:
        return "handed over"

    cluster.on_command = handler
    with caplog.at_level(logging.WARNING, logger="server.cluster"):
        await cluster._answer({"id": "r1", "from": "node-b", "op": "handover"}, "iv")
    assert "could not answer another node's request" in caplog.text
