"""Several server processes: ownership leases and a command channel per interview, in Redis.

Each live interview is owned by exactly one node at a time: its lease is a Redis key
``candor:lease:<interview id>`` holding the owner's node id, taken with ``SET NX PX``,
renewed while the session runs and released (only by its holder) when it closes. A node
that dies stops renewing: its leases expire after ``lease_seconds`` and another node may
take them.

Nodes that do not own an interview reach its session through the command channel
``candor:cmd:<interview id>`` (every node listens; only the node running the session
answers) and get the answer on their own ``candor:reply:<node id>`` channel.
See docs/operations.md "Scaling out".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

LEASE_PREFIX = "candor:lease:"
COMMAND_PREFIX = "candor:cmd:"
REPLY_PREFIX = "candor:reply:"
REQUEST_SECONDS = 10.0

# Only the holder may renew or release its lease (a compare-and-set in one step).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""

CommandHandler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class NoOwner(RuntimeError):
    """No node answered for the interview (its owner died or just let go)."""


class RemoteRefused(RuntimeError):
    """The owning node refused a request; the message says why, ``code`` what kind of refusal."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Cluster:
    """This node's view of the others: leases, and requests to the owner of an interview."""

    def __init__(self, redis_url: str, node_id: str, lease_seconds: float) -> None:
        self.node_id = node_id
        self.lease_seconds = lease_seconds
        self._url = redis_url
        self._redis: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self.on_command: CommandHandler | None = None

    @property
    def _ttl_ms(self) -> int:
        return int(self.lease_seconds * 1000)

    async def start(self) -> None:
        """Connect and listen for commands and replies."""
        from analysis.redis_client import async_redis

        self._redis = async_redis(self._url)
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(COMMAND_PREFIX + "*")
        await self._pubsub.subscribe(REPLY_PREFIX + self.node_id)
        self._reader = asyncio.create_task(self._read(), name="cluster-reader")

    async def aclose(self) -> None:
        """Stop listening, fail pending requests, close the connection."""
        tasks = [t for t in (self._reader, *self._handlers) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NoOwner("the server is stopping"))
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    # -- leases ------------------------------------------------------------------------

    async def acquire(self, interview_id: str) -> bool:
        """Take the interview's lease if nobody holds it (True if this node holds it now)."""
        key = LEASE_PREFIX + interview_id
        if await self._redis.set(key, self.node_id, nx=True, px=self._ttl_ms):
            return True
        return await self.holder(interview_id) == self.node_id

    async def renew(self, interview_id: str) -> bool:
        """Extend this node's lease; False if it was lost (expired and taken by another)."""
        key = LEASE_PREFIX + interview_id
        renewed = await self._redis.eval(_RENEW, 1, key, self.node_id, self._ttl_ms)
        if renewed:
            return True
        # Vacant (Redis restarted and keeps nothing, or it expired): take it again. Two renewals
        # of this node may run at once (the renewal loop and a step's lease check): the one
        # whose SET NX loses to the other still holds the lease. Answering False there stopped
        # a live interview after a Redis restart and moved its candidate (docs/operations.md).
        if await self._redis.set(key, self.node_id, nx=True, px=self._ttl_ms):
            return True
        return await self.holder(interview_id) == self.node_id

    async def release(self, interview_id: str) -> None:
        """Let go of the interview's lease (only if this node holds it)."""
        await self._redis.eval(_RELEASE, 1, LEASE_PREFIX + interview_id, self.node_id)

    async def holder(self, interview_id: str) -> str | None:
        """The node holding the interview's lease, if any."""
        value = await self._redis.get(LEASE_PREFIX + interview_id)
        return value.decode() if isinstance(value, bytes) else value

    # -- requests to the owner ---------------------------------------------------------

    async def request(
        self, interview_id: str, op: str, timeout: float = REQUEST_SECONDS, **body: Any
    ) -> Any:
        """Send one command to the interview's owner and wait for its answer."""
        rid = uuid.uuid4().hex
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        message = {"id": rid, "from": self.node_id, "op": op, **body}
        try:
            listeners = await self._redis.publish(
                COMMAND_PREFIX + interview_id, json.dumps(message)
            )
            if not listeners:
                raise NoOwner("no server is listening")
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError as exc:
            raise NoOwner("the interview's server did not answer") from exc
        finally:
            self._pending.pop(rid, None)

    async def post(self, interview_id: str, op: str, **body: Any) -> None:
        """A one-way command to the interview's owner (no answer is awaited)."""
        message = {"id": "", "from": self.node_id, "op": op, **body}
        await self._redis.publish(COMMAND_PREFIX + interview_id, json.dumps(message))

    async def tell(self, node_id: str, message: dict[str, Any]) -> None:
        """A one-way message to one node (e.g. close an observer's socket there)."""
        await self._redis.publish(REPLY_PREFIX + node_id, json.dumps(message))

    async def _answer(self, message: dict[str, Any], interview_id: str) -> None:
        handler = self.on_command
        if handler is None:
            return
        try:
            value = await handler(interview_id, message)
        except LookupError:
            return  # no session here: another node owns it (or none does)
        except Exception as exc:
            reply: dict[str, Any] = {"id": message.get("id"), "error": str(exc)}
            code = getattr(exc, "code", None)
            if isinstance(code, str):
                reply["code"] = code  # e.g. "moved": the requester may try again
        else:
            reply = {"id": message.get("id"), "value": value}
        if message.get("id"):
            try:
                await self.tell(message["from"], reply)
            except Exception:  # Redis unreachable even after retries: the requester times out
                log.warning("could not answer another node's request", exc_info=True)

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("cluster channel read failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if msg is None:
                continue
            try:
                body = json.loads(msg["data"])
                channel = msg["channel"].decode()
            except (ValueError, AttributeError):
                log.warning("dropped a malformed cluster message")
                continue
            if channel.startswith(COMMAND_PREFIX):
                task = asyncio.create_task(
                    self._answer(body, channel.removeprefix(COMMAND_PREFIX)), name="cluster-cmd"
                )
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)
            elif "op" in body:
                self._deliver_notice(body)
            else:
                future = self._pending.get(body.get("id", ""))
                if future is not None and not future.done():
                    if "error" in body:
                        future.set_exception(RemoteRefused(body["error"], body.get("code")))
                    else:
                        future.set_result(body.get("value"))

    def _deliver_notice(self, body: dict[str, Any]) -> None:
        handler = self.on_command
        if handler is None:
            return
        task = asyncio.create_task(self._notice(handler, body), name="cluster-notice")
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _notice(self, handler: CommandHandler, body: dict[str, Any]) -> None:
        with contextlib.suppress(LookupError):
            await handler("", body)
