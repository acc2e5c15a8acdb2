"""The keyed hash API keys are stored as (why fast and keyed: server/integrations/api_keys.py).

The hashing key is derived once from the signing key and then pinned in
``data_dir/api-keys.key`` (server/keys.py), so rotating the signing key never invalidates an
API key: the stored hashes cannot be recomputed, because the keys themselves are not stored.
"""

from __future__ import annotations

import hashlib
import hmac


def derive_hash_key(secret: bytes) -> bytes:
    """The API-key hashing key derived from a signing key (what older versions used)."""
    return hmac.new(secret, b"candor api keys v1", hashlib.sha256).digest()


class KeyHasher:
    """Keyed hash of API keys (HMAC-SHA256 with a key derived from the server secret)."""

    def __init__(self, secret: bytes) -> None:
        self._key = derive_hash_key(secret)

    @classmethod
    def pinned(cls, hash_key: bytes) -> KeyHasher:
        """A hasher using an already derived (pinned) hashing key."""
        hasher = cls(b"")
        hasher._key = hash_key
        return hasher

    def digest(self, key: str) -> str:
        """The stored form of ``key``."""
        return hmac.new(self._key, key.encode(), hashlib.sha256).hexdigest()
