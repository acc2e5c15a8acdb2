"""ICE servers for the browser pages (``new RTCPeerConnection({iceServers})``)."""

from __future__ import annotations

from aiohttp import web

from server.ice import ice_servers
from server.routes.access import require_interview
from server.routes.candidate import interview_from_invite
from server.services import services

routes = web.RouteTableDef()


def _answer(servers: object) -> web.Response:
    resp = web.json_response({"iceServers": servers})
    resp.headers["Cache-Control"] = "no-store"  # credentials expire
    return resp


@routes.get("/api/join/{token}/ice")
async def candidate_ice(request: web.Request) -> web.Response:
    """The candidate page's ICE servers (an empty list by default: host candidates only)."""
    svc = services(request)
    interview, _job = await interview_from_invite(svc, request.match_info["token"])
    return _answer(ice_servers(svc.settings, f"{interview.id}-c", svc.now()))


@routes.get("/api/interviews/{iid}/ice")
async def observer_ice(request: web.Request) -> web.Response:
    """The observer page's ICE servers, for signed-in users with access to the interview."""
    grant = await require_interview(request, request.match_info["iid"], "interview.observe")
    interview = grant.interview
    svc = services(request)
    return _answer(ice_servers(svc.settings, f"{interview.id}-o", svc.now()))
