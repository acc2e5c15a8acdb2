"""Admin side of data rights: read and erase a candidate, legal holds, erasure requests."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from server.erasure import candidate_interviews, erase_candidate
from server.errors import NotFound
from server.routes.access import (
    require,
    require_candidate,
    require_interview,
    visible_interviews,
)
from server.routes.api import audit
from server.routes.common import as_json, principal, read_json
from server.services import services
from server.storage.models import Candidate, ErasureRequest, Interview, LegalHold

routes = web.RouteTableDef()


class EraseIn(BaseModel):
    reason: str = Field("admin_request", min_length=1, max_length=40, pattern=r"^[a-z_]+$")


class HoldIn(BaseModel):
    reason: str = Field("", max_length=400)


@routes.get("/api/candidates/{cid}")
async def get_candidate(request: web.Request) -> web.Response:
    """A candidate and the interviews of theirs the user may see (404 once erased)."""
    who = principal(request)
    cand = await require_candidate(request, who, request.match_info["cid"], "candidate.read")
    async with services(request).sessions() as session:
        ids = list(
            await session.scalars(
                select(Interview.id).where(
                    Interview.candidate_id == cand.id, visible_interviews(who)
                )
            )
        )
    await audit(request, who.user_id, "view_candidate", cand.id)
    return web.json_response({**as_json(cand), "interviews": ids})


@routes.delete("/api/candidates/{cid}")
async def delete_candidate(request: web.Request) -> web.Response:
    """Erase the person: recordings (keys first), every row about them; a tombstone stays."""
    who = principal(request)
    cid = (await require_candidate(request, who, request.match_info["cid"], "candidate.erase")).id
    body = await read_json(request, EraseIn) if request.can_read_body else EraseIn()
    tomb = await erase_candidate(services(request), cid, by=who.user_id, reason=body.reason)
    if tomb is None:
        raise NotFound("No such candidate.")
    await audit(request, who.user_id, "erase_candidate", cid, detail=body.reason)
    return web.json_response(
        {"id": tomb.id, "erased_at": tomb.erased_at.isoformat(), "reason": tomb.reason}
    )


@routes.get("/api/interviews/{iid}/legal-hold")
async def get_hold(request: web.Request) -> web.Response:
    """Whether the interview is under legal hold."""
    grant = await require_interview(request, request.match_info["iid"], "interview.view")
    async with services(request).sessions() as session:
        hold = await session.get(LegalHold, grant.interview.id)
    return web.json_response({"held": hold is not None, **(as_json(hold) if hold else {})})


@routes.post("/api/interviews/{iid}/legal-hold")
async def set_hold(request: web.Request) -> web.Response:
    """Put the interview under legal hold: no deletion (API, retention, self-service)."""
    grant = await require_interview(request, request.match_info["iid"], "interview.legal_hold")
    who, interview = grant.who, grant.interview
    body = await read_json(request, HoldIn)
    svc = services(request)
    async with svc.sessions() as session, session.begin():
        hold = await session.get(LegalHold, interview.id)
        if hold is None:
            hold = LegalHold(
                interview_id=interview.id, set_by=who.user_id, set_at=svc.now(), reason=body.reason
            )
            session.add(hold)
    await audit(request, who.user_id, "legal_hold_set", interview.id)
    return web.json_response({"held": True, **as_json(hold)}, status=201)


@routes.delete("/api/interviews/{iid}/legal-hold")
async def lift_hold(request: web.Request) -> web.Response:
    """Lift the legal hold; deletion applies again."""
    grant = await require_interview(request, request.match_info["iid"], "interview.legal_hold")
    who, interview = grant.who, grant.interview
    async with services(request).sessions() as session, session.begin():
        hold = await session.get(LegalHold, interview.id)
        if hold is not None:
            await session.delete(hold)
    await audit(request, who.user_id, "legal_hold_lifted", interview.id)
    return web.json_response({"held": False})


def _request_json(req: ErasureRequest, name: str | None) -> dict[str, Any]:
    out: dict[str, Any] = as_json(req)
    out["candidate_name"] = name  # None once erased
    return out


@routes.get("/api/erasure-requests")
async def list_requests(request: web.Request) -> web.Response:
    """Candidates' deletion requests, newest first, with the name while it exists (admins)."""
    who = await require(request, "erasure.manage")
    async with services(request).sessions() as session:
        rows = (
            await session.execute(
                select(ErasureRequest, Candidate)  # the entity: its name is decrypted on load
                .outerjoin(Candidate, Candidate.id == ErasureRequest.subject_id)
                .order_by(ErasureRequest.requested_at.desc())
                .limit(500)
            )
        ).all()
    await audit(request, who.user_id, "list_erasure_requests", detail=f"{len(rows)} requests")
    return web.json_response([_request_json(r, c.name if c else None) for r, c in rows])


@routes.post("/api/erasure-requests/{rid}/confirm")
async def confirm_request(request: web.Request) -> web.Response:
    """An admin confirms a candidate's deletion request: the person is erased now."""
    rid = request.match_info["rid"]
    who = await require(request, "erasure.manage")
    svc = services(request)
    async with svc.sessions() as session:
        req = await session.get(ErasureRequest, rid)
    if req is None:
        raise NotFound("No such erasure request.")
    held_by = await candidate_interviews(svc, req.subject_id)
    tomb = await erase_candidate(svc, req.subject_id, by=who.user_id, reason="candidate_request")
    await audit(request, who.user_id, "erase_candidate", req.subject_id, detail="confirmed")
    return web.json_response({"ok": True, "erased": tomb is not None, "interviews": len(held_by)})
