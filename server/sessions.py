"""The registry of live interview sessions and the app's background tasks.

The only place that knows which sessions exist. ``get`` creates a session and starts its
loop synchronously (no await between the lookup and the registration), so concurrent
requests for one interview always share one session. ``aclose`` stops every session and
background task and awaits them, before the app disposes of the database engine.

Routes use ``attach`` (an async context manager): it counts who is attached to the session
(candidate and observer sockets, HR requests); a session nobody is attached to that has
nothing live to keep releases itself after a short delay (server/session.py), and the next
``attach`` builds a new one from the database, whose loop starts once the old one's has ended.

With a :class:`server.cluster.Cluster` (several server processes), ``attach`` is the way in:
this node runs the session only while it holds the interview's lease in Redis (renewed while
the session runs, released when it ends); an observer or HR request for an interview another
node owns gets a :class:`server.remote_session.RemoteSession` that forwards its inputs there;
a candidate always gets a local session, after the previous owner handed over (or its lease
expired, if it died).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any

from media.candidate_peer import ObserverPeer
from server.cluster import Cluster
from server.errors import InterviewError
from server.remote_session import RemoteInputs, RemoteSession
from server.session import HANDOVER_DRAIN_SECONDS, InterviewSession
from server.session_inputs import Link, Shutdown

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 3.0  # per session, to finalize its recording segment


class ShuttingDown(InterviewError):
    """The server is stopping; no new live interview can start."""

    status = 503
    code = "shutting_down"


class OwnedElsewhere(InterviewError):
    """Another server holds the interview and did not let go in time."""

    status = 503
    code = "owned_elsewhere"


class SessionRegistry:
    """Creates, finds and stops the sessions of live interviews."""

    def __init__(
        self,
        make: Callable[[str], InterviewSession],
        cluster: Cluster | None = None,
        observer_peer: Callable[[str], ObserverPeer] | None = None,
        is_live: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._make = make
        # whether the interview's candidate is connected somewhere (its stored status)
        self._is_live = is_live
        self._cluster = cluster
        self._observer_peer = observer_peer or (lambda _iid: ObserverPeer())
        self._remote: dict[str, RemoteSession] = {}
        self._remote_inputs: dict[InterviewSession, RemoteInputs] = {}
        self._handed_over: dict[str, float] = {}  # interview id -> when this node let go
        self._renewed: dict[InterviewSession, float] = {}  # last successful lease renewal
        if cluster is not None:
            cluster.on_command = self._on_command
        self._sessions: dict[str, InterviewSession] = {}
        self._runs: dict[InterviewSession, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._sockets: set[Link] = set()
        self._closing = False

    def get(self, interview_id: str) -> InterviewSession:
        """The interview's session, created and started on first use."""
        session = self._sessions.get(interview_id)
        if session is not None and not session.closed and not session.stopping:
            return session
        if self._closing:
            raise ShuttingDown("The server is restarting. Please try again in a minute.")
        # A session that has just ended (released, or the interview over) may still be closing:
        # the new one's loop starts after it, so the two never hold the interview at once.
        previous = self._runs.get(session) if session is not None else None
        session = self._make(interview_id)
        if self._cluster is not None:
            session.check_lease_with(self._lease_check(session))
        self._sessions[interview_id] = session
        self._runs[session] = asyncio.create_task(
            self._run(session, previous), name=f"interview-session-{interview_id[:8]}"
        )
        return session

    @contextlib.asynccontextmanager
    async def attach(
        self, interview_id: str, *, candidate: bool = False
    ) -> AsyncIterator[InterviewSession | RemoteSession]:
        """The interview's session wherever it runs, held while the ``async with`` body runs.

        A local session counts this attachment (``hold``) from the moment it is found or made,
        without an await in between, and until the body ends (``let_go``). With a cluster:
        the local session if this node holds (or can take) the lease; else, for observers and
        HR, a remote session on the owner (the owner counts them); for a candidate (whose media
        must come here), the owner is asked to hand over, and its lease is taken once released
        or expired (a dead owner's, after at most ``lease_seconds``).
        """
        session = await self._attach(interview_id, candidate=candidate)
        try:
            yield session
        finally:
            if isinstance(session, InterviewSession):
                session.let_go()

    def _held(self, interview_id: str) -> InterviewSession:
        session = self.find(interview_id) or self.get(interview_id)
        session.hold()
        return session

    async def _attach(
        self, interview_id: str, *, candidate: bool
    ) -> InterviewSession | RemoteSession:
        cluster = self._cluster
        if cluster is None or self.find(interview_id) is not None:
            return self._held(interview_id)
        if self._closing:
            raise ShuttingDown("The server is restarting. Please try again in a minute.")
        # A session of this interview still stopping here (handing over, lease lost) holds the
        # lease until its run ends: taking "our" lease now would start a new session here and
        # undo the handover. Wait for it; then the lease tells who runs the interview.
        stopping = self._sessions.get(interview_id)
        run = self._runs.get(stopping) if stopping is not None else None
        if run is not None:
            await asyncio.wait({run}, timeout=SHUTDOWN_SECONDS + HANDOVER_DRAIN_SECONDS + 1)
            if self.find(interview_id) is not None:
                return self._held(interview_id)
        loop = asyncio.get_running_loop()
        if not candidate:
            holder = await self._taken_after_handover(interview_id)
            if holder is not None:
                return self._remote_session(interview_id, holder)
        # The owner finalizes its segment and drains transcription briefly before letting go.
        deadline = (
            loop.time() + cluster.lease_seconds + SHUTDOWN_SECONDS + HANDOVER_DRAIN_SECONDS + 4
        )
        asked: float | None = None  # when the holder was last asked to hand over
        if not candidate:
            holder = await self._owner_back(interview_id)
            if holder is not None:
                return self._remote_session(interview_id, holder)
        while True:
            if await cluster.acquire(interview_id):
                return self._held(interview_id)
            holder = await cluster.holder(interview_id)
            if holder is None:
                continue  # released meanwhile: take it
            if not candidate:
                return self._remote_session(interview_id, holder)
            # One-way: a live owner finalizes its segment and releases the lease, which the
            # next try takes; a dead owner never answers, and waiting for its answer kept the
            # candidate waiting after the lease had expired (docs/operations.md). Asked again
            # a lease period later: someone may have taken the lease between its release and
            # this node's next try.
            if asked is None or loop.time() - asked > cluster.lease_seconds:
                with contextlib.suppress(Exception):  # Redis away: the lease expires anyway
                    await cluster.post(interview_id, "handover")
                asked = loop.time()
            if loop.time() > deadline:
                raise OwnedElsewhere(
                    "This interview is running on another server that did not let go. "
                    "Please try again in a minute."
                )
            await asyncio.sleep(0.2)

    async def _owner_back(self, interview_id: str) -> str | None:
        """For an observer or HR: the owner of a live interview whose lease is vacant, if it
        takes the lease again within a lease period.

        A vacant lease of a live interview means Redis restarted (it keeps nothing; the owner
        takes the lease again at its next renewal, a third of a period later) or the owner
        died. In the full-scale run an observer's question that failed during a Redis restart
        was retried here, took the vacant lease at once, and pulled two interviews and their
        candidates away from their owner (new segments). Only a lease vacant for a whole
        period is taken; a candidate (whose media must come here) does not wait.
        """
        cluster = self._cluster
        assert cluster is not None
        if await cluster.holder(interview_id) is not None:
            return None  # held: the caller's usual path
        if self._is_live is None or not await self._is_live(interview_id):
            return None  # nobody runs it: take it at once
        loop = asyncio.get_running_loop()
        until = loop.time() + cluster.lease_seconds
        while loop.time() < until:
            await asyncio.sleep(min(0.2, cluster.lease_seconds / 10))
            holder = await cluster.holder(interview_id)
            if holder is not None and holder != cluster.node_id:
                return holder
            if holder is not None or self.find(interview_id) is not None:
                return None
        return None

    async def _taken_after_handover(self, interview_id: str) -> str | None:
        """The node this one just handed the interview to, once it holds the lease.

        An observer who reconnects here right after a handover (its socket was closed with
        1012) must not take the lease back in the moment between this node letting go and the
        candidate's node taking it: the candidate would wait for another handover. For a
        lease period after handing over, observers wait for the new holder instead.
        """
        cluster = self._cluster
        assert cluster is not None
        loop = asyncio.get_running_loop()
        since = self._handed_over.get(interview_id)
        if since is None:
            return None
        until = since + cluster.lease_seconds
        if loop.time() > until:
            self._handed_over.pop(interview_id, None)
            return None
        while loop.time() < until:
            holder = await cluster.holder(interview_id)
            if holder is not None and holder != cluster.node_id:
                return holder
            await asyncio.sleep(0.2)
        return None

    def _remote_session(self, interview_id: str, owner: str) -> RemoteSession:
        assert self._cluster is not None
        remote = self._remote.get(interview_id)
        if remote is None or remote.closed or remote.owner != owner:
            if remote is not None:
                self.spawn(remote.aclose(), name="remote-session-close")
            remote = self._remote[interview_id] = RemoteSession(self._cluster, interview_id, owner)
        return remote

    async def _on_command(self, interview_id: str, msg: dict[str, Any]) -> Any:
        """A command from another node (``interview_id`` empty: a notice for this node)."""
        if not interview_id:
            for remote in list(self._remote.values()):
                remote.notice(msg)
            return None
        # A session still stopping answers too: what it has not applied is refused as moved.
        session = self._sessions.get(interview_id)
        if session is None or session.closed or self._cluster is None:
            raise LookupError(interview_id)  # not ours: the owner answers
        if msg.get("op") == "handover":
            self._handed_over[interview_id] = asyncio.get_running_loop().time()
        inputs = self._remote_inputs.get(session)
        if inputs is None:
            inputs = self._remote_inputs[session] = RemoteInputs(
                self._cluster, make_peer=lambda: self._observer_peer(interview_id)
            )
        return await inputs.handle(session, msg)

    def find(self, interview_id: str) -> InterviewSession | None:
        """The interview's session if one is running and not stopping (never creates one)."""
        session = self._sessions.get(interview_id)
        if session is None or session.closed or session.stopping:
            return None
        return session

    def running(self) -> list[InterviewSession]:
        """Every session currently running."""
        return [s for s in self._sessions.values() if not s.closed]

    async def stop(self, interview_id: str) -> None:
        """Stop one interview's session (it stays resumable) and wait for it."""
        session = self._sessions.get(interview_id)
        if session is None:
            return
        session.submit(Shutdown())
        task = self._runs.get(session)
        if task is not None:
            await asyncio.wait({task}, timeout=SHUTDOWN_SECONDS)
            await _cancel(task)

    @contextlib.contextmanager
    def socket(self, link: Link) -> Iterator[None]:
        """Track a live socket while its handler runs; shutdown closes any still open."""
        self._sockets.add(link)
        try:
            yield
        finally:
            self._sockets.discard(link)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task of the app, cancelled and awaited by ``aclose``."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def aclose(self) -> None:
        """Stop every session (finalizing recordings) and background task, and await them."""
        self._closing = True
        runs = list(self._runs.values())
        for session in list(self._runs):
            session.submit(Shutdown())
        if runs:
            await asyncio.wait(runs, timeout=SHUTDOWN_SECONDS + 1.0)
        for task in [*runs, *self._background]:
            await _cancel(task)
        # Sockets no session closed (a candidate who never sent an offer, an observer who
        # connected as the server stopped): their handlers end now instead of at a timeout.
        for link in list(self._sockets):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await link.close(code=1001, message=b"server shutting down")
        for remote in list(self._remote.values()):
            await remote.aclose()
        self._remote.clear()
        log.info("live interviews stopped", extra={"sessions": len(runs)})

    async def _run(
        self, session: InterviewSession, previous: asyncio.Task[None] | None = None
    ) -> None:
        iid = session.interview_id
        renew = (
            asyncio.create_task(self._keep_lease(session), name="lease-renewal")
            if self._cluster is not None
            else None
        )
        try:
            await session.run(after=previous)
        except Exception:
            log.exception("a live interview session failed")
        finally:
            if renew is not None:
                await _cancel(renew)
            self._runs.pop(session, None)
            self._remote_inputs.pop(session, None)
            self._renewed.pop(session, None)
            if session.released:
                log.info("released an idle interview session")
            if self._sessions.get(iid) is session:
                del self._sessions[iid]
                if self._cluster is not None:
                    with contextlib.suppress(Exception):
                        await self._cluster.release(iid)

    def _lease_check(self, session: InterviewSession) -> Callable[[], Awaitable[bool]]:
        """Whether this node still holds ``session``'s lease, asking Redis only if in doubt.

        Renewed every third of a lease period: a renewal older than half a period means the
        loop stalled (or Redis is slow), and the lease may have expired and been taken.
        """
        cluster = self._cluster
        assert cluster is not None

        async def check() -> bool:
            renewed = self._renewed.get(session)
            now = asyncio.get_running_loop().time()
            if renewed is not None and now - renewed < cluster.lease_seconds / 2:
                return True
            try:
                held = await cluster.renew(session.interview_id)
            except Exception:
                return True  # Redis unreachable: cannot tell; the renewal loop keeps trying
            if held:
                self._renewed[session] = now
            return bool(held)

        return check

    async def _keep_lease(self, session: InterviewSession) -> None:
        """Renew the lease while the session runs; if another node took it, stop here."""
        cluster = self._cluster
        assert cluster is not None
        while True:
            # At once too: a predecessor's end may have let go of the lease meanwhile.
            try:
                held = await cluster.renew(session.interview_id)
            except Exception:
                log.warning("could not renew an interview's lease; retrying", exc_info=True)
            else:
                if not held:
                    log.warning("lost an interview's lease to another server; stopping here")
                    session.submit(Shutdown(lease_lost=True))
                    return
                self._renewed[session] = asyncio.get_running_loop().time()
                inputs = self._remote_inputs.get(session)
                if inputs is not None:
                    inputs.sweep(session)
            await asyncio.sleep(cluster.lease_seconds / 3)


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel and await: nothing it uses may be closed before it has finished."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
