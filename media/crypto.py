"""Encryption at rest for recordings: chunked AES-256-GCM with envelope keys.

File layout::

    magic "CNDR1" | u16 header_len | header JSON | chunk*
    chunk = ciphertext(plain_len <= CHUNK) + 16-byte tag

The header holds the data key wrapped (AES-GCM) by the master key, a 4-byte
random nonce prefix and the plaintext chunk size. Chunk ``i`` uses nonce
``prefix || i (8 bytes, big endian)`` and authenticates ``i`` plus a last-chunk
flag, so chunks can't be reordered, dropped from the middle or truncated
silently. Every recording gets a fresh data key, so nonces never repeat under
one key. Fixed-size chunks let the playback endpoint decrypt any byte range.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CNDR1"
CHUNK = 64 * 1024
TAG = 16


class DecryptionError(Exception):
    """A recording failed authentication: wrong key, tampered or truncated."""


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">Q", index)


def _aad(index: int, last: bool) -> bytes:
    return struct.pack(">Q?", index, last)


class MasterKey:
    """The key-encryption key; wraps and unwraps per-recording data keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("master key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)

    @classmethod
    def from_b64(cls, text: str) -> MasterKey:
        """Build from base64 text (as stored in settings)."""
        return cls(base64.b64decode(text))

    def wrap(self, data_key: bytes) -> str:
        """Encrypt a data key; returns base64 text for the header."""
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, data_key, b"candor-dek")).decode()

    def unwrap(self, wrapped: str) -> bytes:
        """Decrypt a data key wrapped by :meth:`wrap`."""
        raw = base64.b64decode(wrapped)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], b"candor-dek")
        except InvalidTag as exc:
            raise DecryptionError("recording key does not match this master key") from exc


class EncryptedWriter:
    """A write-only, non-seekable file object that encrypts as it goes.

    Each full chunk is written (and flushed) as soon as it fills, so a crash
    loses at most the last partial chunk; ``close()`` writes the final chunk.
    """

    def __init__(self, path: Path, master: MasterKey, chunk_size: int = CHUNK) -> None:
        self.path = path
        self._chunk = chunk_size
        key = AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(key)
        self._prefix = os.urandom(4)
        header = json.dumps(
            {"key": master.wrap(key), "prefix": self._prefix.hex(), "chunk": chunk_size}
        ).encode()
        self._fh: BinaryIO = open(path, "xb")
        self._fh.write(MAGIC + struct.pack(">H", len(header)) + header)
        self._buf = bytearray()
        self._index = 0
        self.plain_bytes = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer plaintext; encrypt and write each full chunk."""
        self._buf += data
        self.plain_bytes += len(data)
        while len(self._buf) > self._chunk:
            self._emit(bytes(self._buf[: self._chunk]), last=False)
            del self._buf[: self._chunk]
        return len(data)

    def flush(self) -> None:
        """Flush written chunks to the OS."""
        self._fh.flush()

    def _emit(self, plain: bytes, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index)
        self._fh.write(self._aead.encrypt(nonce, plain, _aad(self._index, last)))
        self._index += 1

    def close(self) -> None:
        """Write the final chunk and close the file."""
        if self.closed:
            return
        self._emit(bytes(self._buf), last=True)
        self._buf.clear()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self.closed = True


class EncryptedReader:
    """Random-access decryption of a file written by :class:`EncryptedWriter`."""

    def __init__(self, path: Path, master: MasterKey) -> None:
        self.path = path
        with open(path, "rb") as fh:
            magic = fh.read(len(MAGIC))
            if magic != MAGIC:
                raise DecryptionError("not a Candor encrypted recording")
            (hlen,) = struct.unpack(">H", fh.read(2))
            header = json.loads(fh.read(hlen))
        self._data_start = len(MAGIC) + 2 + hlen
        self._chunk = int(header["chunk"])
        self._prefix = bytes.fromhex(header["prefix"])
        self._aead = AESGCM(master.unwrap(header["key"]))
        cipher_len = path.stat().st_size - self._data_start
        full, rest = divmod(cipher_len, self._chunk + TAG)
        self._chunks = full + (1 if rest else 0)
        last_cipher = rest if rest else self._chunk + TAG
        if self._chunks == 0 or last_cipher < TAG:
            raise DecryptionError("recording is truncated")
        self.size = (self._chunks - 1) * self._chunk + (last_cipher - TAG)

    def _read_chunk(self, fh: BinaryIO, index: int) -> bytes:
        fh.seek(self._data_start + index * (self._chunk + TAG))
        blob = fh.read(self._chunk + TAG)
        last = index == self._chunks - 1
        try:
            return self._aead.decrypt(_nonce(self._prefix, index), blob, _aad(index, last))
        except InvalidTag as exc:
            raise DecryptionError(f"chunk {index} failed authentication") from exc

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Plaintext bytes ``start`` to ``end`` (exclusive), chunk by chunk."""
        end = self.size if end is None else min(end, self.size)
        if start >= end:
            return
        first, last = start // self._chunk, (end - 1) // self._chunk
        with open(self.path, "rb") as fh:
            for index in range(first, last + 1):
                plain = self._read_chunk(fh, index)
                base = index * self._chunk
                yield plain[max(start - base, 0) : min(end - base, len(plain))]

    def read_all(self) -> bytes:
        """The whole plaintext (for remuxing; recordings fit in memory)."""
        return b"".join(self.iter_range())


def read_unclosed(path: Path, master: MasterKey) -> bytes:
    """The plaintext of a recording cut off by a crash (no chunk flagged last).

    Keeps every leading chunk that authenticates and stops at the first torn
    or missing one. The caller re-encrypts the result under a fresh key, so the
    damaged file is never patched in place and no nonce is ever reused.
    """
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise DecryptionError("not a Candor encrypted recording")
        (hlen,) = struct.unpack(">H", fh.read(2))
        header = json.loads(fh.read(hlen))
        chunk = int(header["chunk"])
        prefix = bytes.fromhex(header["prefix"])
        aead = AESGCM(master.unwrap(header["key"]))
        kept: list[bytes] = []
        index = 0
        while True:
            blob = fh.read(chunk + TAG)
            if len(blob) < TAG:
                break
            nonce = _nonce(prefix, index)
            try:
                kept.append(aead.decrypt(nonce, blob, _aad(index, False)))
            except InvalidTag:
                try:
                    kept.append(aead.decrypt(nonce, blob, _aad(index, True)))
                except InvalidTag:
                    pass
                break
            index += 1
    return b"".join(kept)
