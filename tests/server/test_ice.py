"""ICE configuration: no STUN by default anywhere, configured servers reach every peer."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from aiortc import RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcicetransport import RTCIceGatherer
from pydantic import ValidationError

from config.settings import Settings
from media import udp_ports
from media.candidate_peer import CandidatePeer, ObserverPeer
from media.crypto import MasterKey
from media.ice import advertise_public_ip, rtc_configuration
from server.app import create_app
from server.ice import ice_servers, turn_credentials
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import consent, make_settings, new_interview, sign_in
from tests.server.test_live_media import wait_for_event

WEB_CLIENT = Path(__file__).resolve().parents[2] / "web_client"
TURN = "turn:turn.example.com:3478?transport=udp"


def test_no_ice_server_is_configured_by_default(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.ice_servers == []
    assert ice_servers(settings, "iv1", datetime.now(UTC)) == []


def test_ice_servers_parse_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANDOR_ICE_SERVERS", f"stun:stun.example.com:3478, {TURN}")
    monkeypatch.setenv("CANDOR_TURN_SECRET", "s3cret")
    assert Settings().ice_servers == ["stun:stun.example.com:3478", TURN]
    monkeypatch.setenv("CANDOR_ICE_SERVERS", f'["{TURN}"]')
    assert Settings().ice_servers == [TURN]


def test_a_turn_server_without_a_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CANDOR_TURN_SECRET"):
        make_settings(tmp_path, ice_servers=[TURN])
    with pytest.raises(ValidationError, match="not a STUN/TURN URL"):
        make_settings(tmp_path, ice_servers=["http://turn.example.com"])


def test_turn_credentials_follow_the_coturn_rest_api_formula() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    username, password = turn_credentials("north wind", "iv42-c", 600, now)
    assert username == f"{int(now.timestamp()) + 600}:iv42-c"
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    # an independent implementation of coturn's check: base64(HMAC-SHA1(secret, username))
    digest = subprocess.run(
        ["openssl", "dgst", "-sha1", "-hmac", "north wind", "-binary"],
        input=username.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert password == base64.b64encode(digest).decode()


def test_turn_servers_get_fresh_credentials_per_session(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, ice_servers=["stun:stun.example.com", TURN], turn_secret="x", turn_ttl=900
    )
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    stun, turn = ice_servers(settings, "a", now)
    assert stun == {"urls": ["stun:stun.example.com"]}
    assert turn["urls"] == [TURN] and turn["username"].endswith(":a")
    assert int(turn["username"].split(":")[0]) == int(now.timestamp()) + 900
    assert ice_servers(settings, "b", now)[1]["credential"] != turn["credential"]


def test_every_page_passes_its_ice_configuration() -> None:
    """No page builds a peer without iceServers (browsers may fall back to a public STUN)."""
    for js in WEB_CLIENT.glob("*.js"):
        text = js.read_text()
        assert "stun:" not in text, js.name
        for call in re.findall(r"new RTCPeerConnection\(([^)]*)\)", text):
            assert call.strip(), f"{js.name} creates an RTCPeerConnection without a configuration"
    for page in WEB_CLIENT.glob("*.html"):
        assert "stun:" not in page.read_text(), page.name


async def test_the_ice_endpoints_return_the_configured_servers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ice_servers=[TURN], turn_secret="s3cret")
    async with TestClient(TestServer(create_app(settings))) as client:
        await sign_in(client)
        iv = await new_interview(client)
        cand = await (await client.get(f"/api/join/{iv['invite_token']}/ice")).json()
        obs = await (await client.get(f"/api/interviews/{iv['id']}/ice")).json()
        for body in (cand, obs):
            [turn] = body["iceServers"]
            assert turn["urls"] == [TURN] and ":" in turn["username"]
        assert (await client.get("/api/join/not-a-token/ice")).status in (401, 403, 404)
        await client.post("/api/logout")
        client.session.cookie_jar.clear()
        assert (await client.get(f"/api/interviews/{iv['id']}/ice")).status == 401


async def test_the_ice_endpoints_are_empty_by_default(
    client: TestClient[web.Request, web.Application],
) -> None:
    await sign_in(client)
    iv = await new_interview(client)
    body = await (await client.get(f"/api/join/{iv['invite_token']}/ice")).json()
    assert body == {"iceServers": []}


@pytest.fixture
def stun_trap(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """aiortc's default STUN server replaced by a local socket that counts what reaches it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    monkeypatch.setattr(
        RTCIceGatherer,
        "getDefaultIceServers",
        staticmethod(lambda: [RTCIceServer(f"stun:127.0.0.1:{port}")]),
    )
    yield sock
    sock.close()


def _trapped(sock: socket.socket) -> int:
    n = 0
    while True:
        try:
            sock.recv(2048)
        except BlockingIOError:
            return n
        n += 1


async def _offer(pc: RTCPeerConnection) -> str:
    pc.addTrack(PatternVideoTrack())
    await pc.setLocalDescription(await pc.createOffer())
    return str(pc.localDescription.sdp)


async def test_server_peers_never_fall_back_to_a_default_stun_server(
    stun_trap: socket.socket, tmp_path: Path
) -> None:
    # the control: a peer without configuration calls aiortc's default STUN server
    control = RTCPeerConnection()
    await _offer(control)
    await control.close()
    assert _trapped(stun_trap) > 0
    client = RTCPeerConnection(rtc_configuration([]))
    offer = await _offer(client)
    assert _trapped(stun_trap) == 0
    peer = CandidatePeer(tmp_path / "seg.cnd", MasterKey(os.urandom(32)))
    observer = ObserverPeer()
    try:
        answer = await peer.accept(offer)
        await observer.accept(offer, [])
        await asyncio.sleep(0.2)
    finally:
        await peer.close()
        await observer.close()
        await client.close()
    assert _trapped(stun_trap) == 0
    assert "srflx" not in answer and "relay" not in answer


async def test_a_configured_stun_server_is_used_by_the_server_peer(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    settings = make_settings(tmp_path, ice_servers=[f"stun:127.0.0.1:{sock.getsockname()[1]}"])
    client = RTCPeerConnection(rtc_configuration([]))
    peer = CandidatePeer(
        tmp_path / "seg.cnd",
        MasterKey(os.urandom(32)),
        ice=rtc_configuration(ice_servers(settings, "iv", datetime.now(UTC))),
    )
    try:
        await peer.accept(await _offer(client))
    finally:
        await peer.close()
        await client.close()
    assert _trapped(sock) > 0
    sock.close()


def test_the_public_ip_is_announced_beside_each_host_candidate() -> None:
    sdp = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=candidate:abc 1 udp 2130706431 10.0.0.5 40001 typ host\r\n"
        "a=candidate:def 1 udp 1694498815 198.51.100.7 40001 typ srflx"
        " raddr 10.0.0.5 rport 40001\r\n"
        "a=end-of-candidates\r\n"
    )
    out = advertise_public_ip(sdp, "203.0.113.9")
    lines = out.split("\r\n")
    i = lines.index("a=candidate:abc 1 udp 2130706431 10.0.0.5 40001 typ host")
    assert lines[i + 1] == "a=candidate:abcn 1 udp 2130706430 203.0.113.9 40001 typ host"
    assert out.count("203.0.113.9") == 1  # srflx untouched


async def test_the_public_ip_appears_in_real_answers(tmp_path: Path) -> None:
    client = RTCPeerConnection(rtc_configuration([]))
    peer = CandidatePeer(tmp_path / "s.cnd", MasterKey(os.urandom(32)), public_ip="203.0.113.9")
    try:
        answer = await peer.accept(await _offer(client))
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    finally:
        await peer.close()
        await client.close()
    ports = re.findall(r"typ host", answer)
    assert " 203.0.113.9 " in answer and len(ports) >= 2


# -- UDP port range (media/udp_ports.py) ------------------------------------------------

# Below Linux's ephemeral range (32768-60999), so a socket outside the context never lands here.
LOW, HIGH = 20310, 20339
_HOST_PORT = re.compile(r"^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", re.M | re.I)


def test_the_port_range_parses_and_refuses_nonsense(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert make_settings(tmp_path).ice_port_range is None
    assert make_settings(tmp_path, ice_port_range="50000-50199").ice_port_range == (50000, 50199)
    monkeypatch.setenv("CANDOR_ICE_PORT_RANGE", " 40000 - 40009 ")
    assert Settings().ice_port_range == (40000, 40009)
    for bad, why in (("50000", "not a range"), ("60000-50000", "low first"), ("80-90", "1024")):
        with pytest.raises(ValidationError, match=why):
            make_settings(tmp_path, ice_port_range=bad)


async def test_server_peers_bind_inside_the_range_and_nothing_else_does(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    udp_ports.install(loop)
    client = RTCPeerConnection(rtc_configuration([]))
    peer = CandidatePeer(tmp_path / "seg.cnd", MasterKey(os.urandom(32)), port_range=(LOW, HIGH))
    observer = ObserverPeer(port_range=(LOW, HIGH))
    try:
        offer = await _offer(client)
        answers = [await peer.accept(offer), await observer.accept(offer, [])]
    finally:
        await peer.close()
        await observer.close()
        await client.close()
        udp_ports.uninstall(loop)
    for answer in answers:
        ports = [int(p) for p in _HOST_PORT.findall(answer)]
        assert ports and all(LOW <= p <= HIGH for p in ports), ports
    client_ports = [int(p) for p in _HOST_PORT.findall(offer)]
    assert client_ports and not any(LOW <= p <= HIGH for p in client_ports)
    assert "create_datagram_endpoint" not in vars(loop)  # uninstalled


async def test_a_full_range_says_what_to_do() -> None:
    loop = asyncio.get_running_loop()
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", LOW))
    udp_ports.install(loop)
    try:
        with udp_ports.bound_to((LOW, LOW)), pytest.raises(OSError, match="CANDOR_ICE_PORT_RANGE"):
            await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
            )
    finally:
        udp_ports.uninstall(loop)
        taken.close()


class _Counting(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.got.append(data)


async def test_server_peer_sockets_are_read_until_empty_on_each_wake_up() -> None:
    """asyncio reads one datagram per socket per loop iteration; a server peer's socket hands
    aioice everything waiting at once, so a STUN consent check never waits behind seconds of
    queued media (docs/operations.md, "Media connections dropped while one node carried all
    eight")."""
    loop = asyncio.get_running_loop()
    udp_ports.install(loop)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with udp_ports.bound_to(None):
            transport, protocol = await loop.create_datagram_endpoint(
                _Counting, local_addr=("127.0.0.1", 0)
            )
        plain, untouched = await loop.create_datagram_endpoint(
            _Counting, local_addr=("127.0.0.1", 0)
        )
        assert "datagram_received" in vars(protocol)  # drained
        assert "datagram_received" not in vars(untouched)  # outside a server peer: as asyncio
        port = transport.get_extra_info("sockname")[1]
        for n in range(20):  # queued in the kernel before the loop can read any
            sender.sendto(b"%d" % n, ("127.0.0.1", port))
        # the loop's one read hands over one datagram; the rest follow in the same call
        protocol.datagram_received(b"first", ("127.0.0.1", 1))
        assert protocol.got == [b"first", *(b"%d" % n for n in range(20))]
        transport.close()
        plain.close()
        protocol.datagram_received(b"after close", ("127.0.0.1", 1))  # reads nothing more
        assert protocol.got[-1] == b"after close"
    finally:
        sender.close()
        udp_ports.uninstall(loop)


async def test_drained_sockets_still_bind_inside_the_range() -> None:
    loop = asyncio.get_running_loop()
    udp_ports.install(loop)
    try:
        with udp_ports.bound_to((LOW, HIGH)):
            transport, protocol = await loop.create_datagram_endpoint(
                _Counting, local_addr=("127.0.0.1", 0)
            )
        assert LOW <= transport.get_extra_info("sockname")[1] <= HIGH
        assert "datagram_received" in vars(protocol)
        transport.close()
    finally:
        udp_ports.uninstall(loop)


async def test_a_live_interview_answers_from_the_configured_ports(tmp_path: Path) -> None:
    """The whole path: settings → app → the candidate's peer; media flows through the range."""
    app = create_app(make_settings(tmp_path, ice_port_range=f"{LOW}-{HIGH}"))
    async with TestClient(TestServer(app)) as api, ClientSession() as http:
        await sign_in(api)
        iv = await new_interview(api)
        await consent(api, iv["invite_token"])
        cand = CandidateClient(str(api.make_url("")), iv["invite_token"], http)
        await cand.join(video=PatternVideoTrack())
        try:
            await wait_for_event(api, iv["id"], "media_started")
            assert cand.pc is not None and cand.pc.remoteDescription is not None
            ports = [int(p) for p in _HOST_PORT.findall(cand.pc.remoteDescription.sdp)]
            assert ports and all(LOW <= p <= HIGH for p in ports), ports
        finally:
            await cand.leave()
    assert "create_datagram_endpoint" not in vars(asyncio.get_running_loop())
