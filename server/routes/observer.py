"""HR pages and the observer's live channel: events in, questions out, media relayed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import assert_never

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from analysis.bus import Subscription
from analysis.interview.commands import (
    AddObserverNote,
    ApproveFollowup,
    GiveLiveRating,
    InjectQuestion,
    SkipFollowup,
    parse_command,
)
from media.candidate_peer import BadOffer, ObserverPeer
from server.errors import InterviewError
from server.ice import observer_peer
from server.pages import page
from server.policy import Action
from server.protocol import (
    CLOSE_UNKNOWN_TYPE,
    AddNote,
    ApproveSuggestion,
    AskQuestion,
    ErrorMessage,
    History,
    LiveEvent,
    ObserverAnswer,
    Offer,
    Ping,
    Pong,
    ProtocolError,
    QuestionReceived,
    RateCompetency,
    SkipSuggestion,
    ViewMessage,
    ViewRequest,
    parse_observer,
    refuse,
    send,
)
from server.remote_session import RemoteSession
from server.routes.access import InterviewGrant, refuse_access, require_interview
from server.routes.api import audit
from server.routes.common import after_seq
from server.services import services
from server.session import CLOSE_RECONNECT, InterviewSession, SessionClosed, SessionMoved
from server.session_inputs import (
    ObserverAction,
    ObserverCommand,
    ObserverHangup,
    ObserverJoined,
    ObserverLeft,
    ObserverOffer,
    ViewRequested,
)
from server.signin.middleware import still_signed_in

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CLOSE_SIGNED_OUT = 4401  # the observer's sign-in session ended (4000 + HTTP 401)
MOVED = "The interview moved to another server; please ask again in a moment."

# What each socket message needs beyond watching (server/policy.py).
MESSAGE_ACTIONS: dict[str, Action] = {
    "inject_question": "interview.ask",
    "approve_followup": "interview.ask",
    "skip_followup": "interview.ask",
    "add_observer_note": "interview.note",
    "give_live_rating": "interview.rate",
}


@routes.get("/observe/{iid}")
async def observer_page(request: web.Request) -> web.StreamResponse:
    """The live observer page (signed-in users with access only)."""
    await require_interview(request, request.match_info["iid"], "interview.observe")
    return page("observer.html")


@routes.get("/review/{iid}")
async def review_page(request: web.Request) -> web.StreamResponse:
    """The review page (signed-in users with access only)."""
    await require_interview(request, request.match_info["iid"], "interview.read")
    return page("review.html")


@routes.get("/ws/observer/{iid}")
async def observer_socket(request: web.Request) -> web.StreamResponse:
    """Live events to the observer; questions and media offers from the observer."""
    grant = await require_interview(request, request.match_info["iid"], "interview.observe")
    interview = grant.interview
    svc = services(request)
    # Watching changes neither status nor clock; on another node's interview, a remote session.
    # Attached while the socket is open: a session only observers opened is released after.
    async with svc.live.attach(interview.id) as session:
        ws = web.WebSocketResponse(max_msg_size=svc.settings.max_ws_message_bytes, heartbeat=20)
        await ws.prepare(request)
        await audit(request, grant.who.user_id, "observe_start", interview.id)
        after = after_seq(request)
        with svc.live.socket(ws):
            await _serve_observer(request, grant, session, ws, after)
    return ws


async def _serve_observer(
    request: web.Request,
    grant: InterviewGrant,
    session: InterviewSession | RemoteSession,
    ws: web.WebSocketResponse,
    after: int,
) -> None:
    svc = services(request)
    interview = grant.interview
    peer: ObserverPeer | None = None
    async with svc.bus.subscribe(interview.id) as sub:
        history = await svc.events.history(interview.id, after=after)
        last_seq = history[-1].seq if history else after
        await send(ws, History(after=after, last_seq=last_seq, events=history))
        pump = asyncio.create_task(_pump(sub, ws, last_seq), name="observer-pump")
        watch = asyncio.create_task(_reconnect_when_stopped(session, ws), name="observer-watch")
        try:
            await _send_view(session, ws)
            session.submit(ObserverJoined(ws))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                if not await still_signed_in(request):  # logout, password change, disable
                    await ws.close(code=CLOSE_SIGNED_OUT, message=b"session ended")
                    break
                peer = await _on_observer_message(request, grant, session, ws, msg.data, peer)
                if ws.closed:
                    break
        finally:
            for task in (pump, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if peer is not None:
                session.submit(ObserverHangup(peer))
            session.submit(ObserverLeft(ws))
            await audit(request, grant.who.user_id, "observe_stop", interview.id)


async def _reconnect_when_stopped(
    session: InterviewSession | RemoteSession, ws: web.WebSocketResponse
) -> None:
    """A local session that stops while the interview goes on: the page reconnects (1012).

    The socket holds the session it attached to; once that session has handed the interview
    over, lost its lease or been stopped, nothing sent through it is applied any more (in the
    full-scale cluster run an observer who attached while the session was stopping was never
    told and had every question refused). A remote session closes its own sockets.
    """
    if not isinstance(session, InterviewSession):
        return
    await session.wait_stopped()
    if not session.interview_over and not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close(code=CLOSE_RECONNECT, message=b"the interview moved: reconnect")


async def _pump(sub: Subscription, ws: web.WebSocketResponse, after: int) -> None:
    """Forward live events; stored events the history already carried are skipped."""
    async for event in sub:
        if ws.closed:
            return
        if event.durable and event.seq <= after:
            continue
        await send(ws, LiveEvent(event=event))


async def _on_observer_message(
    request: web.Request,
    grant: InterviewGrant,
    session: InterviewSession | RemoteSession,
    ws: web.WebSocketResponse,
    raw: str,
    peer: ObserverPeer | None,
) -> ObserverPeer | None:
    by = grant.who.email
    try:
        msg = parse_observer(raw)
    except ProtocolError as exc:
        violation = exc.violation
        if violation.close_code == CLOSE_UNKNOWN_TYPE or violation.error is None:
            await refuse(ws, violation)
        else:
            # Staff typed something wrong (too long, out of range): say so, stay connected.
            await send(ws, violation.error)
        return peer
    action = MESSAGE_ACTIONS.get(msg.type)
    if action is not None and not grant.can(action):
        denied = await refuse_access(request, grant.who, action, grant.interview.id)
        await send(ws, ErrorMessage(code="forbidden", message=denied.message))
        return peer
    match msg:
        case Offer(sdp=sdp):
            if peer is not None:
                session.submit(ObserverHangup(peer))
            svc = services(request)
            new_peer = observer_peer(svc.settings, grant.interview.id, svc.now())
            offer = ObserverOffer(new_peer, sdp)
            session.submit(offer)
            try:
                answer, live = await offer.reply
            except (BadOffer, SessionClosed) as exc:
                await new_peer.close()
                await send(ws, ErrorMessage(code="bad_sdp", message=str(exc)))
                return None
            await send(ws, ObserverAnswer(sdp=answer, live=live))
            return new_peer
        case AskQuestion(text=text, position=position, ask_id=ask_id):
            await audit(request, grant.who.user_id, "inject_question", grant.interview.id)
            ask = InjectQuestion(text=text, by=by, position=position, ask_id=ask_id)
            refused = await _act(request, session, ask)
            if refused == MOVED and ask_id is not None:
                # No reply: the page sends it again once it has reconnected (to the
                # interview's next session), so it reconnects now if nothing else made it.
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close(code=CLOSE_RECONNECT, message=b"the interview moved: reconnect")
                return peer
            await _refusal(ws, refused)
            if ask_id is not None:
                await send(ws, QuestionReceived(ask_id=ask_id))
        case ApproveSuggestion() | SkipSuggestion() | AddNote() | RateCompetency():
            try:
                command = parse_command({**msg.model_dump(), "by": by})
            except ValidationError as exc:
                kind = msg.type.replace("_", " ")
                await _refusal(ws, f"Invalid {kind}: {exc.errors()[0]['msg']}.")
                return peer
            assert isinstance(
                command, ApproveFollowup | SkipFollowup | AddObserverNote | GiveLiveRating
            )
            await audit(request, grant.who.user_id, msg.type, grant.interview.id)
            await _refusal(ws, await _act(request, session, command))
        case ViewRequest():
            await _send_view(session, ws)
        case Ping():
            await send(ws, Pong())
        case _:
            assert_never(msg)
    return peer


async def _act(
    request: web.Request, session: InterviewSession | RemoteSession, command: ObserverCommand
) -> str | None:
    """Hand a command to the interview's session; returns why it was refused, if it was.

    If that session stopped before applying it (the interview moved to another node), the
    command goes once to whichever session runs the interview now.
    """
    action = ObserverAction(command)
    session.submit(action)
    try:
        return await action.reply
    except SessionMoved:
        pass
    try:
        async with services(request).live.attach(session.interview_id) as current:
            again = ObserverAction(command)
            current.submit(again)
            return await again.reply
    except (SessionClosed, InterviewError):
        return MOVED


async def _refusal(ws: web.WebSocketResponse, refused: str | None) -> None:
    if refused:
        await send(ws, ErrorMessage(code="refused", message=refused))


async def _send_view(session: InterviewSession | RemoteSession, ws: web.WebSocketResponse) -> None:
    asked = ViewRequested()
    session.submit(asked)
    try:
        view = await asked.reply
    except SessionClosed:
        view = None
    await send(ws, ViewMessage(view=view))
