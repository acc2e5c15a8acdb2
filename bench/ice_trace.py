"""Bench-only trace of ICE consent checks, peer connection states, loop lag and CPU.

Installed in a process by ``install(directory, who)`` (bench/cluster.py ``--trace``: in the
bench itself, and in the nodes through bench/ice_trace_site/sitecustomize.py, which calls
``install_from_env`` when ``CANDOR_BENCH_ICE_TRACE`` names a directory). Nothing in the product
imports this module. Each process appends JSON lines to ``<directory>/ice-<who>-<pid>.jsonl``:

- ``check``: one consent check (RFC 7675) this side sent: its STUN transaction id, sent at,
  answered or not, round trip, how late the check's 5 s timer fired, misses in a row;
- ``stun_in``: a binding request this side received (and answered at once): transaction id;
  matched with the other side's ``check`` it tells whether a missed check reached its peer;
- ``expired``: this side's consent limit was reached (aioice then closes the connection);
- ``ice_close``: an ICE connection closed (``by``: consent, or anything else such as a hang-up);
- ``pc``: a peer connection's state changed (with its ICE ufrag, to pair client and server);
- ``lag``: the event loop ran a callback late by more than 0.1 s (probed every 0.25 s);
- ``cpu``: the process's CPU over the last second, % of one core;
- ``queue``: packets read from the sockets that aioice holds for its peer connections and
  the media code has not taken yet (deepest connection and all), once a second.

Connections are named by ICE ufrags: a client's local ufrag is its server peer's remote one.
aioice 0.13.0's ``Connection.query_consent`` is copied here with the records added (same
interval, limit, single request and 0.5 s timeout), so the traced behaviour is aioice's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
import weakref
from pathlib import Path
from typing import Any

_out: Any = None
_who = ""
_lock = threading.Lock()
_probe: threading.Thread | None = None
_connections: weakref.WeakSet[Any] = weakref.WeakSet()


def record(ev: str, **fields: Any) -> None:
    """One JSON line (thread-safe; the trace file is line-buffered)."""
    if _out is None:
        return
    line = json.dumps({"ev": ev, "t": round(time.time(), 4), "who": _who, **fields})
    with _lock:
        _out.write(line + "\n")


def _start_probe(loop: asyncio.AbstractEventLoop) -> None:
    """A daemon thread: loop lag (a callback scheduled every 0.25 s) and CPU per second."""
    global _probe
    if _probe is not None:
        return

    def ran(asked: float) -> None:
        lag = time.monotonic() - asked
        if lag > 0.1:
            record("lag", lag=round(lag, 3))

    def probe() -> None:
        cpu0, wall0 = time.process_time(), time.monotonic()
        while not loop.is_closed():
            time.sleep(0.25)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(ran, time.monotonic())
            now = time.monotonic()
            if now - wall0 >= 1.0:
                cpu = time.process_time()
                record("cpu", pct=round(100 * (cpu - cpu0) / (now - wall0), 1))
                cpu0, wall0 = cpu, now
                with contextlib.suppress(RuntimeError):  # the set changed while read
                    depths = [c._queue.qsize() for c in list(_connections)]
                    if depths:
                        record("queue", max=max(depths), total=sum(depths), n=len(depths))

    _probe = threading.Thread(target=probe, name="ice-trace-probe", daemon=True)
    _probe.start()


def install(directory: Path, who: str) -> None:
    """Patch aioice and aiortc in this process to write the trace (idempotent)."""
    global _out, _who
    if _out is not None:
        return
    from aioice import ice, stun
    from aiortc import RTCPeerConnection

    directory.mkdir(parents=True, exist_ok=True)
    _who = who
    _out = (directory / f"ice-{who}-{os.getpid()}.jsonl").open("a", buffering=1)

    def ufrags(conn: Any) -> dict[str, str]:
        return {"lu": str(conn.local_username), "ru": str(conn.remote_username)}

    async def query_consent(self: Any) -> None:
        assert self.remote_password is not None
        failures = 0
        while True:
            delay = ice.CONSENT_INTERVAL * (0.8 + 0.4 * random.random())
            t0 = time.monotonic()
            await asyncio.sleep(delay)
            late = time.monotonic() - t0 - delay
            for pair in self._nominated.values():
                request = self.build_request(pair, nominate=False)
                sent, m0 = time.time(), time.monotonic()
                try:
                    await pair.protocol.request(
                        request,
                        pair.remote_addr,
                        integrity_key=self.remote_password.encode("utf8"),
                        retransmissions=0,
                    )
                    failures = 0
                    ok = True
                except stun.TransactionError:
                    failures += 1
                    ok = False
                record(
                    "check",
                    **ufrags(self),
                    tid=request.transaction_id.hex(),
                    sent=round(sent, 4),
                    ok=ok,
                    rtt=round(time.monotonic() - m0, 4),
                    timer_late=round(late, 3),
                    misses=failures,
                )
                if failures >= ice.CONSENT_FAILURES:
                    record("expired", **ufrags(self))
                    self._query_consent_task = None
                    self._bench_closed_by = "consent"
                    return await self.close()  # type: ignore[no-any-return]

    original_received = ice.Connection.request_received
    original_close = ice.Connection.close
    original_init = ice.Connection.__init__

    def request_received(self: Any, message: Any, addr: Any, protocol: Any) -> None:
        if message.message_method == stun.Method.BINDING:
            record("stun_in", **ufrags(self), tid=message.transaction_id.hex())
        original_received(self, message, addr, protocol)

    async def close(self: Any) -> None:
        record("ice_close", **ufrags(self), by=getattr(self, "_bench_closed_by", "other"))
        await original_close(self)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        _connections.add(self)
        with contextlib.suppress(RuntimeError):
            _start_probe(asyncio.get_running_loop())

    ice.Connection.query_consent = query_consent  # type: ignore[method-assign]
    ice.Connection.request_received = request_received  # type: ignore[method-assign]
    ice.Connection.close = close  # type: ignore[method-assign]
    ice.Connection.__init__ = init  # type: ignore[method-assign]

    pc_init = RTCPeerConnection.__init__

    def peer_init(self: RTCPeerConnection, *args: Any, **kwargs: Any) -> None:
        pc_init(self, *args, **kwargs)

        def changed() -> None:
            lu = ru = None
            with contextlib.suppress(Exception):
                for tr in self.getTransceivers():
                    conn = tr.sender.transport.transport.iceGatherer._connection
                    lu, ru = str(conn.local_username), str(conn.remote_username)
                    break
            record(
                "pc",
                lu=lu,
                ru=ru,
                state=self.connectionState,
                ice=self.iceConnectionState,
                pc=id(self),
            )

        self.on("connectionstatechange", changed)
        self.on("iceconnectionstatechange", changed)

    RTCPeerConnection.__init__ = peer_init  # type: ignore[method-assign]


def install_from_env() -> None:
    """Install when ``CANDOR_BENCH_ICE_TRACE`` names a directory (the nodes' sitecustomize)."""
    directory = os.environ.get("CANDOR_BENCH_ICE_TRACE")
    if directory:
        install(Path(directory), os.environ.get("CANDOR_NODE_ID", "proc"))
