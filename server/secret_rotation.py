"""The `rotate-secret-key` command: a new signing key, the old one kept for a grace period.

Signed tokens (invite links, self-service links, sign-in sessions, CSRF tokens) made with a
retired key keep verifying until ``--drop-previous``; everything new is signed with the new
key. API-key hashes use a pinned key (``data_dir/api-keys.key``) and are not affected.
Running servers read the keys at start: restart them after either step.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from config.settings import Settings
from server.keys import (
    KeyFileError,
    api_key_hash_key,
    previous_secret_file,
    previous_secret_keys,
    private_dir,
    secret_key_bytes,
    secret_key_file,
    write_key_file,
)


@dataclass(frozen=True)
class SecretRotation:
    """What `rotate-secret-key` did: how many retired keys are now accepted."""

    previous_count: int


def rotate_secret_key(settings: Settings, now: datetime | None = None) -> SecretRotation:
    """Make a new signing key; append the current one, dated, to the previous-keys file."""
    path = secret_key_file(settings)
    if path is None:
        raise KeyFileError(
            "the signing key comes from CANDOR_SECRET_KEY, so this command cannot replace it: "
            "add its current value to CANDOR_PREVIOUS_SECRET_KEYS (a JSON list), set "
            "CANDOR_SECRET_KEY to a new value (e.g. `head -c32 /dev/urandom | base64`), and "
            "restart every server"
        )
    private_dir(settings.data_dir)
    api_key_hash_key(settings)  # pin the API-key hashing key before the signing key changes
    old = secret_key_bytes(settings)  # creates the key on a fresh install
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = previous_secret_file(settings)
    fd = os.open(previous, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(f"{base64.b64encode(old).decode()} {stamp}\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(previous, 0o600)
    write_key_file(path, os.urandom(32), replace=True)
    return SecretRotation(previous_count=len(previous_secret_keys(settings)))


def drop_previous_secret_keys(settings: Settings) -> int:
    """End the grace period: delete the previous-keys file; returns how many keys it held."""
    path = previous_secret_file(settings)
    if not path.exists():
        return 0
    count = sum(1 for line in path.read_text().splitlines() if line.strip())
    path.unlink()
    return count
