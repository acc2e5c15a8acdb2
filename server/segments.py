"""Recording segments' rows: a segment is ``recording`` until finalized, then ``final``,
``empty`` or ``damaged``.

The one place that turns a finished segment into its row's outcome, whether the session closed
the segment itself (server/session_media.py) or a process that stopped without closing it left
it open: app startup (server/app.py, every interview) and a node taking over an interview from
a dead one (server/session.py, that interview only: other nodes may be writing theirs).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy import select

from media.recorder import RecordingResult, finalize_recording
from server.services import Services
from server.storage.models import Recording

log = logging.getLogger(__name__)


def record_result(rec: Recording, result: RecordingResult | None) -> None:
    """A closed segment's outcome on its row (None: nothing was recorded)."""
    if result is None:
        rec.status = "empty"
    else:
        rec.status, rec.duration, rec.size = "final", result.duration, result.size


async def recover_segments(services: Services, interview_id: str | None = None) -> int:
    """Finalize segments left open by a process that stopped (their files stay playable).

    Only ``interview_id``'s segments if given, else every interview's. Returns how many
    segments were finalized; a missing file makes the row ``empty``, an unreadable one
    ``damaged``.
    """
    query = select(Recording).where(Recording.status == "recording")
    if interview_id is not None:
        query = query.where(Recording.interview_id == interview_id)
    fixed = 0
    async with services.sessions() as session, session.begin():
        for rec in (await session.scalars(query)).all():
            path = Path(rec.path)
            if not path.exists():
                record_result(rec, None)
                continue
            try:
                result = await asyncio.to_thread(
                    finalize_recording, path, services.master, unclosed=True
                )
            except Exception:
                log.exception("could not recover a recording segment", extra={"recording": rec.id})
                rec.status = "damaged"
                continue
            record_result(rec, result)
            fixed += 1
    return fixed
