"""Encrypt rows stored before field encryption existed (the 0004 migration and a command)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, inspect, select, update

from server.encryption.fields import TABLES, EncryptedTable, open_value, seal_value
from server.encryption.keyring import KeyRing, is_sealed
from server.storage.models import Candidate, Interview

# Columns that name a row and its data key, besides the encrypted ones.
_IDENTITY = ("id", "interview_id", "seq", "endpoint_id", "msg_id", "candidate_id", "job_id")


def _identity_columns(spec: EncryptedTable) -> list[Any]:
    table = spec.model.__table__
    return [table.c[name] for name in _IDENTITY if name in table.c]


def _encrypt_table(
    conn: Connection, ring: KeyRing, spec: EncryptedTable, pending: dict[str, AESGCM]
) -> int:
    table = spec.model.__table__
    cols = [table.c[c] for c in spec.columns]
    rows = conn.execute(select(*_identity_columns(spec), *cols)).mappings().all()
    changed = 0
    for row in rows:
        plain = {c: row[c] for c in spec.columns if row[c] is not None and not is_sealed(row[c])}
        if not plain:
            continue
        ident = SimpleNamespace(**{k: row[k] for k in _IDENTITY if k in row})
        ref = spec.row(ident)
        assert ref is not None
        aead = ring.key(conn, spec.key_id(ident), pending)
        values: dict[str, Any] = {c: seal_value(spec, aead, ref, c, v) for c, v in plain.items()}
        if spec.model is Candidate:
            if "email" in plain:
                values["email_hmac"] = ring.search_hash("email", plain["email"])
            if "phone" in plain:
                values["phone_hmac"] = ring.search_hash("phone", plain["phone"])
        conn.execute(update(table).where(table.c.id == row["id"]).values(values))
        changed += 1
    return changed


def encrypt_existing(conn: Connection, ring: KeyRing) -> int:
    """Seal every plaintext personal-data value in place; returns the rows changed.

    Idempotent: sealed values are left alone. Every candidate and interview gets its data
    key now, so later writers never race to create one.
    """
    pending: dict[str, AESGCM] = {}
    for cid in conn.scalars(select(Candidate.__table__.c.id)):
        ring.key(conn, f"candidate:{cid}", pending)
    for iid in conn.scalars(select(Interview.__table__.c.id)):
        ring.key(conn, f"interview:{iid}", pending)
    # Tables added by later migrations do not exist yet when the 0004 migration runs.
    present = [spec for spec in TABLES if inspect(conn).has_table(spec.table)]
    return sum(_encrypt_table(conn, ring, spec, pending) for spec in present)


def _decrypt_table(conn: Connection, ring: KeyRing, spec: EncryptedTable) -> int:
    table = spec.model.__table__
    cols = [table.c[c] for c in spec.columns]
    rows = conn.execute(select(*_identity_columns(spec), *cols)).mappings().all()
    changed = 0
    for row in rows:
        sealed = {c: row[c] for c in spec.columns if is_sealed(row[c])}
        if not sealed:
            continue
        ident = SimpleNamespace(**{k: row[k] for k in _IDENTITY if k in row})
        ref = spec.row(ident)
        assert ref is not None
        aead = ring.existing_key(conn, spec.key_id(ident), {})
        values = {c: open_value(spec, aead, ref, c, v) for c, v in sealed.items()}
        conn.execute(update(table).where(table.c.id == row["id"]).values(values))
        changed += 1
    return changed


def decrypt_all(conn: Connection, ring: KeyRing) -> int:
    """Put every sealed value back in plaintext (only to step the schema down)."""
    present = [spec for spec in TABLES if inspect(conn).has_table(spec.table)]
    return sum(_decrypt_table(conn, ring, spec) for spec in present)
