"""Compact HMAC-SHA256 signed tokens: ``base64url(json).base64url(mac)``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class BadSignature(Exception):
    """The token was not made with our key (forged or corrupted)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs small JSON payloads; each purpose gets its own derived key."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._key = hmac.new(secret, b"candor:" + purpose.encode(), hashlib.sha256).digest()

    def sign(self, payload: dict[str, Any]) -> str:
        """The payload as a signed token."""
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def unsign(self, token: str) -> dict[str, Any]:
        """The payload of a token we signed; raises BadSignature otherwise."""
        try:
            body, mac = token.split(".", 1)
            expected = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac)):
                raise BadSignature("signature does not match")
            payload = json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError) as exc:
            raise BadSignature("token is malformed") from exc
        if not isinstance(payload, dict):
            raise BadSignature("token is malformed")
        return payload
