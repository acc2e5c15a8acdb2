"""Load the master and signing keys from settings, or create them once on disk (mode 600).

The master key comes, in order, from ``CANDOR_MASTER_KEY`` (base64), from the file named by
``CANDOR_MASTER_KEY_FILE`` (recommended: outside the data folder, so a copy of the data
folder or a backup of it cannot be decrypted on its own), or from ``data_dir/master.key``,
generated on first start.

The signing key comes from ``CANDOR_SECRET_KEY`` or ``data_dir/secret.key``. Retired signing
keys (``CANDOR_PREVIOUS_SECRET_KEYS`` and ``data_dir/secret.key.previous``, written by
``run.py rotate-secret-key``) still verify what they signed during a grace period. The
API-key hashing key is pinned in ``data_dir/api-keys.key`` so that rotation leaves API keys
working.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path

from config.settings import Settings
from server.integrations.api_keys_hash import derive_hash_key

log = logging.getLogger(__name__)


class KeyFileError(Exception):
    """A key is missing or malformed; the message says what to fix."""


def decode_key(text: str, where: str) -> bytes:
    """32 bytes from base64 text, or a clear error naming where the key came from."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(
            f"{where} is not base64; it must hold base64 of 32 random bytes"
        ) from exc
    if len(key) != 32:
        raise KeyFileError(f"{where} must hold base64 of exactly 32 bytes, not {len(key)}")
    return key


def write_key_file(path: Path, key: bytes, *, replace: bool = False) -> None:
    """Write a base64 key file with mode 600 (atomically when replacing one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(f".{path.name}.new") if replace else path
    if replace and target.exists():
        target.unlink()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    if replace:
        os.replace(target, path)


def private_dir(path: Path) -> None:
    """Create a folder readable by this user only (mode 700), tightening an existing one."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def _load_or_create(path: Path, nbytes: int) -> bytes:
    if path.exists():
        os.chmod(path, 0o600)
        return base64.b64decode(path.read_text().strip())
    write_key_file(path, os.urandom(nbytes))
    log.warning("generated a new key file; back it up", extra={"path": str(path)})
    return base64.b64decode(path.read_text().strip())


def master_key_file(settings: Settings) -> Path | None:
    """The file the master key is read from, or None when it comes from the environment."""
    if settings.master_key is not None:
        return None
    return settings.master_key_file or settings.data_dir / "master.key"


def master_key_bytes(settings: Settings) -> bytes:
    """The 32-byte key that wraps recording and field data keys."""
    if settings.master_key is not None:
        return decode_key(settings.master_key.get_secret_value(), "CANDOR_MASTER_KEY")
    if settings.master_key_file is not None:
        path = settings.master_key_file
        if not path.exists():
            raise KeyFileError(
                f"CANDOR_MASTER_KEY_FILE names {path}, which does not exist; create it with "
                "base64 of 32 random bytes (e.g. `head -c32 /dev/urandom | base64`), mode 600"
            )
        if path.stat().st_mode & 0o077:
            log.warning(
                "the master key file can be read by other users; chmod 600 it",
                extra={"path": str(path)},
            )
        return decode_key(path.read_text(), f"the master key file {path}")
    return _load_or_create(settings.data_dir / "master.key", 32)


def secret_key_bytes(settings: Settings) -> bytes:
    """The key that signs invites and sign-in sessions."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return _load_or_create(settings.data_dir / "secret.key", 32)


def _decode_previous(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{where} is not base64; remove the line or fix it") from exc


def secret_key_file(settings: Settings) -> Path | None:
    """The file the signing key is read from, or None when it comes from the environment."""
    return None if settings.secret_key is not None else settings.data_dir / "secret.key"


def previous_secret_file(settings: Settings) -> Path:
    """The file of retired signing keys, one ``<base64> <retired at>`` line each."""
    return settings.data_dir / "secret.key.previous"


def previous_secret_keys(settings: Settings) -> tuple[bytes, ...]:
    """Retired signing keys still accepted for verification (never used to sign)."""
    keys = [old.get_secret_value().encode() for old in settings.previous_secret_keys]
    path = previous_secret_file(settings)
    if path.exists():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                keys.append(_decode_previous(line.split()[0], f"line {number} of {path}"))
    return tuple(keys)


def api_key_hash_key(settings: Settings) -> bytes:
    """The key API keys are hashed with: pinned on first use, stable across rotations."""
    path = settings.data_dir / "api-keys.key"
    if path.exists():
        return decode_key(path.read_text(), f"the API-key hashing key file {path}")
    key = derive_hash_key(secret_key_bytes(settings))
    try:
        write_key_file(path, key, replace=True)
    except FileExistsError:
        pass  # another process is writing the same derived key right now
    return key
