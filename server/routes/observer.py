"""HR pages and the observer's live channel: events in, questions out, media relayed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import WSMsgType, web

from media.candidate_peer import BadOffer, ObserverPeer
from server.live import LiveRoom, get_room
from server.pages import page
from server.routes.common import interview_for, principal
from server.services import services

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

MAX_QUESTION_CHARS = 1000
OBSERVER_COMMANDS = ("approve_followup", "skip_followup", "add_observer_note", "give_live_rating")


@routes.get("/observe/{iid}")
async def observer_page(request: web.Request) -> web.StreamResponse:
    """The live observer page (signed-in users with access only)."""
    await interview_for(request, principal(request), request.match_info["iid"])
    return page("observer.html")


@routes.get("/review/{iid}")
async def review_page(request: web.Request) -> web.StreamResponse:
    """The review page (signed-in users with access only)."""
    await interview_for(request, principal(request), request.match_info["iid"])
    return page("review.html")


@routes.get("/ws/observer/{iid}")
async def observer_socket(request: web.Request) -> web.StreamResponse:
    """Live events to the observer; questions and media offers from the observer."""
    who = principal(request)
    interview = await interview_for(request, who, request.match_info["iid"])
    svc = services(request)
    room = await get_room(svc, interview)
    ws = web.WebSocketResponse(max_msg_size=svc.settings.max_ws_message_bytes, heartbeat=20)
    await ws.prepare(request)
    peer: ObserverPeer | None = None
    async with svc.bus.subscribe(interview.id) as sub:
        history = await svc.events.history(interview.id)
        await ws.send_json(
            {"type": "history", "events": [e.model_dump(mode="json") for e in history]}
        )
        pump = asyncio.create_task(_pump(sub, ws))
        await ws.send_json({"type": "view", "view": room.observer_view()})
        await room.set_observers(+1)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                peer = await _on_observer_message(room, ws, who.email, msg.data, peer)
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


async def _pump(sub: object, ws: web.WebSocketResponse) -> None:
    async for event in sub:  # type: ignore[attr-defined]
        if ws.closed:
            return
        await ws.send_json({"type": "event", "event": event.model_dump(mode="json")})


async def _on_observer_message(
    room: LiveRoom, ws: web.WebSocketResponse, by: str, raw: str, peer: ObserverPeer | None
) -> ObserverPeer | None:
    try:
        msg = json.loads(raw)
        kind = msg["type"]
    except (ValueError, KeyError, TypeError):
        await ws.close(code=4400, message=b"messages must be JSON objects with a type")
        return peer
    if kind == "offer":
        sdp = msg.get("sdp")
        if (
            not isinstance(sdp, str)
            or not sdp.startswith("v=0")
            or len(sdp) > room.services.settings.max_sdp_bytes
        ):
            await ws.send_json(
                {"type": "error", "code": "bad_sdp", "message": "The offer is not valid SDP."}
            )
            return peer
        if peer is not None:
            await room.drop_observer(peer)
        try:
            peer, answer = await room.observe(sdp)
        except BadOffer as exc:
            await ws.send_json({"type": "error", "code": "bad_sdp", "message": str(exc)})
            return None
        await ws.send_json({"type": "answer", "sdp": answer, "live": room.peer is not None})
    elif kind == "inject_question":
        text = str(msg.get("text", "")).strip()
        position = msg.get("position", "now")
        if not text or len(text) > MAX_QUESTION_CHARS or position not in ("now", "next"):
            await ws.send_json(
                {
                    "type": "error",
                    "code": "bad_question",
                    "message": f"A question needs 1 to {MAX_QUESTION_CHARS} characters.",
                }
            )
        else:
            refused = await room.inject_question(text, by, position)
            if refused:
                await ws.send_json({"type": "error", "code": "refused", "message": refused})
    elif kind in OBSERVER_COMMANDS:
        refused = await room.observer_command(kind, msg, by)
        if refused:
            await ws.send_json({"type": "error", "code": "refused", "message": refused})
    elif kind == "view":
        await ws.send_json({"type": "view", "view": room.observer_view()})
    elif kind == "ping":
        await ws.send_json({"type": "pong"})
    else:
        await ws.send_json(
            {"type": "error", "code": "unknown_type", "message": "Unknown message type."}
        )
        await ws.close(code=4404, message=b"unknown message type")
    return peer
