"""Retention: interviews older than the retention period are erased, recordings first."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from server.encryption.shred import destroy_data_keys
from server.integrations.webhooks.hooks import scrub_personal_data
from server.integrations.webhooks.outbox import emit_webhook
from server.services import Services
from server.storage.models import (
    AuditEntry,
    Consent,
    EventRow,
    Interview,
    InterviewAccess,
    Invite,
    Recording,
)

log = logging.getLogger(__name__)

SWEEP_EVERY = 3600.0  # seconds


async def erase_interview(svc: Services, interview_id: str) -> None:
    """Delete an interview's recordings (files and rows), events, consents and invites."""
    await svc.live.stop(interview_id)
    async with svc.sessions() as session, session.begin():
        for model in (Recording, EventRow, Consent, Invite, InterviewAccess):
            await session.execute(delete(model).where(model.interview_id == interview_id))
        row = await session.get(Interview, interview_id)
        await scrub_personal_data(session, interview_id)
        if row is not None:
            await emit_webhook(
                session,
                "candidate.deleted",
                {"interview_id": row.id, "job_id": row.job_id, "candidate_id": row.candidate_id},
            )
            await session.delete(row)
        await destroy_data_keys(session, svc.keyring, [f"interview:{interview_id}"])
    await asyncio.to_thread(
        shutil.rmtree, svc.settings.recordings_dir / interview_id, ignore_errors=True
    )
    svc.events.forget(interview_id)


async def purge_expired(svc: Services, now: datetime) -> int:
    """Erase every interview that ended (or was created) before the retention period."""
    cutoff = now - timedelta(days=svc.settings.retention_days)
    async with svc.sessions() as session:
        rows = (
            await session.scalars(
                select(Interview.id).where(
                    ((Interview.ended_at.is_not(None)) & (Interview.ended_at < cutoff))
                    | ((Interview.ended_at.is_(None)) & (Interview.created_at < cutoff))
                )
            )
        ).all()
    for interview_id in rows:
        await erase_interview(svc, interview_id)
    if rows:
        async with svc.sessions() as session, session.begin():
            session.add(AuditEntry(user_id=None, action="retention_purge", target=str(len(rows))))
        log.info("retention purge erased interviews", extra={"count": len(rows)})
    return len(rows)


async def run_sweeper(svc: Services) -> None:
    """Purge once an hour while the server runs."""
    while True:
        try:
            await purge_expired(svc, svc.now())
        except Exception:
            log.exception("retention purge failed; will retry")
        await asyncio.sleep(SWEEP_EVERY)
