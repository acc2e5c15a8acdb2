"""Encryption at rest: round trip, tampering, ranges, crash-cut files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from media.crypto import (
    DecryptionError,
    EncryptedReader,
    EncryptedWriter,
    MasterKey,
    read_unclosed,
)


def write(path: Path, master: MasterKey, data: bytes, chunk: int = 1000) -> None:
    w = EncryptedWriter(path, master, chunk_size=chunk)
    for i in range(0, len(data), 333):
        w.write(data[i : i + 333])
    w.close()


def test_round_trip_and_ranges(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    data = os.urandom(10_500)
    path = tmp_path / "r.cnd"
    write(path, master, data)
    reader = EncryptedReader(path, master)
    assert reader.size == len(data)
    assert reader.read_all() == data
    for start, end in [(0, 1), (999, 1001), (2500, 7777), (10_000, 10_500), (10_499, 20_000)]:
        assert b"".join(reader.iter_range(start, end)) == data[start:end]
    assert data[:100] not in path.read_bytes()


def test_tampered_byte_fails_to_decrypt(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    path = tmp_path / "r.cnd"
    write(path, master, os.urandom(5000))
    raw = bytearray(path.read_bytes())
    raw[-2000] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DecryptionError):
        EncryptedReader(path, master).read_all()


def test_wrong_master_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.cnd"
    write(path, MasterKey(os.urandom(32)), b"secret")
    with pytest.raises(DecryptionError):
        EncryptedReader(path, MasterKey(os.urandom(32)))


def test_truncation_is_detected(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    path = tmp_path / "r.cnd"
    write(path, master, os.urandom(5000))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 1016])  # drop the last chunk whole
    with pytest.raises(DecryptionError):
        EncryptedReader(path, master).read_all()


def test_each_recording_gets_its_own_key_and_nonces(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    write(tmp_path / "a.cnd", master, b"x" * 3000)
    write(tmp_path / "b.cnd", master, b"x" * 3000)
    a, b = (tmp_path / "a.cnd").read_bytes(), (tmp_path / "b.cnd").read_bytes()
    assert a[-1500:] != b[-1500:]


def die(w: EncryptedWriter) -> None:
    """Let go of the file as a dying process would: without writing the final chunk."""
    w._fh.close()


def test_a_crash_cut_file_keeps_every_whole_chunk(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    path = tmp_path / "r.cnd"
    data = os.urandom(5500)
    w = EncryptedWriter(path, master, chunk_size=1000)
    w.write(data)
    w.flush()
    die(w)  # never closed: the process "died" here
    raw = path.read_bytes()
    path.write_bytes(raw[:-300])  # and the last chunk was torn
    recovered = read_unclosed(path, master)
    assert recovered == data[: len(recovered)]
    assert len(recovered) >= 4000


def test_framed_files_seal_short_chunks_and_read_back_by_range(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    path = tmp_path / "live.cnd"
    data = os.urandom(7000)
    w = EncryptedWriter(path, master, chunk_size=4096, framed=True)
    for i in range(0, 7000, 700):
        w.write(data[i : i + 700])
        w.seal()  # a short chunk every "second"
    w.close()
    reader = EncryptedReader(path, master)
    assert reader.size == len(data) and reader.read_all() == data
    assert b"".join(reader.iter_range(650, 2150)) == data[650:2150]


def test_a_crash_cut_framed_file_keeps_every_sealed_chunk(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    path = tmp_path / "live.cnd"
    data = os.urandom(3000)
    w = EncryptedWriter(path, master, chunk_size=64 * 1024, framed=True)
    w.write(data[:1000])
    w.seal()
    w.write(data[1000:2500])
    w.seal()
    w.write(data[2500:])  # buffered, never sealed: lost in the crash
    die(w)
    raw = path.read_bytes()
    path.write_bytes(raw + b"\x00\x00\x10\x00torn")  # and a torn frame header
    assert read_unclosed(path, master) == data[:2500]
    with pytest.raises(DecryptionError):
        EncryptedReader(path, master).read_all()
