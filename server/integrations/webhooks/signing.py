"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body``.

Secrets are ``whsec_`` + base64 of 32 random bytes; the HMAC key is the decoded bytes, as the
Standard Webhooks libraries expect. ``verify`` is the receiver's side (docs/integrations.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 5 * 60


class SignatureError(Exception):
    """A delivery whose headers or signature do not check out."""


def new_secret() -> str:
    """A fresh endpoint secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers, with one signature per valid secret (two during a rotation)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
        "content-type": "application/json",
    }


def verify(secret: str, headers_: Mapping[str, str], body: bytes, now: float) -> None:
    """Raise SignatureError unless ``body`` was signed with ``secret`` within 5 minutes of now."""
    lower = {k.lower(): v for k, v in headers_.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        raise SignatureError("missing webhook-id or webhook-timestamp")
    if abs(now - int(stamp)) > TOLERANCE_S:
        raise SignatureError("timestamp too old or too new (a replay?)")
    expected = sign(secret, msg_id, int(stamp), body).encode()
    for candidate in lower.get("webhook-signature", "").split():
        if hmac.compare_digest(candidate.encode(), expected):
            return
    raise SignatureError("no matching signature")
