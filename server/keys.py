"""Load the master and signing keys from settings, or create them once on disk (mode 600).

The master key comes, in order, from ``CANDOR_MASTER_KEY`` (base64), from the file named by
``CANDOR_MASTER_KEY_FILE`` (recommended: outside the data folder, so a copy of the data
folder or a backup of it cannot be decrypted on its own), or from ``data_dir/master.key``,
generated on first start.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path

from config.settings import Settings

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
