"""Password hashing: argon2id (argon2-cffi), verifying old scrypt hashes until they are rehashed.

Hashing is deliberately slow, so it never runs on the event loop: :class:`Passwords` runs it
on one dedicated thread. One thread bounds what a login flood can take from live interviews
to one core (and one hash's memory), whatever the number of requests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's second argon2id profile (19 MiB, 2 passes, 1 lane): ~30 ms on one core. One lane
# keeps a hash on one thread, so hashing never competes with media for every core at once.
PARAMETERS = argon2.Parameters(
    type=argon2.Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=2,
    memory_cost=19456,
    parallelism=1,
)
_HASHER = argon2.PasswordHasher.from_parameters(PARAMETERS)

# Stored for accounts that have no password yet (invited, not accepted): matches nothing.
UNUSABLE = "!unusable"

T = TypeVar("T")


def hash_password(password: str) -> str:
    """An argon2id hash in PHC string form (``$argon2id$v=19$m=...``)."""
    return _HASHER.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches an argon2id or a legacy scrypt hash."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash predates argon2id or uses other parameters than :data:`PARAMETERS`."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@dataclass(frozen=True)
class Verified:
    """The outcome of one check: ``ok``, and a fresh hash to store when the old one is stale."""

    ok: bool
    new_hash: str | None = None


class Passwords:
    """Hashes and verifies on one worker thread; unknown accounts verify against a dummy."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._dummy: str | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="passwords")
        return self._pool

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), fn, *args)

    async def hash(self, password: str) -> str:
        """An argon2id hash of ``password``, computed off the event loop."""
        return await self._run(hash_password, password)

    def _check(self, password: str, stored: str) -> Verified:
        if stored == UNUSABLE:
            # Same work as a real account, so the answer time does not reveal which exist.
            self.dummy_verify(password)
            return Verified(False)
        if not verify_password(password, stored):
            return Verified(False)
        return Verified(True, hash_password(password) if needs_rehash(stored) else None)

    def dummy_verify(self, password: str) -> None:
        """Verify against a fixed hash (unknown or password-less account); always fails."""
        if self._dummy is None:
            self._dummy = hash_password("candor dummy password")
        verify_password(password, self._dummy)

    async def verify(self, password: str, stored: str | None) -> Verified:
        """Check ``password`` against ``stored`` (None: no such account) off the event loop."""
        return await self._run(self._check, password, stored or UNUSABLE)

    def close(self) -> None:
        """Join the worker thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
