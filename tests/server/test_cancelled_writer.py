"""A writer cancelled in the middle of its transaction blocks no later writer (issue 16).

An observer's socket closed while its handler was writing the question's audit entry: the
handler was cancelled inside a statement, SQLAlchemy discarded the connection, and on SQLite
the discarded connection kept its transaction and the write lock for as long as the cancelled
statement's cursor lived (the traceback kept it). Every later writer then failed with
"database is locked" (docs/operations.md). Both databases, real engines.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import async_sessionmaker

from server.storage.db import make_engine
from tests.pg import postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/cancelled.db"
        return
    async with postgres_database() as url:
        yield url


async def test_a_writer_cancelled_inside_a_statement_leaves_the_next_writer_free(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    sqlite = db_url.startswith("sqlite")
    inside, release = threading.Event(), threading.Event()

    def held() -> int:
        """Runs in the connection's thread: the statement is under way until released."""
        inside.set()
        release.wait(60)
        return 1

    if sqlite:

        @event.listens_for(engine.sync_engine, "connect")
        def _functions(dbapi_conn: DBAPIConnection, _record: object) -> None:
            dbapi_conn.create_function("held", 0, held)

    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE head (id INTEGER PRIMARY KEY, n INTEGER)"))
            await conn.execute(text("INSERT INTO head VALUES (1, 0)"))
        sessions = async_sessionmaker(engine)
        written = asyncio.Event()
        slow = "SELECT held()" if sqlite else "SELECT pg_sleep(60)"
        kept: list[BaseException] = []

        async def writer() -> None:
            try:
                async with sessions() as session, session.begin():
                    await session.execute(text("UPDATE head SET n = n + 1 WHERE id = 1"))
                    written.set()
                    await session.execute(text(slow))
            except asyncio.CancelledError as exc:
                kept.append(exc)  # its traceback keeps the statement's cursor, as a request's did
                raise

        task = asyncio.create_task(writer())
        await written.wait()
        if sqlite:
            await asyncio.to_thread(inside.wait, 60)  # the statement runs in the thread
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert kept

        # The next writer gets the row (SQLite: the write lock) and the cancelled write is gone.
        async with asyncio.timeout(60), sessions() as session, session.begin():
            await session.execute(text("UPDATE head SET n = n + 10 WHERE id = 1"))
        async with sessions() as session:
            assert await session.scalar(text("SELECT n FROM head WHERE id = 1")) == 10
    finally:
        release.set()
        await engine.dispose()
