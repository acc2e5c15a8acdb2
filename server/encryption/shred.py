"""Destroying data keys (crypto-shredding) and checking the master key at start."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media.crypto import DecryptionError
from server.encryption.keyring import KeyRing, key_context
from server.keys import KeyFileError
from server.storage.models import DataKey


async def destroy_data_keys(session: AsyncSession, ring: KeyRing, key_ids: Iterable[str]) -> None:
    """Delete data keys in the caller's transaction: their fields can never be read again.

    Delete (or blank) the rows sealed with these keys too: loading one afterwards raises
    :class:`~server.encryption.keyring.FieldDecryptionError`.
    """
    ids = list(key_ids)
    if ids:
        await session.execute(delete(DataKey).where(DataKey.id.in_(ids)))
    for key_id in ids:
        ring.forget(key_id)


async def check_master_key(sessions: async_sessionmaker[Any], ring: KeyRing) -> None:
    """Refuse to start with a master key that does not open the stored data keys."""
    async with sessions() as session:
        row = (await session.execute(select(DataKey.id, DataKey.wrapped).limit(1))).first()
    if row is None:
        return
    try:
        ring.master.unwrap(row.wrapped, key_context(row.id))
    except DecryptionError as exc:
        raise KeyFileError(
            "the master key does not open the data keys stored in this database: start with "
            "the key it was encrypted with (CANDOR_MASTER_KEY or CANDOR_MASTER_KEY_FILE); after "
            "a rotation, the new key"
        ) from exc
