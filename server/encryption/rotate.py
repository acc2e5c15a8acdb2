"""Master-key rotation: re-wrap every data key under a new master key; ciphertext stays as is.

What is re-wrapped: the data key in each recording's header (rewritten in place, same size),
every row of ``data_keys``, and the search hashes of candidates' email and phone (their HMAC
key is derived from the master key). Each step skips what the new key already opens, so a
rotation cut off half way is finished by running it again with the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Table, select, update

from media.crypto import MAGIC, DecryptionError, MasterKey, rewrap_header
from server.encryption.fields import BY_MODEL, open_value
from server.encryption.keyring import KeyRing, key_context
from server.storage.models import Candidate, DataKey


@dataclass
class RotationReport:
    """What one rotation changed."""

    recordings: int = 0
    recordings_already: int = 0
    data_keys: int = 0
    data_keys_already: int = 0
    candidates: int = 0


def recording_files(folder: Path) -> list[Path]:
    """Every Candor encrypted file under ``folder``."""
    found: list[Path] = []
    if not folder.exists():
        return found
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                if fh.read(len(MAGIC)) == MAGIC:
                    found.append(path)
    return found


def rotate_recordings(folder: Path, old: MasterKey, new: MasterKey, report: RotationReport) -> None:
    """Re-wrap the header key of every recording (in a worker thread: file I/O)."""
    for path in recording_files(folder):
        if rewrap_header(path, old, new):
            report.recordings += 1
        else:
            report.recordings_already += 1


def _rewrap_data_keys(
    conn: Connection, old: MasterKey, new: MasterKey, report: RotationReport
) -> None:
    for key_id, wrapped in conn.execute(select(DataKey.id, DataKey.wrapped)).all():
        ctx = key_context(key_id)
        try:
            new.unwrap(wrapped, ctx)
            report.data_keys_already += 1
            continue
        except DecryptionError:
            pass
        rewrapped = new.wrap(old.unwrap(wrapped, ctx), ctx)
        conn.execute(update(DataKey).where(DataKey.id == key_id).values(wrapped=rewrapped))
        report.data_keys += 1


def _rehash_candidates(conn: Connection, ring: KeyRing, report: RotationReport) -> None:
    spec = BY_MODEL[Candidate]
    table = cast(Table, Candidate.__table__)
    rows = conn.execute(select(table.c.id, table.c.email, table.c.phone)).all()
    for cid, email, phone in rows:
        aead = ring.existing_key(conn, f"candidate:{cid}", {})
        values: dict[str, Any] = {}
        for kind, stored in (("email", email), ("phone", phone)):
            plain = open_value(spec, aead, cid, kind, stored) or ""
            values[f"{kind}_hmac"] = ring.search_hash(kind, plain)
        conn.execute(update(table).where(table.c.id == cid).values(values))
        report.candidates += 1


def rotate_database(
    conn: Connection, old: MasterKey, new: MasterKey, report: RotationReport
) -> None:
    """Re-wrap the field data keys and recompute search hashes, in the caller's transaction."""
    _rewrap_data_keys(conn, old, new, report)
    _rehash_candidates(conn, KeyRing(new), report)
