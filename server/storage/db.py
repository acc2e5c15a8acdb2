"""Database engine, sessions and migrations (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from server.encryption.keyring import KeyRing

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations folder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases or in-memory)."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None


def private_sqlite_files(url: str) -> None:
    """Create the SQLite file with mode 600 (its -wal/-shm inherit it); tighten old ones."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for extra in ("", "-wal", "-shm", "-journal"):
        f = path.with_name(path.name + extra)
        if f.exists():
            os.chmod(f, 0o600)


class EndTransactionOnClose(sqlite3.Connection):
    """A SQLite connection whose close always ends its transaction.

    Python's ``close()`` leaves SQLite's connection open (a "zombie") while a cursor of it
    still holds an unfinished statement, and the zombie keeps its transaction and the write
    lock until that cursor is collected. A task cancelled in the middle of a transaction
    (an observer's socket closed during its audit entry) leaves exactly that: SQLAlchemy
    discards the connection, the cancelled statement's cursor lives on in the traceback, and
    every later writer failed with "database is locked" (docs/operations.md, issue 16).
    """

    def close(self) -> None:
        """Roll back what is open, then close."""
        try:
            if self.in_transaction:
                self.rollback()
        except sqlite3.Error:
            log.warning("rollback before closing a SQLite connection failed", exc_info=True)
        super().close()


def make_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys and WAL for concurrent readers."""
    sqlite = url.startswith("sqlite")
    connect_args = {"factory": EndTransactionOnClose} if sqlite else {}
    engine = create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if sqlite:
        private_sqlite_files(url)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: DBAPIConnection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            # Deleted rows are zeroed in their pages, so erasures leave no readable remains.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

    return engine


# pg_advisory_xact_lock key for migrations ("candor" as a number): held until commit, so a
# second process waits, then finds the schema at head and does nothing.
PG_MIGRATION_LOCK = 0x63616E646F72


class SchemaNotCurrent(RuntimeError):
    """The database schema is behind the code (run `python run.py migrate`)."""


async def migrate(engine: AsyncEngine, url: str, keyring: KeyRing | None = None) -> None:
    """Bring the schema to the newest revision once, under a lock shared by all processes.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: an exclusive lock on a file
    beside the database. Processes that start together migrate one after another; all but
    the first find nothing to do. With ``keyring``, the migration that introduces field
    encryption also encrypts the rows stored before it (without one,
    `python run.py encrypt-existing` does it later).
    """
    cfg = alembic_config(url)

    def _upgrade(sync_conn: object) -> None:
        cfg.attributes["connection"] = sync_conn
        cfg.attributes["keyring"] = keyring
        command.upgrade(cfg, "head")

    async with _file_lock(url), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
        await conn.run_sync(_upgrade)
    log.info("database schema is up to date")


async def schema_revision(conn: AsyncConnection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def check_schema(engine: AsyncEngine) -> None:
    """Raise SchemaNotCurrent unless the database is at the newest revision."""
    async with engine.connect() as conn:
        current = await schema_revision(conn)
    head = head_revision()
    if current != head:
        raise SchemaNotCurrent(
            f"The database schema is at revision {current or 'none'}, the code needs {head}: "
            "run `python run.py migrate` once (or set CANDOR_AUTO_MIGRATE=true), then start "
            "the server again."
        )


@contextlib.asynccontextmanager
async def _file_lock(url: str) -> AsyncIterator[None]:
    """An exclusive lock on ``<sqlite file>.migrate.lock``; nothing for other databases."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    lock = path.with_suffix(".migrate.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def sessionmaker(engine: AsyncEngine, keyring: KeyRing) -> async_sessionmaker[AsyncSession]:
    """A session factory that keeps objects usable after commit and encrypts personal data."""
    from server.encryption.fields import KEYRING, install

    install()
    return async_sessionmaker(engine, expire_on_commit=False, info={KEYRING: keyring})
