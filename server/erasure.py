"""Erasure of a person's data, used by the API, the retention sweep and self-service requests.

Order of an interview's erasure: its live room is closed (the recorder stops writing), every
recording's wrapped data key is destroyed in place (crypto-shredding: the file header holding
it is overwritten with random bytes and synced), the interview's field data key is deleted
(``server.encryption``: its transcripts, notes and feedback can no longer be decrypted, even
from a backup of the database), every row that names the interview is deleted (any table with
an ``interview_id`` column, so tables added later are covered too), then the files go. Erasing a
candidate does that for each of their interviews, destroys the candidate's field data key
(name, email, phone), deletes the candidate row (and rows of any table with a
``candidate_id`` column), and leaves a tombstone: id, time, who, why.

SQLite runs with ``secure_delete`` (deleted content is zeroed in the pages) and is checkpointed
with ``wal_checkpoint(TRUNCATE)`` afterwards, so no copy of the deleted rows stays in the
write-ahead file. A legal hold on any interview concerned stops the erasure (409).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select

from server.encryption.shred import destroy_data_keys
from server.errors import Conflict
from server.integrations.webhooks.hooks import scrub_personal_data
from server.integrations.webhooks.outbox import emit_webhook
from server.services import Services
from server.storage.models import (
    Base,
    Candidate,
    CandidateTombstone,
    ErasureRequest,
    Interview,
    LegalHold,
    Recording,
)

log = logging.getLogger(__name__)

SHRED_BYTES = 64 * 1024  # covers the header with the wrapped key (and the first chunk)


class LegalHoldActive(Conflict):
    """An interview concerned is under legal hold; nothing was deleted."""

    code = "legal_hold"


async def held(svc: Services, interview_ids: Iterable[str]) -> set[str]:
    """Which of these interviews are under legal hold."""
    ids = list(interview_ids)
    if not ids:
        return set()
    async with svc.sessions() as session:
        rows = await session.scalars(
            select(LegalHold.interview_id).where(LegalHold.interview_id.in_(ids))
        )
        return set(rows.all())


def _refuse_held(ids: set[str]) -> None:
    if ids:
        raise LegalHoldActive(
            "This cannot be deleted: an interview concerned is under legal hold. An "
            "administrator must lift the hold (DELETE /api/interviews/{id}/legal-hold) first.",
        )


def shred_file(path: Path) -> None:
    """Destroy a recording's wrapped key (random bytes over its header, synced), then unlink."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with open(path, "r+b") as fh:
        fh.write(os.urandom(min(size, SHRED_BYTES)))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink(missing_ok=True)


def _shred_all(paths: list[Path]) -> None:
    for path in paths:
        shred_file(path)


def _shred_tree(paths: list[Path], folder: Path) -> None:
    for path in paths:
        shred_file(path)
    if folder.is_dir():
        for path in folder.rglob("*"):
            if path.is_file():
                shred_file(path)
        shutil.rmtree(folder, ignore_errors=True)


async def _delete_rows(svc: Services, column: str, value: str, skip: set[str], key_id: str) -> None:
    """Destroy the field data key ``key_id``, then delete every row with ``column`` = value."""
    async with svc.sessions() as session, session.begin():
        # Keys first, in the same transaction: the sealed fields are unreadable from here on.
        await destroy_data_keys(session, svc.keyring, [key_id])
        for table in reversed(Base.metadata.sorted_tables):
            if column in table.c and table.name not in skip:
                await session.execute(delete(table).where(table.c[column] == value))


async def erase_interview(svc: Services, interview_id: str, *, check_hold: bool = True) -> None:
    """Crypto-shred the interview's recordings and delete every row about it."""
    if check_hold:
        _refuse_held(await held(svc, [interview_id]))
    await svc.live.stop(interview_id)  # the live session ends: the recorder stops writing
    async with svc.sessions() as session:
        paths = [
            Path(p)
            for p in await session.scalars(
                select(Recording.path).where(Recording.interview_id == interview_id)
            )
        ]
    folder = svc.settings.recordings_dir / interview_id
    async with svc.sessions() as session, session.begin():
        # Webhook messages still queued about this interview lose the candidate's identity.
        await scrub_personal_data(session, interview_id)
    # Keys first: once the headers are gone the ciphertext is unreadable everywhere.
    await asyncio.to_thread(_shred_all, paths)
    await _delete_rows(
        svc, "interview_id", interview_id, skip=set(), key_id=f"interview:{interview_id}"
    )
    async with svc.sessions() as session, session.begin():
        await session.execute(delete(Interview).where(Interview.id == interview_id))
    await asyncio.to_thread(_shred_tree, [], folder)
    svc.events.forget(interview_id)


async def candidate_interviews(svc: Services, candidate_id: str) -> list[str]:
    """Ids of the candidate's interviews."""
    async with svc.sessions() as session:
        rows = await session.scalars(
            select(Interview.id).where(Interview.candidate_id == candidate_id)
        )
        return list(rows.all())


async def erase_candidate(
    svc: Services,
    candidate_id: str,
    *,
    by: str,
    reason: str,
    erased: Iterable[tuple[str, str]] = (),
) -> CandidateTombstone | None:
    """Erase the person and all their interviews; None when there was no such candidate."""
    async with svc.sessions() as session:
        exists = await session.get(Candidate, candidate_id) is not None
    if not exists:
        await _close_requests(svc, candidate_id, by)
        return None
    interviews = await candidate_interviews(svc, candidate_id)
    _refuse_held(await held(svc, interviews))
    async with svc.sessions() as session:
        jobs = [*erased] + [
            (i, j)
            for i, j in await session.execute(
                select(Interview.id, Interview.job_id).where(Interview.id.in_(interviews))
            )
        ]
    for interview_id in interviews:
        await erase_interview(svc, interview_id, check_hold=False)
    await _delete_rows(
        svc, "candidate_id", candidate_id, skip={"interviews"}, key_id=f"candidate:{candidate_id}"
    )
    tomb = CandidateTombstone(id=candidate_id, erased_at=svc.now(), erased_by=by, reason=reason)
    async with svc.sessions() as session, session.begin():
        await session.execute(delete(Candidate).where(Candidate.id == candidate_id))
        if await session.get(CandidateTombstone, candidate_id) is None:
            session.add(tomb)
            # Ids only: the person is gone, receivers delete their copy.
            # One per interview, so it follows that interview's other events in order.
            pairs: list[tuple[str | None, str | None]] = [*jobs] or [(None, None)]
            for iid, job_id in pairs:
                payload: dict[str, str | None] = {
                    "candidate_id": candidate_id,
                    "job_id": job_id,
                    "reason": reason,
                }
                if iid is not None:
                    payload["interview_id"] = iid
                await emit_webhook(session, "candidate.deleted", payload)
    await _close_requests(svc, candidate_id, by)
    await checkpoint(svc)
    return tomb


async def _close_requests(svc: Services, candidate_id: str, by: str) -> None:
    """Mark the person's pending erasure requests done."""
    async with svc.sessions() as session, session.begin():
        for req in await session.scalars(
            select(ErasureRequest).where(
                ErasureRequest.subject_id == candidate_id, ErasureRequest.status == "pending"
            )
        ):
            req.status, req.done_at, req.done_by = "done", svc.now(), by


async def erase_interview_and_orphan(
    svc: Services, interview_id: str, *, by: str, reason: str
) -> bool:
    """Erase one interview, and its candidate when it was their last; True if they went too."""
    async with svc.sessions() as session:
        interview = await session.get(Interview, interview_id)
    if interview is None:
        return False
    await erase_interview(svc, interview_id)
    if await candidate_interviews(svc, interview.candidate_id):
        await checkpoint(svc)
        return False
    erased = [(interview.id, interview.job_id)]
    tomb = await erase_candidate(svc, interview.candidate_id, by=by, reason=reason, erased=erased)
    return tomb is not None


async def checkpoint(svc: Services, attempts: int = 20) -> bool:
    """SQLite: move the write-ahead file into the database and truncate it to zero bytes."""
    if not svc.settings.db_url.startswith("sqlite"):
        return True
    for _ in range(attempts):
        async with svc.engine.connect() as conn:
            row = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).first()
        if row is not None and int(row[0]) == 0:
            return True
        await asyncio.sleep(0.05)  # a reader still holds an old snapshot: try again
    log.warning("the write-ahead file could not be checkpointed after an erasure")
    return False


async def due_requests(svc: Services, now: datetime) -> list[ErasureRequest]:
    """Pending self-service erasure requests whose delay has passed."""
    async with svc.sessions() as session:
        rows = await session.scalars(
            select(ErasureRequest).where(
                ErasureRequest.status == "pending", ErasureRequest.due_at <= now
            )
        )
        return list(rows.all())
