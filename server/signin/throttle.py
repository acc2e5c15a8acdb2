"""Failed sign-ins back off exponentially, per account and per client address.

After ``free`` failures in a row a key is locked for ``base`` seconds, doubling with each
further failure up to ``cap``; attempts while locked are refused before any password work.
Counters live in Redis when the bus is Redis (shared by every server process), else in memory.

Why not the ``limits`` library: it counts hits in fixed or moving windows ("5 per minute"),
so a growing lock-out would need one limiter per level and still not reset on success.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class BackOff:
    """How many failures are free, the first lock-out, its cap, and when counts are forgotten."""

    free: int = 5
    base: float = 30.0
    cap: float = 3600.0
    forget: float = 3600.0

    def lock_seconds(self, failures: int) -> float:
        """The lock-out after ``failures`` failures in a row (0 while still free)."""
        if failures < self.free:
            return 0.0
        return min(self.base * 2.0 ** min(failures - self.free, 30), self.cap)


class CounterStore(Protocol):
    """Failure counters: ``(failures, locked_until)`` per key, epoch seconds."""

    async def get(self, key: str) -> tuple[int, float]: ...
    async def fail(self, key: str, now: float, policy: BackOff) -> tuple[int, float]: ...
    async def clear(self, key: str) -> None: ...


class MemoryCounters:
    """Counters of one process."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[int, float, float]] = {}  # failures, until, forget at

    async def get(self, key: str) -> tuple[int, float]:
        """Current counters of ``key``."""
        failures, until, _ = self._rows.get(key, (0, 0.0, 0.0))
        return failures, until

    async def fail(self, key: str, now: float, policy: BackOff) -> tuple[int, float]:
        """Count one failure; returns the new counters."""
        if len(self._rows) > 10_000:  # drop forgotten keys so a scan cannot grow memory
            self._rows = {k: v for k, v in self._rows.items() if v[2] > now}
        failures, _, forget_at = self._rows.get(key, (0, 0.0, 0.0))
        failures = failures + 1 if forget_at > now else 1
        until = now + policy.lock_seconds(failures)
        self._rows[key] = (failures, until, max(until, now + policy.forget))
        return failures, until

    async def clear(self, key: str) -> None:
        """Forget ``key`` (a successful sign-in)."""
        self._rows.pop(key, None)


class RedisCounters:
    """Counters shared by every process through Redis (hash per key, expiring)."""

    PREFIX = "candor:signin:"

    def __init__(self, redis: Any) -> None:
        self._redis = redis

    async def get(self, key: str) -> tuple[int, float]:
        """Current counters of ``key``."""
        row = await self._redis.hmget(self.PREFIX + key, "failures", "until")
        return int(row[0] or 0), float(row[1] or 0.0)

    async def fail(self, key: str, now: float, policy: BackOff) -> tuple[int, float]:
        """Count one failure atomically; returns the new counters."""
        name = self.PREFIX + key
        failures = int(await self._redis.hincrby(name, "failures", 1))
        until = now + policy.lock_seconds(failures)
        ttl = math.ceil(max(until - now, policy.forget))
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.hset(name, "until", until).expire(name, ttl).execute()
        return failures, until

    async def clear(self, key: str) -> None:
        """Forget ``key`` (a successful sign-in)."""
        await self._redis.delete(self.PREFIX + key)


def counter_key(secret: bytes, kind: str, value: str) -> str:
    """A keyed hash: no email or address is stored in Redis, and deployments never collide."""
    mac = hmac.new(secret, f"{kind}:{value.strip().lower()}".encode(), hashlib.sha256)
    return f"{kind}:{mac.hexdigest()[:32]}"


@dataclass(frozen=True)
class Locked:
    """A key newly locked by a failure (for the notice to admins)."""

    kind: str  # "account" or "address"
    failures: int
    seconds: float


class Throttle:
    """Decides whether a sign-in attempt may be tried and counts the failures."""

    def __init__(
        self, store: CounterStore, account: BackOff, address: BackOff, secret: bytes = b""
    ) -> None:
        self._store = store
        self._policies = {"account": account, "address": address}
        self._secret = secret
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # key -> lock, holders+waiters

    @contextlib.asynccontextmanager
    async def turn(self, email: str, address: str) -> AsyncIterator[None]:
        """One attempt at a time per account and per address, from check to counting.

        Without it, concurrent attempts would all pass the check before the first failure
        is counted. Hashing runs on one thread anyway, so this costs no throughput.
        """
        keys = [key for _, key in self._keys(email, address)]
        async with contextlib.AsyncExitStack() as stack:
            for key in keys:  # always account then address: no lock-order deadlock
                lock, users = self._locks.get(key, (asyncio.Lock(), 0))
                self._locks[key] = (lock, users + 1)
                stack.callback(self._release, key)
                await stack.enter_async_context(lock)
            yield

    def _release(self, key: str) -> None:
        lock, users = self._locks[key]
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    def _keys(self, email: str, address: str) -> list[tuple[str, str]]:
        return [
            ("account", counter_key(self._secret, "account", email)),
            ("address", counter_key(self._secret, "address", address)),
        ]

    async def retry_after(self, email: str, address: str, now: float) -> int:
        """Seconds until an attempt for this account from this address may be tried (0: now)."""
        waits = [(await self._store.get(key))[1] - now for _, key in self._keys(email, address)]
        return max(0, math.ceil(max(waits)))

    async def failed(self, email: str, address: str, now: float) -> list[Locked]:
        """Count a failure for both keys; returns the keys this failure locked first."""
        locked: list[Locked] = []
        for kind, key in self._keys(email, address):
            policy = self._policies[kind]
            failures, until = await self._store.fail(key, now, policy)
            if failures == policy.free:
                locked.append(Locked(kind, failures, until - now))
        return locked

    async def succeeded(self, email: str) -> None:
        """A correct password resets the account (never the address: that is shared)."""
        await self._store.clear(counter_key(self._secret, "account", email))
