"""The EventBus: publish typed events, subscribe per interview.

The in-memory bus serves a single process (the default). The Redis bus uses
pub/sub channels so several server processes and workers see the same events.
Slow subscribers never block publishers: each subscription has a bounded queue
and drops its oldest event when full (the event log in the database is the
durable record; the bus is for live viewers, who see the gap in ``Event.seq`` and
catch up from the log). Drops are never silent: they are counted in
:class:`BusMetrics` and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from analysis.events import Event, parse_event

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
DROP_LOG_EVERY = 100
"""A slow subscriber's first drop is logged, then every this many."""


@dataclass
class BusMetrics:
    """Events the bus could not deliver, by cause (for the metrics endpoint)."""

    dropped_slow_subscriber: int = 0
    publish_failed: int = 0
    malformed: int = 0

    def snapshot(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return asdict(self)


class Subscription:
    """A bounded stream of events for one interview; use ``async with`` and ``async for``."""

    def __init__(self, bus: EventBus, interview_id: str) -> None:
        self.interview_id = interview_id
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = 0

    def deliver(self, event: Event | None) -> None:
        """Queue an event without blocking; drop the oldest when full (counted and logged)."""
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self.dropped += 1
                self._bus.metrics.dropped_slow_subscriber += 1
                if self.dropped % DROP_LOG_EVERY == 1:
                    log.warning(
                        "slow bus subscriber: dropped its oldest events",
                        extra={
                            "interview_id": self.interview_id,
                            "dropped": self.dropped,
                            "dropped_total": self._bus.metrics.dropped_slow_subscriber,
                        },
                    )
        self._queue.put_nowait(event)

    async def get(self, wait: float | None = None) -> Event | None:
        """The next event, or None when the bus closed (or on timeout)."""
        try:
            return await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError:
            return None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def __aenter__(self) -> Subscription:
        await self._bus._attach(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._bus._detach(self)


class EventBus(ABC):
    """Carries events from producers to live listeners."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}
        self.metrics = BusMetrics()

    async def publish(self, event: Event) -> None:
        """Send an event to every subscriber of its interview; a failure is logged, not raised.

        Stored events are safe in the log (viewers catch up from it); the bus is best effort.
        """
        try:
            await self._send(event)
        except Exception:
            self.metrics.publish_failed += 1
            log.warning(
                "could not publish an event",
                exc_info=True,
                extra={
                    "interview_id": event.interview_id,
                    "event_type": event.type,
                    "seq": event.seq,
                    "publish_failed_total": self.metrics.publish_failed,
                },
            )

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Publish ``events`` in order (one round trip where the bus can batch)."""
        if len(events) == 1:
            await self.publish(events[0])
            return
        try:
            await self._send_many(events)
        except Exception:
            self.metrics.publish_failed += len(events)
            log.warning(
                "could not publish events",
                exc_info=True,
                extra={
                    "interview_id": events[0].interview_id if events else "",
                    "count": len(events),
                    "publish_failed_total": self.metrics.publish_failed,
                },
            )

    @abstractmethod
    async def _send(self, event: Event) -> None:
        """Deliver ``event`` (raises on failure)."""

    async def _send_many(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` in order (raises on failure); buses that batch override it."""
        for event in events:
            await self._send(event)

    def subscribe(self, interview_id: str) -> Subscription:
        """A subscription to one interview's events (attach with ``async with``)."""
        return Subscription(self, interview_id)

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections (no-op for the in-memory bus)."""

    async def aclose(self) -> None:
        """Close the bus; every open subscription ends."""
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.deliver(None)
        self._subs.clear()

    async def _attach(self, sub: Subscription) -> None:
        self._subs.setdefault(sub.interview_id, set()).add(sub)

    async def _detach(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.interview_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.interview_id]

    def _fan_out(self, event: Event) -> None:
        for sub in list(self._subs.get(event.interview_id, ())):
            sub.deliver(event)


class InMemoryBus(EventBus):
    """Single-process bus."""

    async def _send(self, event: Event) -> None:
        """Deliver to local subscribers."""
        self._fan_out(event)


class RedisBus(EventBus):
    """Bus over Redis pub/sub: channel ``candor:events:<interview_id>``."""

    PREFIX = "candor:events:"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._redis: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and start the reader task."""
        from analysis.redis_client import async_redis

        self._redis = async_redis(self._url)
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # psubscribe so the reader starts at once; per-interview filtering is local.
        await self._pubsub.psubscribe(self.PREFIX + "*")
        self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")

    async def publish(self, event: Event) -> None:
        """Publish the event's JSON on its interview channel (logged and counted on failure)."""
        if self._redis is None:
            raise RuntimeError("RedisBus.start() was not called")
        await super().publish(event)

    async def _send(self, event: Event) -> None:
        await self._redis.publish(self.PREFIX + event.interview_id, event.model_dump_json())

    async def _send_many(self, events: Sequence[Event]) -> None:
        # One round trip: Redis runs a pipeline's commands in order.
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(self.PREFIX + event.interview_id, event.model_dump_json())
            await pipe.execute()

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis bus read failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if msg is None or msg.get("type") != "pmessage":
                continue
            try:
                event = parse_event(msg["data"])
            except Exception:
                self.metrics.malformed += 1
                log.warning(
                    "dropped malformed event from redis",
                    extra={"channel": msg["channel"], "malformed_total": self.metrics.malformed},
                )
                continue
            self._fan_out(event)

    async def aclose(self) -> None:
        """Stop reading and close the connection."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        await super().aclose()


def make_bus(kind: str, redis_url: str) -> EventBus:
    """The bus chosen by settings."""
    if kind == "redis":
        return RedisBus(redis_url)
    return InMemoryBus()
