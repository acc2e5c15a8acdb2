"""Retention: interviews past the retention period are erased, and with them the candidates
who have no interview left; self-service erasure requests are carried out once due.

Interviews under legal hold are skipped (and so are their candidates). The erasure itself is
``server.erasure``; every sweep that erased something is in the audit trail.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from server.audit import SYSTEM
from server.erasure import (
    LegalHoldActive,
    candidate_interviews,
    due_requests,
    erase_candidate,
    erase_interview,
    held,
)
from server.services import Services
from server.storage.models import Candidate, Interview

log = logging.getLogger(__name__)

SWEEP_EVERY = 3600.0  # seconds

__all__ = ["erase_interview", "purge_expired", "run_sweeper"]


async def _expired(svc: Services, cutoff: datetime) -> list[tuple[str, str]]:
    """(interview id, candidate id) of interviews that ended (or were made) before ``cutoff``."""
    async with svc.sessions() as session:
        rows = await session.execute(
            select(Interview.id, Interview.candidate_id).where(
                ((Interview.ended_at.is_not(None)) & (Interview.ended_at < cutoff))
                | ((Interview.ended_at.is_(None)) & (Interview.created_at < cutoff))
            )
        )
        return [(i, c) for i, c in rows.all()]


async def _idle_candidates(svc: Services, cutoff: datetime) -> list[str]:
    """Candidates created before ``cutoff`` who never had an interview."""
    async with svc.sessions() as session:
        rows = await session.scalars(
            select(Candidate.id).where(
                Candidate.created_at < cutoff,
                ~select(Interview.id).where(Interview.candidate_id == Candidate.id).exists(),
            )
        )
        return list(rows.all())


async def purge_expired(svc: Services, now: datetime) -> int:
    """One sweep at ``now``; returns how many interviews were erased."""
    cutoff = now - timedelta(days=svc.settings.retention_days)
    expired = await _expired(svc, cutoff)
    on_hold = await held(svc, [i for i, _c in expired])
    touched: set[str] = set()
    erased = 0
    for interview_id, candidate_id in expired:
        if interview_id in on_hold:
            continue
        await erase_interview(svc, interview_id, check_hold=False)
        touched.add(candidate_id)
        erased += 1
    people = 0
    for candidate_id in sorted(touched | set(await _idle_candidates(svc, cutoff))):
        if await candidate_interviews(svc, candidate_id):
            continue  # a more recent interview keeps the person's record
        if await erase_candidate(svc, candidate_id, by="system", reason="retention"):
            people += 1
    await carry_out_due_requests(svc, now)
    if erased or people:
        await svc.audit.append(
            SYSTEM, "retention_purge", str(erased), detail=f"{people} candidates erased"
        )
        log.info("retention purge erased interviews", extra={"count": erased, "candidates": people})
    return erased


async def carry_out_due_requests(svc: Services, now: datetime) -> int:
    """Erase candidates whose self-service request's delay has passed (not those on hold)."""
    done = 0
    for req in await due_requests(svc, now):
        try:
            tomb = await erase_candidate(
                svc, req.subject_id, by="candidate_request", reason="candidate_request"
            )
        except LegalHoldActive:
            continue  # stays pending until the hold is lifted
        if tomb is not None:
            await svc.audit.append(SYSTEM, "erase_candidate", req.subject_id, detail="request due")
            done += 1
    return done


async def run_sweeper(svc: Services) -> None:
    """Purge once an hour while the server runs."""
    while True:
        try:
            await purge_expired(svc, svc.now())
        except Exception:
            log.exception("retention purge failed; will retry")
        await asyncio.sleep(SWEEP_EVERY)
