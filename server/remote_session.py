"""An interview owned by another node, for the observers and HR requests that land here.

Observer side: :class:`RemoteSession` takes the same inputs as a local session (only those an
observer's socket or the REST API submit) and forwards them to the owner over the cluster's
command channel; replies resolve the inputs' futures as the local session would. If the owner
stops answering or the lease moves, the observers' sockets here close with 1012 so their pages
reconnect and attach to whichever node owns the interview then.

Owner side: :class:`RemoteInputs` turns those commands back into inputs of the local session,
with :class:`RemoteLink` standing for a remote observer's socket and an ``ObserverPeer`` made
here for a remote observer's media: the owner serves the video, the browser connects to it
directly (the answer carries this node's ICE candidates).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from analysis.interview.commands import parse_command
from analysis.interview.machine import ObserverView
from media.candidate_peer import BadOffer, ObserverPeer
from server.cluster import Cluster, NoOwner, RemoteRefused
from server.session import InterviewSession, SessionClosed, SessionMoved
from server.session_inputs import (
    EndRequested,
    Link,
    ObserverAction,
    ObserverHangup,
    ObserverJoined,
    ObserverLeft,
    ObserverMedia,
    ObserverOffer,
    SessionInput,
    Shutdown,
    ViewRequested,
)

log = logging.getLogger(__name__)

PRESENCE_LEASES = 3  # a remote observer unheard of for this many lease periods has left
CLOSE_OWNER_MOVED = 1012  # "service restart": the page reconnects and finds the new owner
UNREACHABLE = "The interview's server is not reachable right now. Please try again."


class RemoteSession:
    """The observer-facing inputs of an interview another node owns, sent over Redis."""

    def __init__(self, cluster: Cluster, interview_id: str, owner: str) -> None:
        self.interview_id = interview_id
        self.owner = owner
        self._cluster = cluster
        self._links: dict[str, Link] = {}
        self._told: set[str] = set()  # links sent to reconnect since the owner moved
        self._peers: dict[ObserverMedia, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._watch = asyncio.create_task(self._watch_owner(), name="remote-owner-watch")

    @property
    def closed(self) -> bool:
        """True once the owner moved or stopped answering (attach again)."""
        return self._closed

    def submit(self, item: SessionInput) -> None:
        """Forward one input to the owner; its reply resolves when the owner answers.

        Once the owner has moved, nothing is forwarded: a joining observer's socket is closed
        at once (its page reconnects to the new owner) and an input with a reply is answered
        "moved" (a question is then sent to whoever runs the interview now). Before, a socket
        that joined just after the move was never closed and every question it sent for the
        rest of the interview was refused as "not reachable".
        """
        if self._closed and self._refuse_moved(item):
            return
        task = asyncio.create_task(self._forward(item), name="remote-input")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def notice(self, body: dict[str, Any]) -> None:
        """A one-way message from the owner: close one observer's socket here."""
        if body.get("op") == "close":
            link = self._links.get(str(body.get("link")))
            if link is not None:
                self.submit_close(link, int(body.get("code", 1001)))

    def submit_close(self, link: Link, code: int) -> None:
        """Close one observer's socket here (its page reconnects unless told otherwise)."""
        task = asyncio.create_task(_close(link, code), name="remote-close")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop watching and forwarding; await what is in flight."""
        self._closed = True
        tasks = [self._watch, *self._tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for peer in list(self._peers):
            await peer.close()
        self._peers.clear()

    async def _watch_owner(self) -> None:
        loop = asyncio.get_running_loop()
        vacant_since: float | None = None
        while not self._closed:
            await asyncio.sleep(max(0.5, self._cluster.lease_seconds / 3))
            try:
                holder = await self._cluster.holder(self.interview_id)
            except Exception:
                log.warning("could not check an interview's owner", exc_info=True)
                continue
            if holder is None:
                # Nobody holds the lease: Redis restarted (it keeps nothing) or the owner died.
                # A live owner takes it again at its next renewal (a third of a lease period);
                # sending the observers off at once made their pages reconnect here, take the
                # vacant lease and pull the interview (and its candidate) away from its owner.
                now = loop.time()
                vacant_since = now if vacant_since is None else vacant_since
                if now - vacant_since >= self._cluster.lease_seconds:
                    self._moved()  # vacant for a whole period: the owner is gone
                continue
            vacant_since = None
            if holder != self.owner:
                self._moved()
            elif self._links:
                # Presence: the owner forgets observers of a node that stops saying this.
                with contextlib.suppress(Exception):
                    await self._cluster.post(self.interview_id, "presence", links=list(self._links))

    def _refuse_moved(self, item: SessionInput) -> bool:
        """Answer an input given after the owner moved; False: forward it anyway (a goodbye)."""
        if isinstance(item, ObserverJoined):
            self.submit_close(item.link, CLOSE_OWNER_MOVED)
            return True
        reply = getattr(item, "reply", None)
        if not isinstance(reply, asyncio.Future):
            return False  # "left", "hangup": the owner, if alive, still counts them
        if not reply.done():
            reply.set_exception(SessionMoved("the interview moved to another server"))
        return True

    def _moved(self) -> None:
        """The owner changed: observers here reconnect (and attach to the new owner)."""
        if self._closed:
            return
        self._closed = True
        for key, link in list(self._links.items()):
            self._tell_moved(key, link)

    def _tell_moved(self, key: str, link: Link) -> None:
        """Send one socket here to reconnect, once (a "joined" on its way checks this too)."""
        if key not in self._told:
            self._told.add(key)
            self.submit_close(link, CLOSE_OWNER_MOVED)

    def _key(self, link: Link) -> str:
        for key, known in self._links.items():
            if known is link:
                return key
        key = uuid.uuid4().hex
        self._links[key] = link
        return key

    async def _ask(self, op: str, **body: Any) -> Any:
        try:
            return await self._cluster.request(self.interview_id, op, **body)
        except NoOwner:
            self._moved()
            raise

    async def _forward(self, item: SessionInput) -> None:
        try:
            await self._forward_one(item)
        except (NoOwner, RemoteRefused) as exc:
            if isinstance(exc, NoOwner):
                log.warning(
                    "an input could not reach the interview's server",
                    extra={
                        "input": type(item).__name__,
                        "interview": self.interview_id,
                        "owner": self.owner,
                        "node": self._cluster.node_id,
                        "error": str(exc),
                    },
                )
            _settle(item, exc)
        except Exception as exc:
            log.exception("could not forward an observer's input to the interview's server")
            _settle(item, exc)

    async def _forward_one(self, item: SessionInput) -> None:
        match item:
            case ObserverAction(command=command, reply=reply):
                refused = await self._ask("action", command=command.model_dump(mode="json"))
                _resolve(reply, refused)
            case ViewRequested(reply=reply):
                view = await self._ask("view")
                _resolve(reply, ObserverView.model_validate(view) if view else None)
            case ObserverJoined(link=link):
                key = self._key(link)
                try:
                    await self._ask("joined", link=key)
                finally:
                    # Moved while it joined: _moved() may have swept before it was registered.
                    if self._closed:
                        self._tell_moved(key, link)
            case ObserverLeft(link=link):
                key = self._key(link)
                self._links.pop(key, None)
                await self._ask("left", link=key)
            case ObserverOffer(peer=peer, sdp=sdp, reply=reply):
                key = uuid.uuid4().hex
                self._peers[peer] = key
                await peer.close()  # the owner's peer serves the media; this one is unused
                try:
                    answer, live = await self._ask("offer", sdp=sdp, peer=key)
                except RemoteRefused as exc:
                    raise BadOffer(str(exc)) from exc
                _resolve(reply, (str(answer), bool(live)))
            case ObserverHangup(peer=peer):
                key = self._peers.pop(peer, "")
                if key:
                    await self._ask("hangup", peer=key)
            case EndRequested(reason=reason, reply=reply):
                await self._ask("end", reason=reason)
                _resolve(reply, None)
            case _:
                raise SessionClosed("this input cannot be sent to another server")


class RemoteLink:
    """A remote observer's socket as the owner's session sees it (presence, closing)."""

    def __init__(self, cluster: Cluster, node: str, key: str) -> None:
        self._cluster = cluster
        self._node = node
        self.key = key
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once closed from here."""
        return self._closed

    async def send_json(self, data: Any) -> None:
        """Nothing to send: observers get events from the bus."""

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        """Ask the observer's node to close the socket."""
        if self._closed:
            return False
        self._closed = True
        await self._cluster.tell(self._node, {"op": "close", "link": self.key, "code": code})
        return True


class RemoteInputs:
    """The owner's side: commands from other nodes become inputs of the local session.

    A remote observer is attached to the session (``hold``) from its "joined" until its
    "left", or until its node stops reporting it: the owner does not release a session that
    other nodes' observers are watching.
    """

    def __init__(
        self,
        cluster: Cluster,
        clock: Callable[[], float] | None = None,
        make_peer: Callable[[], ObserverPeer] = ObserverPeer,
    ) -> None:
        self._cluster = cluster
        self._make_peer = make_peer  # the deployment's ICE servers, address and ports
        self._clock = clock or asyncio.get_running_loop().time
        self._links: dict[str, RemoteLink] = {}
        self._peers: dict[str, ObserverPeer] = {}
        self._heard: dict[str, float] = {}

    def sweep(self, session: InterviewSession) -> None:
        """Observers whose node stopped reporting them (it died) leave the session."""
        limit = self._clock() - PRESENCE_LEASES * self._cluster.lease_seconds
        for key, heard in list(self._heard.items()):
            if heard < limit:
                del self._heard[key]
                gone = self._links.pop(key, None)
                if gone is not None:
                    session.submit(ObserverLeft(gone))
                    session.let_go()

    async def handle(self, session: InterviewSession, msg: dict[str, Any]) -> Any:
        """Apply one remote command to ``session``; returns what the requester waits for."""
        op = msg.get("op")
        if op == "action":
            action = ObserverAction(parse_command(msg["command"]))  # type: ignore[arg-type]
            session.submit(action)
            return await action.reply
        if op == "view":
            asked = ViewRequested()
            session.submit(asked)
            try:
                view = await asked.reply
            except SessionClosed:
                return None
            return view.model_dump(mode="json") if view is not None else None
        now = self._clock()
        if op == "joined":
            key = msg["link"]
            link = self._links.get(key)
            if link is None:
                link = self._links[key] = RemoteLink(self._cluster, msg["from"], key)
                session.hold()
            self._heard[key] = now
            session.submit(ObserverJoined(link))
            return None
        if op == "presence":
            for key in msg.get("links", []):
                if key in self._links:
                    self._heard[key] = now
            return None
        if op == "left":
            self._heard.pop(msg["link"], None)
            gone = self._links.pop(msg["link"], None)
            if gone is not None:
                session.submit(ObserverLeft(gone))
                session.let_go()
            return None
        if op == "offer":
            peer = self._make_peer()
            offer = ObserverOffer(peer, msg["sdp"])
            session.submit(offer)
            try:
                answer, live = await offer.reply
            except (BadOffer, SessionClosed):
                await peer.close()
                raise
            self._peers[msg["peer"]] = peer
            return [answer, live]
        if op == "hangup":
            old = self._peers.pop(msg["peer"], None)
            if old is not None:
                session.submit(ObserverHangup(old))
            return None
        if op == "end":
            ended = EndRequested(str(msg.get("reason", "ended by recruiter")))
            session.submit(ended)
            return await ended.reply
        if op == "handover":
            stop = Shutdown(handover=True)
            session.submit(stop)
            await stop.reply
            return None
        raise ValueError(f"unknown cluster command {op!r}")


async def _close(link: Link, code: int) -> None:
    if not link.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await link.close(code=code, message=b"the interview moved to another server")


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _settle(item: SessionInput, exc: BaseException) -> None:
    """A failed forward: refusals in words where the input expects them, errors otherwise."""
    reply = getattr(item, "reply", None)
    if not isinstance(reply, asyncio.Future) or reply.done():
        return
    if isinstance(exc, RemoteRefused) and exc.code == SessionMoved.code:
        # The owner's session stopped before applying it (a handover): the sender tries again.
        reply.set_exception(SessionMoved(str(exc)))
        return
    match item:
        case ObserverAction():
            reply.set_result(str(exc) if isinstance(exc, RemoteRefused) else UNREACHABLE)
        case ViewRequested() | EndRequested():
            reply.set_result(None)
        case _:
            reply.set_exception(exc if isinstance(exc, BadOffer) else SessionClosed(UNREACHABLE))
