"""Paused interviews whose candidate never came back become ``abandoned``, even after a restart.

A running session abandons its own interview on a tick; this watch covers interviews whose
session is not running (the server restarted while the candidate was away): it starts their
session, which finds the deadline passed, ends the interview and finalizes its recording.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from server.services import Services
from server.storage.models import Interview

log = logging.getLogger(__name__)

CHECK_EVERY = 60.0  # seconds


async def abandon_overdue(svc: Services) -> list[str]:
    """Start the session of every paused interview past its deadline; returns their ids."""
    now = svc.now()
    async with svc.sessions() as session:
        rows = (
            await session.scalars(
                select(Interview.id).where(
                    Interview.status == "paused",
                    Interview.reconnect_deadline.is_not(None),
                    Interview.reconnect_deadline < now,
                )
            )
        ).all()
    started = [iid for iid in rows if svc.live.find(iid) is None]
    if svc.cluster is not None:
        # A node that died left its interviews "live" with nobody's lease: adopt them here, so
        # the candidate's reconnect deadline runs (server/session.py: _take_over).
        started += await _orphans(svc)
    for iid in started:
        # Its first tick ends it as abandoned (with several nodes: unless another node runs it).
        # Nothing stays attached: the session keeps itself while the interview is paused.
        async with svc.live.attach(iid):
            pass
    return started


async def _orphans(svc: Services) -> list[str]:
    cluster = svc.cluster
    assert cluster is not None
    async with svc.sessions() as session:
        live = (await session.scalars(select(Interview.id).where(Interview.status == "live"))).all()
    return [iid for iid in live if svc.live.find(iid) is None and await cluster.holder(iid) is None]


async def run_abandon_watch(svc: Services, every: float = CHECK_EVERY) -> None:
    """Check for overdue paused interviews while the server runs."""
    while True:
        try:
            await abandon_overdue(svc)
        except Exception:
            log.exception("could not check for abandoned interviews; will retry")
        await asyncio.sleep(every)
