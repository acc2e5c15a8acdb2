"""The persistent outbox: messages are rows first, sent later off the request path.

A row is ``pending`` until a send succeeds (``sent``), is given up after the last retry
(``failed``, shown on the candidate's card) or is dropped because its candidate was deleted
(``cancelled``). Retries back off exponentially; the group robot's 20 messages a minute are
respected by deferring rows. A restart loses nothing: the rows are the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from server.encryption.keyring import FieldDecryptionError
from server.notify.mail import EmailDeliveryError, EmailSender, SmtpConfig, build_rich_message
from server.storage.models import Application, Candidate, OutboxRow
from server.workflow.wecom import RATE_LIMITED, WeComClient, WeComError

log = logging.getLogger(__name__)

Channel = Literal["email", "wecom_app", "wecom_robot"]
ROBOT_PER_MINUTE = 20
BATCH = 50


def backoff(attempts: int, base: float, cap: float = 6 * 3600) -> timedelta:
    """The wait before try ``attempts + 1``: base, 2x base, 4x base ... at most ``cap``."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def enqueue(
    session: AsyncSession,
    *,
    channel: Channel,
    template: str,
    recipient: str,
    payload: dict[str, Any],
    now: datetime,
    job_id: str | None = None,
    application_id: str | None = None,
    candidate_id: str | None = None,
) -> OutboxRow:
    """Add a message to the outbox in the caller's transaction."""
    row = OutboxRow(
        channel=channel,
        template=template,
        recipient=recipient,
        payload=payload,
        job_id=job_id,
        application_id=application_id,
        candidate_id=candidate_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        last_error="",
    )
    session.add(row)
    return row


class DeliveryError(Exception):
    """A send failed; ``retry`` False means trying again cannot help."""

    def __init__(self, message: str, *, retry: bool = True, wait: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.wait = wait


class Outbox:
    """Sends due outbox rows through email or WeCom."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[Any],
        wecom: WeComClient,
        now: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.wecom = wecom
        self.now = now
        smtp = SmtpConfig.from_settings(settings)
        self.email = EmailSender(smtp) if smtp is not None else None

    async def due(self) -> list[int]:
        """Ids of pending rows whose time has come, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(OutboxRow.id)
                .where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= self.now())
                .order_by(OutboxRow.id)
                .limit(BATCH)
            )
            return list(rows.all())

    async def send_due(self) -> int:
        """Try every due row once; the number sent."""
        sent = 0
        for row_id in await self.due():
            sent += await self.send_one(row_id)
        return sent

    async def send_one(self, row_id: int) -> int:
        """Try one row: 1 if it was sent."""
        async with self.sessions() as session:
            try:
                row = await session.get(OutboxRow, row_id)
            except FieldDecryptionError:
                # The person was erased (their key destroyed): the message cannot go out.
                await self._finish(row_id, "cancelled", "the candidate was deleted")
                return 0
            if row is None or row.status != "pending":
                return 0
            if row.candidate_id is not None:
                cand = await session.get(Candidate, row.candidate_id)
                if cand is None or cand.deleted_at is not None:
                    await self._finish(row_id, "cancelled", "the candidate was deleted")
                    return 0
        try:
            await self._deliver(row)
        except DeliveryError as exc:
            await self._failed(row, exc)
            return 0
        await self._finish(row_id, "sent", "")
        return 1

    async def _deliver(self, row: OutboxRow) -> None:
        payload = row.payload
        if row.channel == "email":
            if self.email is None:
                raise DeliveryError("email is not configured (set CANDOR_SMTP_HOST and _FROM)")
            msg = build_rich_message(
                self.email.config.sender,
                row.recipient,
                str(payload["subject"]),
                str(payload["text"]),
                str(payload.get("html", "")),
                payload.get("ics"),
                str(payload.get("ics_method", "REQUEST")),
            )
            try:
                await self.email.send_message(msg)
            except EmailDeliveryError as exc:
                raise DeliveryError(str(exc)) from exc
            return
        content = str(payload["markdown"])
        try:
            if row.channel == "wecom_app":
                await self.wecom.send_app_markdown(row.recipient.split("|"), content)
            else:
                wait = await self._robot_wait()
                if wait is not None:
                    raise DeliveryError("", wait=wait)
                await self.wecom.send_robot_markdown(content)
        except WeComError as exc:
            wait = timedelta(seconds=60) if exc.code == RATE_LIMITED else None
            raise DeliveryError(str(exc), wait=wait) from exc

    async def _robot_wait(self) -> timedelta | None:
        """How long to wait before the robot may send again (20 per rolling minute)."""
        now = self.now()
        async with self.sessions() as session:
            recent = list(
                (
                    await session.scalars(
                        select(OutboxRow.sent_at)
                        .where(
                            OutboxRow.channel == "wecom_robot",
                            OutboxRow.status == "sent",
                            OutboxRow.sent_at > now - timedelta(minutes=1),
                        )
                        .order_by(OutboxRow.sent_at)
                    )
                ).all()
            )
        if len(recent) < ROBOT_PER_MINUTE:
            return None
        oldest = _aware(recent[-ROBOT_PER_MINUTE], now)
        return oldest + timedelta(minutes=1) - now

    async def _failed(self, row: OutboxRow, exc: DeliveryError) -> None:
        now = self.now()
        async with self.sessions() as session, session.begin():
            fresh = await session.get(OutboxRow, row.id)
            if fresh is None:
                return
            if exc.wait is not None and not str(exc):
                fresh.next_attempt_at = now + exc.wait  # deferred by the rate limit, no try used
                return
            fresh.attempts += 1
            fresh.last_error = str(exc)[:500]
            if not exc.retry or fresh.attempts >= self.settings.outbox_max_attempts:
                fresh.status = "failed"
                log.warning(
                    "outbound message failed for good",
                    extra={"outbox_id": fresh.id, "channel": fresh.channel},
                )
            else:
                wait = exc.wait or backoff(fresh.attempts, self.settings.outbox_backoff_seconds)
                fresh.next_attempt_at = now + wait

    async def _finish(self, row_id: int, status: str, error: str) -> None:
        now = self.now()
        if status == "cancelled":
            async with self.sessions() as session, session.begin():
                await session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == row_id)
                    .values(status=status, last_error=error)
                )
            return
        async with self.sessions() as session, session.begin():
            row = await session.get(OutboxRow, row_id)
            if row is None:
                return
            row.status = status
            row.last_error = error
            if status == "sent":
                row.attempts += 1
                row.sent_at = now
                if row.application_id and row.template == "invite" and row.channel == "email":
                    app = await session.get(Application, row.application_id)
                    if app is not None and app.delivered_at is None:
                        app.delivered_at = now


def _aware(at: datetime, like: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=like.tzinfo)


async def counts(session: AsyncSession, job_id: str) -> dict[str, int]:
    """How many of a job's messages are in each status."""
    rows = await session.execute(
        select(OutboxRow.status, func.count())
        .where(OutboxRow.job_id == job_id)
        .group_by(OutboxRow.status)
    )
    return {status: int(n) for status, n in rows.all()}
