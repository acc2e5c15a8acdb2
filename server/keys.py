"""Load the master and signing keys from settings, or create them once on disk (mode 600)."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from config.settings import Settings

log = logging.getLogger(__name__)


def _load_or_create(path: Path, nbytes: int) -> bytes:
    if path.exists():
        return base64.b64decode(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
    log.warning("generated a new key file; back it up", extra={"path": str(path)})
    return key


def master_key_bytes(settings: Settings) -> bytes:
    """The 32-byte key that wraps recording keys."""
    if settings.master_key is not None:
        return base64.b64decode(settings.master_key.get_secret_value())
    return _load_or_create(settings.data_dir / "master.key", 32)


def secret_key_bytes(settings: Settings) -> bytes:
    """The key that signs invites and sign-in sessions."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return _load_or_create(settings.data_dir / "secret.key", 32)
