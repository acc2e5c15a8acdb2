"""A candidate's data rights: the self-service link, what is held, AI-consent withdrawal, and
deletion requests. The routes are in server/routes/self_service.py and server/routes/rights.py.

The link is a signed token naming the candidate (like invites, its own derived key); it goes
into every message to the candidate (the invite answer carries it, the candidate pages show
it, the feedback email includes it) and works until ``rights_link_days`` after issue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select

from analysis.events import ConsentRecorded, TranscriptFinal
from server import self_identification as selfid
from server.errors import Gone, InvalidInvite
from server.services import Services, services
from server.signing import BadSignature, Signer
from server.storage.models import (
    Candidate,
    CandidateFeedbackRow,
    CandidateTombstone,
    Consent,
    ErasureRequest,
    EventRow,
    HumanDecisionRow,
    HumanRatingRow,
    Interview,
    Job,
    LegalHold,
    Recording,
    ScoreRow,
)

# Events that exist only because of AI analysis; withdrawing consent removes them with scores.
AI_EVENT_TYPES = (
    "transcript_partial",
    "transcript_final",
    "transcription_backlogged",
    "face_sampled",
    "face_delivery_summarized",
    "voice_delivery_summarized",
    "followup_suggested",
    "analyzer_failed",
)


class RightsLinks:
    """Makes and checks the candidate's self-service tokens."""

    def __init__(self, secret: bytes, ttl: timedelta, previous: Sequence[bytes] = ()) -> None:
        self._signer = Signer(secret, "rights", previous)
        self._ttl = ttl

    def issue(self, candidate_id: str, now: datetime) -> str:
        """A token for the candidate's own data."""
        return self._signer.sign({"cid": candidate_id, "exp": int((now + self._ttl).timestamp())})

    def check(self, token: str, now: datetime) -> str:
        """The candidate id of a genuine, unexpired token (401 forged, 410 expired)."""
        try:
            data = self._signer.unsign(token)
            candidate_id, exp = str(data["cid"]), int(data["exp"])
        except (BadSignature, KeyError, ValueError, TypeError) as exc:
            raise InvalidInvite(
                "This link is not valid. Please use the link from your latest message.",
                code="invalid_rights_link",
            ) from exc
        if now.timestamp() >= exp:
            raise Gone(
                "This link has expired. Please ask the recruiter for a new one.",
                code="rights_link_expired",
            )
        return candidate_id


RIGHTS_LINKS: web.AppKey[RightsLinks] = web.AppKey("rights_links", RightsLinks)


def rights_url(request: web.Request, candidate_id: str) -> str:
    """The self-service address for a candidate (put into every message to them)."""
    svc = services(request)
    token = request.app[RIGHTS_LINKS].issue(candidate_id, svc.now())
    base = svc.settings.public_url or f"{request.scheme}://{request.host}"
    return f"{base.rstrip('/')}/my/{token}"


async def subject(svc: Services, candidate_id: str) -> Candidate:
    """The candidate of a valid link; 410 once erased."""
    async with svc.sessions() as session:
        cand: Candidate | None = await session.get(Candidate, candidate_id)
        if cand is None:
            erased = await session.get(CandidateTombstone, candidate_id) is not None
            raise Gone(
                "Your data has been deleted. Nothing about you is held any more."
                if erased
                else "Nothing is held about you.",
                code="subject_erased",
            )
        return cand


def iso(at: datetime | None) -> str | None:
    """ISO time in UTC (SQLite hands back naive UTC values)."""
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


async def ai_allowed(svc: Services, interview_id: str) -> bool:
    """Whether the newest consent of the interview allows AI analysis (True when none yet)."""
    async with svc.sessions() as session:
        latest = await session.scalar(
            select(Consent)
            .where(Consent.interview_id == interview_id)
            .order_by(Consent.agreed_at.desc(), Consent.id.desc())
            .limit(1)
        )
    return latest is None or latest.ai_analysis


async def what_is_held(svc: Services, cand: Candidate, *, full: bool) -> dict[str, Any]:
    """The candidate's data; ``full`` adds the whole event log and stored scores (export)."""
    async with svc.sessions() as session:
        interviews = (
            await session.scalars(
                select(Interview)
                .where(Interview.candidate_id == cand.id)
                .order_by(Interview.created_at)
            )
        ).all()
        request = await session.scalar(
            select(ErasureRequest)
            .where(ErasureRequest.subject_id == cand.id)
            .order_by(ErasureRequest.requested_at.desc())
            .limit(1)
        )
        items = [await _interview_data(svc, session, iv, full=full) for iv in interviews]
    given = await selfid.of_candidate(svc, cand.id)
    for item in items:  # the person's own answers: shown back only to them
        item["self_identification"] = given.get(item["id"])
    return {
        "candidate": {
            "id": cand.id,
            "name": cand.name,
            "email": cand.email,
            "created_at": iso(cand.created_at),
        },
        "interviews": items,
        "ai_analysis": any(i["ai_analysis"] for i in items),
        "erasure_request": None
        if request is None
        else {
            "requested_at": iso(request.requested_at),
            "due_at": iso(request.due_at),
            "status": request.status,
        },
        "erasure_delay_days": svc.settings.erasure_delay_days,
        "retention_days": svc.settings.retention_days,
    }


async def _interview_data(
    svc: Services, session: Any, iv: Interview, *, full: bool
) -> dict[str, Any]:
    job = await session.get(Job, iv.job_id)
    consents = (
        await session.scalars(
            select(Consent).where(Consent.interview_id == iv.id).order_by(Consent.agreed_at)
        )
    ).all()
    recordings = (
        await session.scalars(
            select(Recording).where(Recording.interview_id == iv.id).order_by(Recording.segment)
        )
    ).all()
    events = await svc.events.history(iv.id)
    ratings = (
        await session.scalars(select(HumanRatingRow).where(HumanRatingRow.interview_id == iv.id))
    ).all()
    decisions = (
        await session.scalars(
            select(HumanDecisionRow).where(HumanDecisionRow.interview_id == iv.id)
        )
    ).all()
    messages = (
        await session.scalars(
            select(CandidateFeedbackRow).where(CandidateFeedbackRow.interview_id == iv.id)
        )
    ).all()
    scores = (await session.scalars(select(ScoreRow).where(ScoreRow.interview_id == iv.id))).all()
    hold = await session.get(LegalHold, iv.id)
    out: dict[str, Any] = {
        "id": iv.id,
        "job_title": job.title if job else "",
        "status": iv.status,
        "created_at": iso(iv.created_at),
        "started_at": iso(iv.started_at),
        "ended_at": iso(iv.ended_at),
        "legal_hold": hold is not None,
        "ai_analysis": bool(consents) and consents[-1].ai_analysis,
        "consents": [
            {
                "notice_version": c.notice_version,
                "recording": c.recording,
                "ai_analysis": c.ai_analysis,
                "facial_analysis": c.facial_analysis,
                "agreed_at": iso(c.agreed_at),
            }
            for c in consents
        ],
        "recordings": [
            {
                "id": r.id,
                "segment": r.segment,
                "duration": r.duration,
                "status": r.status,
                "mime": r.mime,
            }
            for r in recordings
        ],
        "transcript": [
            {"t": e.t, "text": e.text} for e in events if isinstance(e, TranscriptFinal)
        ],
        "ai_scores": [
            {"scorer_version": s.scorer_version, "total": s.total, "created_at": iso(s.created_at)}
            for s in scores
        ],
        "ratings": [
            {"competency_id": r.competency_id, "score": r.value, "note": r.note, "at": iso(r.at)}
            for r in ratings
        ],
        "decisions": [{"decision": d.decision, "note": d.note, "at": iso(d.at)} for d in decisions],
        "messages": [
            {"text": m.text, "status": m.status, "sent_at": iso(m.sent_at)} for m in messages
        ],
    }
    if full:
        out["events"] = [e.model_dump(mode="json") for e in events]
        out["ai_score_details"] = [s.score for s in scores]
    return out


async def withdraw_ai_consent(svc: Services, cand: Candidate, user_agent: str) -> int:
    """Record the withdrawal on every interview and remove scores and AI-derived events."""
    interviews = await _interview_ids(svc, cand.id)
    for interview_id in interviews:
        async with svc.sessions() as session, session.begin():
            latest = await session.scalar(
                select(Consent)
                .where(Consent.interview_id == interview_id)
                .order_by(Consent.agreed_at.desc(), Consent.id.desc())
                .limit(1)
            )
            notice = latest.notice_version if latest else svc.settings.notice_version
            session.add(
                Consent(
                    interview_id=interview_id,
                    notice_version=notice,
                    recording=latest.recording if latest else False,
                    ai_analysis=False,
                    facial_analysis="off",
                    user_agent=user_agent[:400],
                )
            )
            await session.execute(delete(ScoreRow).where(ScoreRow.interview_id == interview_id))
            await session.execute(
                delete(EventRow).where(
                    EventRow.interview_id == interview_id, EventRow.type.in_(AI_EVENT_TYPES)
                )
            )
        history = await svc.events.history(interview_id)
        await svc.events.append(
            ConsentRecorded(
                interview_id=interview_id,
                at=svc.now(),
                t=max((e.t for e in history), default=0.0),
                notice_version=notice,
                recording=latest.recording if latest else False,
                ai_analysis=False,
            )
        )
    return len(interviews)


async def _interview_ids(svc: Services, candidate_id: str) -> list[str]:
    async with svc.sessions() as session:
        rows = await session.scalars(
            select(Interview.id).where(Interview.candidate_id == candidate_id)
        )
        return list(rows.all())


async def request_erasure(svc: Services, cand: Candidate) -> ErasureRequest:
    """The pending request (made now, or the one already open)."""
    async with svc.sessions() as session, session.begin():
        open_request: ErasureRequest | None = await session.scalar(
            select(ErasureRequest).where(
                ErasureRequest.subject_id == cand.id, ErasureRequest.status == "pending"
            )
        )
        if open_request is not None:
            return open_request
        now = svc.now()
        req = ErasureRequest(
            subject_id=cand.id,
            requested_at=now,
            due_at=now + timedelta(days=svc.settings.erasure_delay_days),
            status="pending",
        )
        session.add(req)
        return req
