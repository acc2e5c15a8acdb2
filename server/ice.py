"""ICE servers for one session: STUN/TURN URLs and time-limited TURN credentials.

TURN credentials follow the TURN REST API scheme that coturn checks with
``use-auth-secret``: username ``<expiry unix time>:<session id>``, password
``base64(HMAC-SHA1(secret, username))``. Nothing is stored; the TURN server recomputes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from aiortc import RTCConfiguration

from config.settings import Settings
from media.candidate_peer import ObserverPeer
from media.ice import IceServerJson, rtc_configuration


def turn_credentials(secret: str, session_id: str, ttl: int, now: datetime) -> tuple[str, str]:
    """(username, password) valid for ``ttl`` seconds from ``now`` for ``session_id``."""
    if ":" in session_id:
        raise ValueError("a TURN session id may not contain ':'")
    expiry = int(now.timestamp()) + ttl
    username = f"{expiry}:{session_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(settings: Settings, session_id: str, now: datetime) -> list[IceServerJson]:
    """The configured servers for one session; TURN URLs get freshly minted credentials."""
    stun = [u for u in settings.ice_servers if u.startswith("stun")]
    turn = [u for u in settings.ice_servers if u.startswith("turn")]
    out: list[IceServerJson] = []
    if stun:
        out.append({"urls": stun})
    if turn:
        assert settings.turn_secret is not None  # Settings refuses TURN without a secret
        username, password = turn_credentials(
            settings.turn_secret.get_secret_value(), session_id, settings.turn_ttl, now
        )
        out.append({"urls": turn, "username": username, "credential": password})
    return out


def peer_configuration(settings: Settings, session_id: str, now: datetime) -> RTCConfiguration:
    """The aiortc configuration of one server-side peer (never aiortc's default STUN)."""
    return rtc_configuration(ice_servers(settings, session_id, now))


def observer_peer(settings: Settings, session_id: str, now: datetime) -> ObserverPeer:
    """A server-side observer peer with the deployment's ICE servers, address and ports."""
    return ObserverPeer(
        peer_configuration(settings, session_id, now),
        settings.ice_public_ip,
        settings.ice_port_range,
    )
