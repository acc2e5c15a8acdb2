"""Data keys for field encryption, wrapped by the master key and kept in ``data_keys``.

Every candidate has one data key (``candidate:<id>``) for their identity fields, every
interview one (``interview:<id>``) for its transcript events, notes, ratings, decisions,
scores, feedback and consent details. A value is sealed with AES-256-GCM under its data key
and a fresh 96-bit nonce; the associated data names the table, the row and the column, so
a ciphertext copied to another row or column fails to open. Unwrapped keys are cached in
memory (bounded); keys created by a transaction that has not committed yet are kept per
session and forgotten on rollback, so a rolled-back key is never used again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, insert, select

from media.crypto import DecryptionError, MasterKey
from server.storage.models import DataKey

PREFIX = "enc1:"
CACHE_SIZE = 4096


class FieldDecryptionError(DecryptionError):
    """A field did not authenticate (wrong key, moved, edited) or was never encrypted."""


def field_ad(table: str, row: str, column: str) -> bytes:
    """Associated data binding a value to its table, row and column."""
    return f"candor-field-v1|{table}|{row}|{column}".encode()


def key_context(key_id: str) -> bytes:
    """What a wrapped data key is bound to, so wrapped keys cannot be swapped between rows."""
    return f"|field|{key_id}".encode()


def seal(aead: AESGCM, plain: bytes, ad: bytes) -> str:
    """Encrypt ``plain`` as ``enc1:`` + base64(nonce || ciphertext || tag)."""
    nonce = os.urandom(12)
    return PREFIX + base64.b64encode(nonce + aead.encrypt(nonce, plain, ad)).decode()


def open_sealed(aead: AESGCM, token: str, ad: bytes) -> bytes:
    """Decrypt a value sealed by :func:`seal` with the same associated data."""
    if not token.startswith(PREFIX):
        raise FieldDecryptionError(
            "a personal-data field is stored unencrypted; run `python run.py encrypt-existing`"
        )
    raw = base64.b64decode(token[len(PREFIX) :])
    try:
        return aead.decrypt(raw[:12], raw[12:], ad)
    except InvalidTag as exc:
        raise FieldDecryptionError(
            "a field failed authentication (wrong key, moved or edited)"
        ) from exc


def is_sealed(value: object) -> bool:
    """Whether a stored value is already an encrypted token."""
    return isinstance(value, str) and value.startswith(PREFIX)


def normalise_email(email: str) -> str:
    """The form of an email address that is hashed for search."""
    return email.strip().lower()


def normalise_phone(phone: str) -> str:
    """The form of a phone number that is hashed for search: a leading + and the digits."""
    text = phone.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    return ("+" if text.startswith("+") else "") + digits


class KeyRing:
    """The master key plus a bounded cache of unwrapped field data keys."""

    def __init__(self, master: MasterKey, cache_size: int = CACHE_SIZE) -> None:
        self.master = master
        self._cache: OrderedDict[str, AESGCM] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def search_hash(self, kind: str, value: str) -> str | None:
        """HMAC-SHA256 of a normalised email or phone (None for an empty value)."""
        norm = normalise_email(value) if kind == "email" else normalise_phone(value)
        if not norm:
            return None
        msg = f"{kind}:{norm}".encode()
        return hmac.new(self.master.search_key, msg, hashlib.sha256).hexdigest()

    def _cached(self, key_id: str) -> AESGCM | None:
        with self._lock:
            aead = self._cache.get(key_id)
            if aead is not None:
                self._cache.move_to_end(key_id)
            return aead

    def _remember(self, key_id: str, aead: AESGCM) -> None:
        with self._lock:
            self._cache[key_id] = aead
            self._cache.move_to_end(key_id)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (after it was destroyed)."""
        with self._lock:
            self._cache.pop(key_id, None)

    def key(self, conn: Connection, key_id: str, pending: dict[str, AESGCM]) -> AESGCM:
        """The data key ``key_id``: cached, stored, or created now (kept in ``pending``)."""
        if key_id in pending:
            return pending[key_id]
        aead = self._cached(key_id)
        if aead is not None:
            return aead
        wrapped = conn.scalar(select(DataKey.wrapped).where(DataKey.id == key_id))
        if wrapped is not None:
            aead = AESGCM(self.master.unwrap(wrapped, key_context(key_id)))
            self._remember(key_id, aead)
            return aead
        raw = AESGCM.generate_key(bit_length=256)
        conn.execute(
            insert(DataKey).values(id=key_id, wrapped=self.master.wrap(raw, key_context(key_id)))
        )
        pending[key_id] = AESGCM(raw)
        return pending[key_id]

    def existing_key(self, conn: Connection, key_id: str, pending: dict[str, AESGCM]) -> AESGCM:
        """The data key ``key_id`` for reading; a destroyed key is an error, never re-created."""
        if key_id in pending:
            return pending[key_id]
        aead = self._cached(key_id)
        if aead is not None:
            return aead
        wrapped = conn.scalar(select(DataKey.wrapped).where(DataKey.id == key_id))
        if wrapped is None:
            raise FieldDecryptionError("the data key of this record was destroyed")
        aead = AESGCM(self.master.unwrap(wrapped, key_context(key_id)))
        self._remember(key_id, aead)
        return aead
