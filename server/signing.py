"""Compact HMAC-SHA256 signed tokens: ``base64url(json).base64url(mac)``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any


class BadSignature(Exception):
    """The token was not made with our key (forged or corrupted)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, b"candor:" + purpose.encode(), hashlib.sha256).digest()


class Signer:
    """Signs small JSON payloads; each purpose gets its own derived key.

    ``previous`` are signing keys retired by ``rotate-secret-key``: tokens they made still
    verify (the grace period) but nothing new is signed with them.
    """

    def __init__(self, secret: bytes, purpose: str, previous: Iterable[bytes] = ()) -> None:
        self._key = _derive(secret, purpose)
        self._verify_keys = (self._key, *(_derive(old, purpose) for old in previous))

    def sign(self, payload: dict[str, Any]) -> str:
        """The payload as a signed token."""
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def unsign(self, token: str) -> dict[str, Any]:
        """The payload of a token we signed; raises BadSignature otherwise."""
        try:
            body, mac = token.split(".", 1)
            given = _unb64(mac)
            if not any(
                hmac.compare_digest(hmac.new(key, body.encode(), hashlib.sha256).digest(), given)
                for key in self._verify_keys
            ):
                raise BadSignature("signature does not match")
            payload = json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError) as exc:
            raise BadSignature("token is malformed") from exc
        if not isinstance(payload, dict):
            raise BadSignature("token is malformed")
        return payload
