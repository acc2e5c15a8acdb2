"""Sealing many new records at once, outside the ORM (a 10,000-row candidate import).

The ORM hooks (server/encryption/fields.py) look up or create one data key per row with two
statements each; an import of ten thousand people spent most of a minute there, on the event
loop. Here every new record still gets its own data key (``candidate:<id>``), so erasing one
person destroys only that person's key, but the keys are made, wrapped and used in one pure
function (run it in a worker thread) and the caller inserts the rows with a few
``executemany`` statements in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncSession

from server.encryption.fields import BY_MODEL, PENDING, seal_value
from server.encryption.keyring import KeyRing, key_context
from server.storage.models import Candidate


@dataclass
class SealedRecords:
    """New rows ready to insert, their wrapped data keys, and the keys for reading back."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)
    aeads: dict[str, AESGCM] = field(default_factory=dict)


def seal_new_records(ring: KeyRing, model: type[Any], rows: list[dict[str, Any]]) -> SealedRecords:
    """Give each new row of ``model`` a fresh data key and seal its encrypted columns.

    Each row must carry its id (the associated data names the row). Candidates also get the
    keyed hashes of their email and phone, as the ORM hook would set them. No I/O.
    """
    spec = BY_MODEL[model]
    if spec.db_assigned_id:
        raise ValueError(f"{spec.table}: rows whose id the database assigns cannot be bulk-sealed")
    out = SealedRecords()
    for plain in rows:
        view = SimpleNamespace(**plain)
        row_id = spec.row(view)
        if row_id is None:
            raise ValueError(f"{spec.table}: every row needs its id before it is sealed")
        key_id = spec.key_id(view)
        raw = AESGCM.generate_key(bit_length=256)
        aead = AESGCM(raw)
        out.aeads[key_id] = aead
        out.keys.append({"id": key_id, "wrapped": ring.master.wrap(raw, key_context(key_id))})
        sealed = dict(plain)
        if model is Candidate:
            sealed["email_hmac"] = ring.search_hash("email", plain.get("email") or "")
            sealed["phone_hmac"] = ring.search_hash("phone", plain.get("phone") or "")
        for col in spec.columns:
            value = plain.get(col)
            if model is Candidate and value is None:
                value = ""  # as the ORM hook stores a missing email or phone
            sealed[col] = seal_value(spec, aead, row_id, col, value)
        out.rows.append(sealed)
    return out


def keep_pending(session: AsyncSession, aeads: dict[str, AESGCM]) -> None:
    """Let the session read the new rows before commit; forgotten on commit or rollback."""
    pending: dict[str, AESGCM] = session.info.setdefault(PENDING, {})
    pending.update(aeads)
