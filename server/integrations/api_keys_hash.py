"""The keyed hash API keys are stored as (why fast and keyed: server/integrations/api_keys.py)."""

from __future__ import annotations

import hashlib
import hmac


class KeyHasher:
    """Keyed hash of API keys (HMAC-SHA256 with a key derived from the server secret)."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"candor api keys v1", hashlib.sha256).digest()

    def digest(self, key: str) -> str:
        """The stored form of ``key``."""
        return hmac.new(self._key, key.encode(), hashlib.sha256).hexdigest()
