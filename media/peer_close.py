"""Close an RTCPeerConnection even when a malformed offer left it half built."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aiortc import RTCPeerConnection

log = logging.getLogger(__name__)


async def close_peer_connection(pc: RTCPeerConnection) -> None:
    """``pc.close()``; if aiortc fails on a half-built connection, stop every transport anyway.

    Fuzzed offers showed ``close()`` raising AttributeError when a transceiver has no
    transport yet, which left ICE sockets open. The fallback stops what exists, one by one.
    """
    try:
        await pc.close()
        return
    except Exception as exc:
        log.warning("peer connection needed a forced close", extra={"error": type(exc).__name__})
    stoppables: list[Any] = []
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        stoppables += [dtls, getattr(dtls, "transport", None)]
    sctp = pc.sctp
    if sctp is not None:
        dtls = sctp.transport
        stoppables += [dtls, getattr(dtls, "transport", None)]
    # aiortc keeps the ICE transports (one UDP socket set each) only in a private set.
    stoppables += list(getattr(pc, "_RTCPeerConnection__iceTransports", ()))
    for item in stoppables:
        if item is not None:
            with contextlib.suppress(Exception):
                await item.stop()
    closed = getattr(pc, "_RTCPeerConnection__isClosed", None)
    if closed is not None and not closed.done():
        closed.set_result(True)  # a later close() returns instead of waiting forever
    pc.remove_all_listeners()


def end_remote_tracks(tracks: list[Any]) -> None:
    """End received tracks so MediaRelay's reader tasks finish.

    aiortc ends a remote track only from its decoder, which never starts when the connection
    never came up (every rejected or abandoned offer); its relay reader would wait forever.
    The end-of-stream marker (None) is what the decoder itself puts on the track's queue.
    """
    for track in tracks:
        queue = getattr(track, "_queue", None)
        if queue is not None:
            with contextlib.suppress(Exception):
                queue.put_nowait(None)
