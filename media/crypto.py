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
import bisect
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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
    """The key-encryption key; wraps and unwraps per-recording and per-record data keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("master key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)
        self._search = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"candor-search-v1"
        ).derive(key)

    @property
    def search_key(self) -> bytes:
        """The HMAC key for searchable hashes (email, phone), derived from this key."""
        return self._search

    @classmethod
    def from_b64(cls, text: str) -> MasterKey:
        """Build from base64 text (as stored in settings)."""
        return cls(base64.b64decode(text))

    def wrap(self, data_key: bytes, context: bytes = b"") -> str:
        """Encrypt a data key (bound to ``context``); returns base64 text."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, data_key, b"candor-dek" + context)
        return base64.b64encode(nonce + sealed).decode()

    def unwrap(self, wrapped: str, context: bytes = b"") -> bytes:
        """Decrypt a data key wrapped by :meth:`wrap` with the same ``context``."""
        raw = base64.b64decode(wrapped)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], b"candor-dek" + context)
        except InvalidTag as exc:
            raise DecryptionError("data key does not match this master key") from exc


class EncryptedWriter:
    """A write-only, non-seekable file object that encrypts as it goes.

    Each chunk is written and handed to the OS as soon as it is sealed: when it
    fills, or (framed files) when :meth:`seal` is called. ``close()`` writes the
    final chunk, so a file that was never closed is recognisable as cut off.
    """

    def __init__(
        self, path: Path, master: MasterKey, chunk_size: int = CHUNK, *, framed: bool = False
    ) -> None:
        self.path = path
        self._chunk = chunk_size
        self._framed = framed
        key = AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(key)
        self._prefix = os.urandom(4)
        header = json.dumps(
            {
                "key": master.wrap(key),
                "prefix": self._prefix.hex(),
                "chunk": chunk_size,
                "framed": framed,
            }
        ).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh: BinaryIO = os.fdopen(fd, "wb")
        self._fh.write(MAGIC + struct.pack(">H", len(header)) + header)
        self._fh.flush()
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

    def seal(self) -> None:
        """Framed files: write what is buffered now as a (short) chunk."""
        if not self._framed:
            raise ValueError("only framed files can seal short chunks")
        if self._buf:
            self._emit(bytes(self._buf), last=False)
            self._buf.clear()

    def flush(self) -> None:
        """Flush written chunks to the OS."""
        self._fh.flush()

    def _emit(self, plain: bytes, last: bool) -> None:
        nonce = _nonce(self._prefix, self._index)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._index, last))
        if self._framed:
            self._fh.write(struct.pack(">I", len(sealed)))
        self._fh.write(sealed)
        self._fh.flush()
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


@dataclass(frozen=True)
class _Chunk:
    cipher_at: int  # file offset of the ciphertext
    cipher_len: int  # including the tag
    plain_at: int  # plaintext offset of its first byte


def _open_header(fh: BinaryIO, master: MasterKey) -> tuple[dict[str, Any], int, AESGCM]:
    if fh.read(len(MAGIC)) != MAGIC:
        raise DecryptionError("not a Candor encrypted recording")
    (hlen,) = struct.unpack(">H", fh.read(2))
    header = json.loads(fh.read(hlen))
    return header, len(MAGIC) + 2 + hlen, AESGCM(master.unwrap(header["key"]))


def _chunk_table(fh: BinaryIO, header: dict[str, Any], start: int, size: int) -> list[_Chunk]:
    """Where every whole chunk is; a torn tail (framed files) is left out."""
    chunks: list[_Chunk] = []
    plain = 0
    if header.get("framed"):
        pos = start
        while pos + 4 <= size:
            fh.seek(pos)
            (n,) = struct.unpack(">I", fh.read(4))
            if n < TAG or pos + 4 + n > size:
                break
            chunks.append(_Chunk(pos + 4, n, plain))
            plain += n - TAG
            pos += 4 + n
        return chunks
    step = int(header["chunk"]) + TAG
    pos = start
    while pos < size:
        n = min(step, size - pos)
        if n < TAG:
            break
        chunks.append(_Chunk(pos, n, plain))
        plain += n - TAG
        pos += n
    return chunks


class EncryptedReader:
    """Random-access decryption of a closed file written by :class:`EncryptedWriter`."""

    def __init__(self, path: Path, master: MasterKey) -> None:
        self.path = path
        with open(path, "rb") as fh:
            header, start, self._aead = _open_header(fh, master)
            self._prefix = bytes.fromhex(header["prefix"])
            self._chunks = _chunk_table(fh, header, start, path.stat().st_size)
        if not self._chunks:
            raise DecryptionError("recording is truncated")
        last = self._chunks[-1]
        self.size = last.plain_at + last.cipher_len - TAG
        self._starts = [c.plain_at for c in self._chunks]

    def _read_chunk(self, fh: BinaryIO, index: int) -> bytes:
        chunk = self._chunks[index]
        fh.seek(chunk.cipher_at)
        blob = fh.read(chunk.cipher_len)
        last = index == len(self._chunks) - 1
        try:
            return self._aead.decrypt(_nonce(self._prefix, index), blob, _aad(index, last))
        except InvalidTag as exc:
            raise DecryptionError(f"chunk {index} failed authentication") from exc

    def _index_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset) - 1

    def iter_range(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Plaintext bytes ``start`` to ``end`` (exclusive), chunk by chunk."""
        end = self.size if end is None else min(end, self.size)
        if start >= end:
            return
        first, last = self._index_of(start), self._index_of(end - 1)
        with open(self.path, "rb") as fh:
            for index in range(first, last + 1):
                plain = self._read_chunk(fh, index)
                base = self._chunks[index].plain_at
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
        header, start, aead = _open_header(fh, master)
        prefix = bytes.fromhex(header["prefix"])
        kept: list[bytes] = []
        for index, chunk in enumerate(_chunk_table(fh, header, start, path.stat().st_size)):
            fh.seek(chunk.cipher_at)
            blob = fh.read(chunk.cipher_len)
            nonce = _nonce(prefix, index)
            try:
                kept.append(aead.decrypt(nonce, blob, _aad(index, False)))
            except InvalidTag:
                try:
                    kept.append(aead.decrypt(nonce, blob, _aad(index, True)))
                except InvalidTag:
                    pass
                break
    return b"".join(kept)


def rewrap_header(path: Path, old: MasterKey, new: MasterKey) -> bool:
    """Re-wrap a recording's data key under ``new`` in place; the chunks are not touched.

    Idempotent: a header already wrapped by ``new`` is left as is (returns False), so a
    rotation cut off half way can simply be run again.
    """
    with open(path, "r+b") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise DecryptionError("not a Candor encrypted recording")
        (hlen,) = struct.unpack(">H", fh.read(2))
        header = json.loads(fh.read(hlen))
        try:
            new.unwrap(header["key"])
            return False
        except DecryptionError:
            pass
        header["key"] = new.wrap(old.unwrap(header["key"]))
        blob = json.dumps(header).encode()
        if len(blob) != hlen:  # same field sizes, same JSON: cannot happen unless edited
            raise DecryptionError("recording header changed size; not rewritten")
        fh.seek(len(MAGIC) + 2)
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    return True
