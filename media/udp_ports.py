"""Keep the server's media sockets inside a UDP port range (``CANDOR_ICE_PORT_RANGE``).

aioice 0.13 (aiortc's ICE) binds every host candidate to port 0 and has no option to narrow
it (aiortc issue 487; aioice pull requests 63 and 112, not merged). Rather than fork it,
Candor wraps the event loop's ``create_datagram_endpoint``: while a server-side peer gathers
its candidates (``bound_to``, a context variable, so only that task and the tasks it starts
are affected), a request for port 0 becomes a bind to a free port of the range, tried in
random order. Everything else (client peers in the same process, TURN allocations, mDNS)
binds as it asked. A full range fails the bind with a message that says what to do; aioice
then offers no candidate for that address and the peer fails like any unreachable one.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

PortRange = tuple[int, int]
_RANGE: ContextVar[PortRange | None] = ContextVar("candor_udp_port_range", default=None)
_MARK = "_candor_udp_port_range"


@contextmanager
def bound_to(ports: PortRange | None) -> Iterator[None]:
    """UDP sockets bound to port 0 in this context take a port from ``ports`` (None: any)."""
    token = _RANGE.set(ports)
    try:
        yield
    finally:
        _RANGE.reset(token)


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Wrap ``loop.create_datagram_endpoint`` once (it does nothing outside ``bound_to``)."""
    if getattr(loop, _MARK, False):
        return
    original = loop.create_datagram_endpoint

    async def create_datagram_endpoint(
        protocol_factory: Any, local_addr: Any = None, remote_addr: Any = None, **kwargs: Any
    ) -> Any:
        ports = _RANGE.get()
        if ports is None or local_addr is None or local_addr[1] != 0:
            return await original(
                protocol_factory, local_addr=local_addr, remote_addr=remote_addr, **kwargs
            )
        low, high = ports
        candidates = list(range(low, high + 1))
        random.shuffle(candidates)
        for port in candidates:
            try:
                return await original(
                    protocol_factory,
                    local_addr=(local_addr[0], port, *local_addr[2:]),
                    remote_addr=remote_addr,
                    **kwargs,
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
