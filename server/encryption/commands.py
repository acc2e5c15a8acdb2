"""The `rotate-master-key` and `encrypt-existing` commands (run with the server stopped)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from config.settings import Settings
from media.crypto import MasterKey
from server.audit import Actor, AuditTrail
from server.encryption.existing import encrypt_existing
from server.encryption.keyring import KeyRing
from server.encryption.rotate import RotationReport, rotate_database, rotate_recordings
from server.encryption.running import RunningLock
from server.keys import (
    KeyFileError,
    decode_key,
    master_key_bytes,
    master_key_file,
    private_dir,
    write_key_file,
)
from server.storage.db import make_engine, migrate, sessionmaker

NEW_KEY_ENV = "CANDOR_NEW_MASTER_KEY"


def new_master_key(new_key_file: Path | None) -> bytes:
    """The new master key, from ``--new-key-file`` or the CANDOR_NEW_MASTER_KEY variable."""
    if new_key_file is not None:
        if not new_key_file.exists():
            raise KeyFileError(f"the new key file {new_key_file} does not exist")
        return decode_key(new_key_file.read_text(), f"the new key file {new_key_file}")
    text = os.environ.get(NEW_KEY_ENV)
    if not text:
        raise KeyFileError(
            f"give the new master key in {NEW_KEY_ENV} (base64 of 32 random bytes, e.g. "
            "`head -c32 /dev/urandom | base64`) or with --new-key-file PATH"
        )
    return decode_key(text, NEW_KEY_ENV)


async def rotate_master_key(settings: Settings, new_key: bytes) -> RotationReport:
    """Re-wrap every recording and field data key under ``new_key``; then store the new key.

    When the master key is read from a file (CANDOR_MASTER_KEY_FILE or data_dir/master.key)
    the file is replaced atomically at the end; when it comes from CANDOR_MASTER_KEY the
    operator sets the new value before the next start.
    """
    old_bytes = master_key_bytes(settings)
    if old_bytes == new_key:
        raise KeyFileError("the new master key is the same as the current one")
    old, new = MasterKey(old_bytes), MasterKey(new_key)
    report = RotationReport()
    private_dir(settings.data_dir)
    lock = RunningLock(settings.data_dir, exclusive=True)
    try:
        await asyncio.to_thread(rotate_recordings, settings.recordings_dir, old, new, report)
        engine = make_engine(settings.db_url)
        try:
            await migrate(engine, settings.db_url, KeyRing(old))
            async with engine.begin() as conn:
                await conn.run_sync(lambda c: rotate_database(c, old, new, report))
            trail = AuditTrail(sessionmaker(engine, KeyRing(new)), lambda: datetime.now(UTC))
            await trail.append(
                Actor(role="operator", client="command line"),
                "rotate_master_key",
                detail=f"{report.recordings} recordings, {report.data_keys} data keys",
            )
        finally:
            await engine.dispose()
        path = master_key_file(settings)
        if path is not None:
            write_key_file(path, new_key, replace=True)
    finally:
        lock.release()
    return report


async def encrypt_existing_rows(settings: Settings) -> int:
    """Seal personal data still stored in plaintext; returns the rows changed."""
    ring = KeyRing(MasterKey(master_key_bytes(settings)))
    engine = make_engine(settings.db_url)
    try:
        await migrate(engine, settings.db_url, ring)
        async with engine.begin() as conn:
            return int(await conn.run_sync(lambda c: encrypt_existing(c, ring)))
    finally:
        await engine.dispose()
