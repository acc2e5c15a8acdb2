"""Append events to the interview's log in the database, then publish them on the bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from analysis.bus import EventBus
from analysis.events import Event, parse_event
from server.storage.models import EventRow

log = logging.getLogger(__name__)


def dedupe_key(event: Event) -> str | None:
    """Events that must appear once even if produced twice (at-least-once workers)."""
    if event.type == "transcript_final":
        return f"final:{event.utterance_id}"
    return None


class EventLog:
    """The durable, ordered record of what happened in each interview."""

    def __init__(self, sessions: async_sessionmaker[Any], bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus
        self._locks: dict[str, asyncio.Lock] = {}

    async def append(self, event: Event) -> bool:
        """Store and publish ``event``; False if it was a duplicate and was dropped."""
        lock = self._locks.setdefault(event.interview_id, asyncio.Lock())
        async with lock:
            for _attempt in range(5):
                try:
                    async with self._sessions() as session, session.begin():
                        seq = await session.scalar(
                            select(func.coalesce(func.max(EventRow.seq), 0)).where(
                                EventRow.interview_id == event.interview_id
                            )
                        )
                        session.add(
                            EventRow(
                                interview_id=event.interview_id,
                                seq=int(seq or 0) + 1,
                                type=event.type,
                                t=event.t,
                                at=event.at,
                                dedupe_key=dedupe_key(event),
                                payload=event.model_dump(mode="json"),
                            )
                        )
                    break
                except IntegrityError:
                    key = dedupe_key(event)
                    if key and await self._exists(event.interview_id, key):
                        log.info("dropped duplicate event", extra={"event_type": event.type})
                        return False
                    await asyncio.sleep(0.01)  # seq race with another process: retry
            else:
                raise RuntimeError("could not append event after retries")
        await self._bus.publish(event)
        return True

    async def _exists(self, interview_id: str, key: str) -> bool:
        async with self._sessions() as session:
            row = await session.scalar(
                select(EventRow.id).where(
                    EventRow.interview_id == interview_id, EventRow.dedupe_key == key
                )
            )
            return row is not None

    async def history(self, interview_id: str, types: Sequence[str] | None = None) -> list[Event]:
        """Every stored event of an interview, in order."""
        async with self._sessions() as session:
            query = select(EventRow.payload).where(EventRow.interview_id == interview_id)
            if types:
                query = query.where(EventRow.type.in_(list(types)))
            rows = await session.scalars(query.order_by(EventRow.seq))
            return [parse_event(p) for p in rows]

    def forget(self, interview_id: str) -> None:
        """Drop the per-interview lock when the interview is over."""
        self._locks.pop(interview_id, None)
