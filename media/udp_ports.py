"""The server's media sockets: inside a UDP port range, and read until empty on each wake-up.

aioice 0.13 (aiortc's ICE) binds every host candidate to port 0 and has no option to narrow
it (aiortc issue 487; aioice pull requests 63 and 112, not merged). Rather than fork it,
Candor wraps the event loop's ``create_datagram_endpoint``: while a server-side peer gathers
its candidates (``bound_to``, a context variable, so only that task and the tasks it starts
are affected), a request for port 0 becomes a bind to a free port of the range, tried in
random order. Everything else (client peers in the same process, TURN allocations, mDNS)
binds as it asked. A full range fails the bind with a message that says what to do; aioice
then offers no candidate for that address and the peer fails like any unreachable one.

Draining. asyncio's selector event loop reads *one* datagram per socket per loop iteration
(``_SelectorDatagramTransport._read_ready``). A candidate sends tens of packets a second;
when a node is busy with many interviews its loop iterations take tens of milliseconds, a
socket is read fewer times a second than packets arrive, the kernel buffer (256 KiB, set by
aioice) fills, packets are dropped and every packet that is kept waits seconds behind the
media before aioice sees it. ICE consent checks (RFC 7675) are STUN requests and answers on
that same socket: aioice counts an answer later than 0.5 s as a miss and closes the
connection after 6 misses, so every candidate's media connection failed ~30-40 s after one
node took on eight (docs/operations.md, "Media connections dropped while one node carried
all eight": measured, not guessed). So a server-side peer's host sockets (``bound_to``
context) are opened here on a socket of our own, and after the loop's one read the rest
waiting is read at once (at most ``DRAIN_LIMIT`` more): STUN is answered in the iteration it
arrives, and media queues in aioice's own queue instead of overflowing the kernel's.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

PortRange = tuple[int, int]
_RANGE: ContextVar[PortRange | None] = ContextVar("candor_udp_port_range", default=None)
_SERVER_PEER: ContextVar[bool] = ContextVar("candor_server_peer", default=False)
_MARK = "_candor_udp_port_range"
# datagrams read after the loop's own one, per wake-up: ~1 s of one candidate's media
DRAIN_LIMIT = 64
_MAX_DATAGRAM = 65536


@contextmanager
def bound_to(ports: PortRange | None) -> Iterator[None]:
    """A server-side peer's sockets: bound to port 0, they take a port from ``ports`` (None:
    any); every one opened with a local address is drained on each read (module docstring)."""
    token = _RANGE.set(ports)
    server = _SERVER_PEER.set(True)
    try:
        yield
    finally:
        _SERVER_PEER.reset(server)
        _RANGE.reset(token)


def _bind(local_addr: Any) -> socket.socket:
    """A non-blocking UDP socket bound to ``local_addr`` (resolved as asyncio does)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        local_addr[0], local_addr[1], type=socket.SOCK_DGRAM
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def drain(transport: asyncio.DatagramTransport, protocol: Any, sock: socket.socket) -> None:
    """After each datagram the loop hands ``protocol``, hand it the rest waiting on ``sock``."""
    received = protocol.datagram_received

    def datagram_received(data: bytes, addr: Any) -> None:
        received(data, addr)
        for _ in range(DRAIN_LIMIT):
            if transport.is_closing():
                return
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                protocol.error_received(exc)
                return
            received(data, addr)

    setattr(protocol, "datagram_received", datagram_received)  # noqa: B010


async def _open(original: Any, protocol_factory: Any, local_addr: Any) -> Any:
    """``create_datagram_endpoint`` on a socket of our own, drained (see ``drain``)."""
    sock = _bind(local_addr)
    try:
        transport, protocol = await original(protocol_factory, sock=sock)
    except BaseException:
        sock.close()
        raise
    drain(transport, protocol, sock)
    return transport, protocol


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Wrap ``loop.create_datagram_endpoint`` once (it does nothing outside ``bound_to``)."""
    if getattr(loop, _MARK, False):
        return
    original = loop.create_datagram_endpoint

    async def create_datagram_endpoint(
        protocol_factory: Any, local_addr: Any = None, remote_addr: Any = None, **kwargs: Any
    ) -> Any:
        if not _SERVER_PEER.get() or local_addr is None or remote_addr is not None or kwargs:
            return await original(
                protocol_factory, local_addr=local_addr, remote_addr=remote_addr, **kwargs
            )
        ports = _RANGE.get()
        if ports is None or local_addr[1] != 0:
            return await _open(original, protocol_factory, local_addr)
        low, high = ports
        candidates = list(range(low, high + 1))
        random.shuffle(candidates)
        for port in candidates:
            try:
                return await _open(
                    original, protocol_factory, (local_addr[0], port, *local_addr[2:])
                )
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        log.warning(
            "no free UDP port for media",
            extra={"address": local_addr[0], "low": low, "high": high},
        )
        raise OSError(
            errno.EADDRINUSE,
            f"every UDP port in {low}-{high} on {local_addr[0]} is in use: widen "
            "CANDOR_ICE_PORT_RANGE (each live peer holds one port per local address)",
        )

    setattr(loop, "create_datagram_endpoint", create_datagram_endpoint)  # noqa: B010
    setattr(loop, _MARK, True)


def uninstall(loop: asyncio.AbstractEventLoop) -> None:
    """Undo ``install`` (the loop's own method shows through again)."""
    if getattr(loop, _MARK, False):
        delattr(loop, "create_datagram_endpoint")
        delattr(loop, _MARK)
