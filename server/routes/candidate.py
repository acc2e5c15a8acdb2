"""The candidate's side: invite page, notice and consent, and the live WebSocket."""

from __future__ import annotations

import logging
from typing import assert_never

from aiohttp import WSMsgType, web
from pydantic import BaseModel
from sqlalchemy import select

from analysis.events import ConsentRecorded
from media.candidate_peer import BadOffer
from server.errors import BadInput, Forbidden, Gone, InvalidInvite
from server.pages import page
from server.protocol import (
    CLOSE_BAD_MESSAGE,
    AnswerDoneRequest,
    Ended,
    ErrorMessage,
    FinishRequest,
    Heartbeat,
    HeartbeatAck,
    Offer,
    ProtocolError,
    ReadyRequest,
    Welcome,
    parse_candidate,
    refuse,
    send,
)
from server.rights import rights_url
from server.routes.common import now, read_json
from server.services import Services, services
from server.session import CLOSE_RECONNECT, InterviewSession, SessionClosed, SessionMoved
from server.session_inputs import (
    CandidateAnswerDone,
    CandidateFinished,
    CandidateGone,
    CandidateOffer,
    CandidateReadyPressed,
)
from server.storage.models import Consent, Interview, Invite, Job

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


class ConsentIn(BaseModel):
    recording: bool
    ai_analysis: bool
    notice_version: str


async def interview_from_invite(svc: Services, token: str) -> tuple[Interview, Job]:
    """The interview behind a valid invite; 401 forged, 410 expired/revoked/finished."""
    claim = svc.invites.check(token, now())
    async with svc.sessions() as session:
        invite = await session.get(Invite, claim.invite_id)
        if invite is None or invite.interview_id != claim.interview_id:
            raise InvalidInvite("This interview link is not valid.")
        if invite.revoked:
            raise Gone(
                "This interview link was replaced by a newer one. Please use the latest "
                "link from your invitation.",
                code="invite_revoked",
            )
        interview = await session.get(Interview, claim.interview_id)
        if interview is None:
            raise Gone("This interview no longer exists.", code="interview_deleted")
        if interview.status == "finished":
            raise Gone(
                "This interview is already finished. Thank you for your time.",
                code="interview_finished",
            )
        if interview.status == "abandoned":
            raise Gone(
                "This interview was closed because the connection was lost for too long. "
                "Please contact the recruiter to arrange a new one.",
                code="interview_abandoned",
            )
        job = await session.get(Job, interview.job_id)
        assert job is not None
        return interview, job


async def invite_claim_interview(svc: Services, token: str) -> str:
    """The interview id of a genuine, unrevoked invite, even when the interview is finished."""
    claim = svc.invites.check(token, now())
    async with svc.sessions() as session:
        invite = await session.get(Invite, claim.invite_id)
    if invite is None or invite.interview_id != claim.interview_id:
        raise InvalidInvite("This interview link is not valid.")
    if invite.revoked:
        raise Gone(
            "This interview link was replaced by a newer one. Please use the latest "
            "link from your invitation.",
            code="invite_revoked",
        )
    return claim.interview_id


def facial_mode(svc: Services, job: Job) -> str:
    """The facial-analysis mode in force for a job."""
    return job.facial_analysis or svc.settings.facial_analysis


@routes.get("/i/{token}")
async def candidate_page(request: web.Request) -> web.StreamResponse:
    """The candidate's interview page (or a clear error page)."""
    from server.workflow.service import track_open

    svc = services(request)
    interview, _job = await interview_from_invite(svc, request.match_info["token"])
    await track_open(svc, interview.id)
    return page("candidate.html")


@routes.get("/api/join/{token}")
async def notice(request: web.Request) -> web.Response:
    """What the candidate is told before agreeing: what is recorded, why, who sees it, how long."""
    svc = services(request)
    interview, job = await interview_from_invite(svc, request.match_info["token"])
    async with svc.sessions() as session:
        consent = await session.scalar(
            select(Consent)
            .where(Consent.interview_id == interview.id)
            .order_by(Consent.agreed_at.desc())
        )
    return web.json_response(
        {
            "job_title": job.title,
            "language": job.language,
            "notice_version": svc.settings.notice_version,
            "retention_days": svc.settings.retention_days,
            "facial_analysis": facial_mode(svc, job),
            "consented": bool(
                consent
                and consent.recording
                and consent.notice_version == svc.settings.notice_version
            ),
            "ai_analysis": bool(consent and consent.ai_analysis),
            "rights_url": rights_url(request, interview.candidate_id),
        }
    )


@routes.post("/api/join/{token}/consent")
async def give_consent(request: web.Request) -> web.Response:
    """Store the candidate's agreement with the notice version and time."""
    svc = services(request)
    interview, job = await interview_from_invite(svc, request.match_info["token"])
    body = await read_json(request, ConsentIn)
    if body.notice_version != svc.settings.notice_version:
        raise BadInput("The notice changed since the page was loaded. Please reload the page.")
    if not body.recording:
        raise BadInput(
            "The interview is recorded so that people can review it fairly. Without "
            "agreeing to the recording it cannot take place; please contact the "
            "recruiter to arrange an alternative.",
            code="recording_required",
        )
    async with svc.sessions() as session, session.begin():
        session.add(
            Consent(
                interview_id=interview.id,
                notice_version=body.notice_version,
                recording=True,
                ai_analysis=body.ai_analysis,
                facial_analysis=facial_mode(svc, job) if body.ai_analysis else "off",
                user_agent=request.headers.get("User-Agent", "")[:400],
            )
        )
    # Consent is logged, but neither starts the interview's clock nor changes its status.
    await svc.events.append(
        ConsentRecorded(
            interview_id=interview.id,
            notice_version=body.notice_version,
            recording=True,
            ai_analysis=body.ai_analysis,
        )
    )
    return web.json_response({"ok": True})


async def _require_consent(svc: Services, interview: Interview) -> None:
    async with svc.sessions() as session:
        consent = await session.scalar(
            select(Consent).where(
                Consent.interview_id == interview.id,
                Consent.notice_version == svc.settings.notice_version,
            )
        )
    if consent is None or not consent.recording:
        raise Forbidden("Please read and accept the notice first.", code="consent_required")


@routes.get("/ws/candidate/{token}")
async def candidate_socket(request: web.Request) -> web.StreamResponse:
    """The candidate's live channel: signaling, questions down, answer-done up."""
    svc = services(request)
    interview, _job = await interview_from_invite(svc, request.match_info["token"])
    await _require_consent(svc, interview)
    # With several nodes, the candidate's media comes here: this node takes the interview.
    async with svc.live.attach(interview.id, candidate=True) as session:
        assert isinstance(session, InterviewSession)
        ws = web.WebSocketResponse(max_msg_size=svc.settings.max_ws_message_bytes, heartbeat=20)
        await ws.prepare(request)
        with svc.live.socket(ws):
            await _serve_candidate(session, ws, interview.id)
    return ws


async def _serve_candidate(
    session: InterviewSession, ws: web.WebSocketResponse, interview_id: str
) -> None:
    await send(ws, Welcome(interview_id=interview_id))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    await ws.close(
                        code=CLOSE_BAD_MESSAGE, message=b"binary messages are not accepted"
                    )
                break
            await _on_candidate_message(session, ws, msg.data)
            if ws.closed:
                break
    finally:
        reason = "left" if ws.close_code in (1000, 1001) else "connection lost"
        session.submit(CandidateGone(ws, reason))


async def _on_candidate_message(
    session: InterviewSession, ws: web.WebSocketResponse, raw: str
) -> None:
    try:
        msg = parse_candidate(raw)
    except ProtocolError as exc:
        await refuse(ws, exc.violation)
        return
    match msg:
        case Offer(sdp=sdp):
            offer = CandidateOffer(sdp, ws)
            session.submit(offer)
            try:
                await offer.reply  # the session sends the answer, then the current screen
            except BadOffer as exc:
                await send(ws, ErrorMessage(code="bad_sdp", message=str(exc)))
                await ws.close(code=CLOSE_BAD_MESSAGE, message=b"unusable SDP offer")
            except SessionMoved:
                # Handed over or stopping (not ended): the page joins again (1012 is not final).
                await ws.close(code=CLOSE_RECONNECT, message=b"the interview moved: join again")
            except SessionClosed:
                await send(ws, Ended(reason="finished"))
                await ws.close(code=1000, message=b"interview finished")
        case AnswerDoneRequest(question_id=question_id):
            session.submit(CandidateAnswerDone(str(question_id or "")))
        case ReadyRequest():
            session.submit(CandidateReadyPressed())
        case Heartbeat():
            await send(ws, HeartbeatAck())
        case FinishRequest():
            session.submit(CandidateFinished())
        case _:
            assert_never(msg)
