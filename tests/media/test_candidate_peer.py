"""The server peer is closed, sockets and all, when its negotiation fails or is cancelled."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack

from media.candidate_peer import BadOffer, CandidatePeer, ObserverPeer
from media.crypto import MasterKey


async def audio_offer() -> str:
    """An SDP offer with one audio track, from a real aiortc peer (closed again)."""
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def cancelled(task: asyncio.Task[str]) -> bool:
    """Whether a cancelled ``accept`` ended cancelled (False: it had already answered)."""
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


def assert_no_leaked_sockets() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("ticks", [1, 3, 10, 30])
async def test_cancelled_candidate_negotiation_closes_the_peer(tmp_path: Path, ticks: int) -> None:
    peer = CandidatePeer(tmp_path / "seg.cnd", MasterKey(os.urandom(32)))
    accepting = asyncio.create_task(peer.accept(await audio_offer()))
    for _ in range(ticks):
        await asyncio.sleep(0)
    accepting.cancel()
    if not await cancelled(accepting):  # the negotiation won the race: hang up normally
        await peer.close()
    assert peer.pc.connectionState == "closed"
    assert await peer.close() is None  # already closed: a second close is harmless
    assert_no_leaked_sockets()


@pytest.mark.parametrize("ticks", [1, 3, 30])
async def test_cancelled_observer_negotiation_closes_the_peer(ticks: int) -> None:
    peer = ObserverPeer()
    offer = RTCPeerConnection()
    offer.addTransceiver("video", direction="recvonly")
    await offer.setLocalDescription(await offer.createOffer())
    sdp = offer.localDescription.sdp
    await offer.close()
    accepting = asyncio.create_task(peer.accept(sdp, []))
    for _ in range(ticks):
        await asyncio.sleep(0)
    accepting.cancel()
    if not await cancelled(accepting):
        await peer.close()
    assert peer.pc.connectionState == "closed"
    assert_no_leaked_sockets()


async def test_a_bad_offer_closes_the_peer(tmp_path: Path) -> None:
    peer = CandidatePeer(tmp_path / "seg.cnd", MasterKey(os.urandom(32)))
    with pytest.raises(BadOffer):
        await peer.accept("v=0 not sdp")
    assert peer.pc.connectionState == "closed"
