"""The registry of live interview sessions and the app's background tasks.

The only place that knows which sessions exist. ``get`` creates a session and starts its
loop synchronously (no await between the lookup and the registration), so concurrent
requests for one interview always share one session. ``aclose`` stops every session and
background task and awaits them, before the app disposes of the database engine. A later
step can put ownership across several server processes behind this same interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from server.errors import InterviewError
from server.session import InterviewSession
from server.session_inputs import Link, Shutdown

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 3.0  # per session, to finalize its recording segment


class ShuttingDown(InterviewError):
    """The server is stopping; no new live interview can start."""

    status = 503
    code = "shutting_down"


class SessionRegistry:
    """Creates, finds and stops the sessions of live interviews."""

    def __init__(self, make: Callable[[str], InterviewSession]) -> None:
        self._make = make
        self._sessions: dict[str, InterviewSession] = {}
        self._runs: dict[InterviewSession, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._sockets: set[Link] = set()
        self._closing = False

    def get(self, interview_id: str) -> InterviewSession:
        """The interview's session, created and started on first use."""
        session = self._sessions.get(interview_id)
        if session is not None and not session.closed:
            return session
        if self._closing:
            raise ShuttingDown("The server is restarting. Please try again in a minute.")
        session = self._make(interview_id)
        self._sessions[interview_id] = session
        self._runs[session] = asyncio.create_task(
            self._run(session), name=f"interview-session-{interview_id[:8]}"
        )
        return session

    def find(self, interview_id: str) -> InterviewSession | None:
        """The interview's session if one is running (never creates one)."""
        session = self._sessions.get(interview_id)
        return session if session is not None and not session.closed else None

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
        log.info("live interviews stopped", extra={"sessions": len(runs)})

    async def _run(self, session: InterviewSession) -> None:
        try:
            await session.run()
        except Exception:
            log.exception("a live interview session failed")
        finally:
            self._runs.pop(session, None)
            if self._sessions.get(session.interview_id) is session:
                del self._sessions[session.interview_id]


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel and await: nothing it uses may be closed before it has finished."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
