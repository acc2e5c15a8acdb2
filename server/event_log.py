"""Append events to the interview's log in the database, then publish them on the bus."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analysis.bus import EventBus
from analysis.events import Event, parse_event
from server.storage.models import EventRow

log = logging.getLogger(__name__)

APPEND_ATTEMPTS = 20

# Called with the session inside the transaction that stores a durable event (an outbox
# writer, e.g. webhooks), so what it writes commits together with the event.
StoreHook = Callable[[AsyncSession, Event], Awaitable[None]]


@dataclass(frozen=True)
class StoreHookFor:
    """A store hook and the event types it wants (it runs for those only)."""

    types: frozenset[str]
    hook: StoreHook


# Writes other rows in the transaction that stores a step's events (a session's state).
RowWriter = Callable[[AsyncSession], Awaitable[None]]


def dedupe_key(event: Event) -> str | None:
    """Events that must appear once even if produced twice (at-least-once workers)."""
    if event.type == "transcript_final":
        return f"final:{event.utterance_id}"
    return None


class EventLog:
    """The durable, ordered record of what happened in each interview.

    Stored events are numbered 1, 2, 3, ... per interview by the database row order (a unique
    ``(interview_id, seq)`` makes two processes appending at once retry instead of sharing a
    number), so the sequence holds however many server processes share the bus. Live-only
    events (``durable`` False, e.g. partial transcripts) are published but never stored.

    Round trips are few, because a live interview's loop waits for each one: the next seq
    comes from this process's last stored seq when it has one (the unique constraint catches
    another process's append, and the retry reads the log again), a step's events are
    published in one batch, and rows are flushed early only for hooks that want them.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        on_append: Callable[[Event], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._on_append = on_append  # metrics: sees every event once, before it is stored
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_seq: dict[str, int] = {}
        self.store_hooks: list[StoreHookFor] = []

    async def append(self, event: Event) -> bool:
        """Store (if durable) and publish ``event``; False if it was a duplicate and was dropped."""
        iid = event.interview_id
        if self._on_append is not None:
            self._on_append(event)
        lock = self._locks.setdefault(iid, asyncio.Lock())
        async with lock:
            return await self._append_locked(event)

    async def append_batch(self, interview_id: str, events: Sequence[Event]) -> list[bool]:
        """Store and publish ``events`` in order, in one transaction when it can (group commit).

        For a producer whose events queue up while the loop is busy (the transcript reader):
        however many wait, storing them costs the round trips of one transaction, so the
        queue cannot grow for want of round trips. If the transaction fails on a unique key
        (a final stored already, or another process's seq), they are appended one by one, so
        a duplicate is dropped alone. Returns, per event, whether it was kept.
        """
        if len(events) <= 1:
            return [await self.append(e) for e in events]
        for event in events:
            if self._on_append is not None:
                self._on_append(event)
        lock = self._locks.setdefault(interview_id, asyncio.Lock())
        async with lock:
            try:
                async with self._sessions() as session, session.begin():
                    stored = await self._insert(session, interview_id, events, keyed=True)
            except IntegrityError:
                self._last_seq.pop(interview_id, None)  # read the log on the way one by one
                return [await self._append_locked(e) for e in events]
            for event in stored:
                if event.durable:
                    self._last_seq[interview_id] = event.seq
            await self._bus.publish_many(stored)
        return [True] * len(events)

    async def _append_locked(self, event: Event) -> bool:
        """``append`` under the interview's lock (held by the caller)."""
        iid = event.interview_id
        if not event.durable:
            last = self._last_seq.get(iid)
            if last is None:
                last = self._last_seq[iid] = await self._max_seq(iid)
            await self._bus.publish(event.model_copy(update={"seq": last}))
            return True
        stored = await self._store(event)
        if stored is None:
            return False
        self._last_seq[iid] = stored.seq
        # Published under the lock: this process publishes its events in seq order.
        await self._bus.publish(stored)
        return True

    async def append_together(
        self, interview_id: str, events: Sequence[Event], write: RowWriter | None = None
    ) -> None:
        """Store ``events`` and what ``write`` writes in one transaction, then publish them.

        A live interview's step (the machine's saved state and the events it made) commits
        as one: a node killed between the two would otherwise leave a state whose events the
        log never got, and the node taking over would show a question the log never showed.
        Events with a dedupe key (transcripts from workers) are appended one by one instead.
        """
        if any(dedupe_key(e) is not None for e in events):
            raise ValueError("deduplicated events are appended one by one")
        for event in events:
            if self._on_append is not None:
                self._on_append(event)
        lock = self._locks.setdefault(interview_id, asyncio.Lock())
        async with lock:
            stored: list[Event] = []
            for _attempt in range(APPEND_ATTEMPTS):
                try:
                    async with self._sessions() as session, session.begin():
                        if write is not None:
                            await write(session)
                        stored = await self._insert(session, interview_id, events)
                    break
                except IntegrityError:
                    # Another process took a seq: read the log again, and retry at a random
                    # moment (no lockstep).
                    self._last_seq.pop(interview_id, None)
                    await asyncio.sleep(random.uniform(0.001, 0.02))
            else:
                raise RuntimeError("could not append events after retries")
            for event in stored:
                if event.durable:
                    self._last_seq[interview_id] = event.seq
            # Published under the lock: this process publishes its events in seq order.
            if stored:
                await self._bus.publish_many(stored)

    async def _insert(
        self,
        session: AsyncSession,
        interview_id: str,
        events: Sequence[Event],
        *,
        keyed: bool = False,
    ) -> list[Event]:
        """Insert the durable ones with the next seqs (in the caller's transaction).

        ``keyed``: rows get their dedupe keys (a repeated final then fails the transaction).
        """
        seq = await self._next_base(interview_id, session)
        out: list[Event] = []
        for event in events:
            if not event.durable:  # live only: carries the seq of the last stored event
                out.append(event.model_copy(update={"seq": seq}))
                continue
            seq += 1
            key = dedupe_key(event) if keyed else None
            out.append(await self._add_row(session, event, seq, key))
        return out

    async def _add_row(
        self, session: AsyncSession, event: Event, seq: int, key: str | None
    ) -> Event:
        """Add ``event`` as row ``seq`` (in the caller's transaction) and run the store hooks."""
        stored = event.model_copy(update={"seq": seq})
        session.add(
            EventRow(
                interview_id=event.interview_id,
                seq=seq,
                type=event.type,
                t=event.t,
                at=event.at,
                dedupe_key=key,
                payload=stored.model_dump(mode="json"),
            )
        )
        hooks = [h.hook for h in self.store_hooks if event.type in h.types]
        if hooks:
            await session.flush()  # the row exists for hooks that query the log
            for hook in hooks:
                await hook(session, stored)
        return stored

    async def _store(self, event: Event) -> Event | None:
        """Insert with the next seq; None if a deduplicated event was already stored."""
        for _attempt in range(APPEND_ATTEMPTS):
            try:
                async with self._sessions() as session, session.begin():
                    seq = await self._next_base(event.interview_id, session) + 1
                    stored = await self._add_row(session, event, seq, dedupe_key(event))
                return stored
            except IntegrityError:
                self._last_seq.pop(event.interview_id, None)  # read the log on the retry
                key = dedupe_key(event)
                if key and await self._exists(event.interview_id, key):
                    log.info("dropped duplicate event", extra={"event_type": event.type})
                    return None
                # Another process took this seq: retry at a random moment (no lockstep).
                await asyncio.sleep(random.uniform(0.001, 0.02))
        raise RuntimeError("could not append event after retries")

    async def _next_base(self, interview_id: str, session: AsyncSession) -> int:
        """The seq the next stored event follows: this process's last, else the log's."""
        last = self._last_seq.get(interview_id)
        if last is not None:
            return last
        return await self._max_seq(interview_id, session)

    async def _max_seq(self, interview_id: str, session: AsyncSession | None = None) -> int:
        query = select(func.coalesce(func.max(EventRow.seq), 0)).where(
            EventRow.interview_id == interview_id
        )
        if session is not None:
            return int(await session.scalar(query) or 0)
        async with self._sessions() as own:
            return int(await own.scalar(query) or 0)

    async def _exists(self, interview_id: str, key: str) -> bool:
        async with self._sessions() as session:
            row = await session.scalar(
                select(EventRow.id).where(
                    EventRow.interview_id == interview_id, EventRow.dedupe_key == key
                )
            )
            return row is not None

    async def history(
        self, interview_id: str, types: Sequence[str] | None = None, *, after: int = 0
    ) -> list[Event]:
        """The stored events of an interview with ``seq`` above ``after``, in order."""
        async with self._sessions() as session:
            # Whole rows, not the payload column: payloads are decrypted when rows load.
            query = select(EventRow).where(
                EventRow.interview_id == interview_id, EventRow.seq > after
            )
            if types:
                query = query.where(EventRow.type.in_(list(types)))
            rows = await session.scalars(query.order_by(EventRow.seq))
            # Rows written before events carried seq get it from the row.
            return [parse_event({**r.payload, "seq": r.seq}) for r in rows]

    def forget(self, interview_id: str) -> None:
        """Drop the per-interview lock and counter when the interview is over."""
        self._locks.pop(interview_id, None)
        self._last_seq.pop(interview_id, None)
