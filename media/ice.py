"""ICE configuration for aiortc peers and the public-address rewrite of answers.

aiortc falls back to a public STUN server when a peer is created without ``iceServers``;
Candor always passes an explicit list, empty by default (host candidates only).
"""

from __future__ import annotations

import re
from typing import NotRequired, TypedDict

from aiortc import RTCConfiguration, RTCIceServer


class IceServerJson(TypedDict):
    """One entry of ``RTCConfiguration.iceServers`` as browsers take it."""

    urls: list[str]
    username: NotRequired[str]
    credential: NotRequired[str]


def rtc_configuration(servers: list[IceServerJson]) -> RTCConfiguration:
    """An aiortc configuration with exactly ``servers`` (an empty list: no STUN, no TURN)."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(
                urls=list(s["urls"]), username=s.get("username"), credential=s.get("credential")
            )
            for s in servers
        ]
    )


_HOST_CANDIDATE = re.compile(
    r"^a=candidate:(?P<foundation>\S+) (?P<component>\d+) (?P<transport>udp) (?P<priority>\d+) "
    r"(?P<address>\S+) (?P<port>\d+) typ host(?P<rest>.*)$",
    re.IGNORECASE,
)


def advertise_public_ip(sdp: str, public_ip: str) -> str:
    """Add a candidate at ``public_ip`` with the same port after each host UDP candidate.

    For a server behind a 1:1 NAT (or a container whose UDP ports are published one to
    one): the peer's checks reach the same socket through the mapping. aioice 0.13 has no
    NAT-mapping option of its own, so the answer is rewritten. The added candidate gets a
    slightly lower priority and its own foundation.
    """
    out: list[str] = []
    newline = "\r\n" if "\r\n" in sdp else "\n"
    seen: set[tuple[str, str]] = set()
    for line in sdp.split(newline):
        out.append(line)
        match = _HOST_CANDIDATE.match(line)
        if match is None or match["address"] == public_ip:
            continue
        key = (match["component"], match["port"])
        if key in seen:
            continue
        seen.add(key)
        priority = max(1, int(match["priority"]) - 1)
        out.append(
            f"a=candidate:{match['foundation']}n {match['component']} {match['transport']} "
            f"{priority} {public_ip} {match['port']} typ host{match['rest']}"
        )
    return newline.join(out)
