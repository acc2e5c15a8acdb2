"""A scratch PostgreSQL database for tests and benchmarks (the server at 127.0.0.1:5432)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

PG = "127.0.0.1:5432"


@contextlib.asynccontextmanager
async def postgres_database(prefix: str = "candor_test") -> AsyncIterator[str]:
    """A fresh database, dropped afterwards; yields its SQLAlchemy URL."""
    import asyncpg  # type: ignore[import-untyped]

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(f"postgresql://postgres@{PG}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"PostgreSQL at {PG} is not reachable ({exc}): start it, or run without the "
            "postgres tests (-m 'not postgres')"
        ) from exc
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@{PG}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
