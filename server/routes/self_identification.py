"""The candidate's optional self-identification: given and withdrawn by the candidate only.

Two ways in, both the candidate's own links: the interview link (the form on the page shown
after the interview) and the self-service link (``/my/<token>``: see it, withdraw it). No
route lets a signed-in user read one person's answers; analytics use them only in aggregate.
The audit trail records that a form was given or withdrawn, never what it said.
"""

from __future__ import annotations

from aiohttp import web

from server import self_identification as selfid
from server.rights import RIGHTS_LINKS, subject
from server.routes.api import audit
from server.routes.candidate import invite_claim_interview
from server.routes.common import read_json
from server.services import services
from server.storage.models import Interview

routes = web.RouteTableDef()


async def _candidate_of(request: web.Request, interview_id: str) -> str:
    async with services(request).sessions() as session:
        interview = await session.get(Interview, interview_id)
    return interview.candidate_id if interview is not None else ""


@routes.post("/api/join/{token}/self-id")
async def give(request: web.Request) -> web.Response:
    """Store the optional gender and age band (own consent; replaces an earlier answer)."""
    svc = services(request)
    interview_id = await invite_claim_interview(svc, request.match_info["token"])
    body = await read_json(request, selfid.SelfIdentificationIn)
    await selfid.record(svc, interview_id, body)
    candidate_id = await _candidate_of(request, interview_id)
    await audit(request, None, "self_identification_given", candidate_id, role="candidate")
    return web.json_response({"ok": True}, status=201)


@routes.delete("/api/join/{token}/self-id")
async def withdraw_from_interview(request: web.Request) -> web.Response:
    """Withdraw the self-identification given for this interview (deleted at once)."""
    svc = services(request)
    interview_id = await invite_claim_interview(svc, request.match_info["token"])
    removed = await selfid.withdraw(svc, interview_id=interview_id)
    candidate_id = await _candidate_of(request, interview_id)
    await audit(request, None, "self_identification_withdrawn", candidate_id, role="candidate")
    return web.json_response({"ok": True, "removed": removed})


@routes.delete("/api/my/{token}/self-id")
async def withdraw_all(request: web.Request) -> web.Response:
    """Withdraw every self-identification the person gave (deleted at once)."""
    svc = services(request)
    candidate_id = request.app[RIGHTS_LINKS].check(request.match_info["token"], svc.now())
    cand = await subject(svc, candidate_id)
    removed = await selfid.withdraw(svc, candidate_id=cand.id)
    await audit(request, None, "self_identification_withdrawn", cand.id, role="candidate")
    return web.json_response({"ok": True, "removed": removed})
