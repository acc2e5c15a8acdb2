"""HR pages and the observer's live channel: events in, questions out, media relayed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import assert_never

from aiohttp import WSMsgType, web

from analysis.bus import Subscription
from media.candidate_peer import BadOffer, ObserverPeer
from server.live import LiveRoom, get_room
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
    RateCompetency,
    SkipSuggestion,
    ViewMessage,
    ViewRequest,
    parse_observer,
    refuse,
    send,
)
from server.routes.access import InterviewGrant, refuse_access, require_interview
from server.routes.common import after_seq
from server.services import services
from server.signin.middleware import still_signed_in

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CLOSE_SIGNED_OUT = 4401  # the observer's sign-in session ended (4000 + HTTP 401)

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
    room = await get_room(svc, interview)
    ws = web.WebSocketResponse(max_msg_size=svc.settings.max_ws_message_bytes, heartbeat=20)
    await ws.prepare(request)
    peer: ObserverPeer | None = None
    after = after_seq(request)
    async with svc.bus.subscribe(interview.id) as sub:
        history = await svc.events.history(interview.id, after=after)
        last_seq = history[-1].seq if history else after
        await send(ws, History(after=after, last_seq=last_seq, events=history))
        pump = asyncio.create_task(_pump(sub, ws, last_seq))
        await send(ws, ViewMessage(view=room.observer_view()))
        await room.set_observers(+1)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                if not await still_signed_in(request):  # logout, password change, disable
                    await ws.close(code=CLOSE_SIGNED_OUT, message=b"session ended")
                    break
                peer = await _on_observer_message(request, grant, room, ws, msg.data, peer)
                if ws.closed:
                    break
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            if peer is not None:
                await room.drop_observer(peer)
            await room.set_observers(-1)
    return ws


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
    room: LiveRoom,
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
                await room.drop_observer(peer)
            try:
                peer, answer = await room.observe(sdp)
            except BadOffer as exc:
                await send(ws, ErrorMessage(code="bad_sdp", message=str(exc)))
                return None
            await send(ws, ObserverAnswer(sdp=answer, live=room.peer is not None))
        case AskQuestion(text=text, position=position):
            refused = await room.inject_question(text, by, position)
            if refused:
                await send(ws, ErrorMessage(code="refused", message=refused))
        case ApproveSuggestion() | SkipSuggestion() | AddNote() | RateCompetency():
            refused = await room.observer_command(msg.type, msg.model_dump(), by)
            if refused:
                await send(ws, ErrorMessage(code="refused", message=refused))
        case ViewRequest():
            await send(ws, ViewMessage(view=room.observer_view()))
        case Ping():
            await send(ws, Pong())
        case _:
            assert_never(msg)
    return peer
