"""The delivery worker: sends due outbox messages, retries with backoff, logs every attempt.

One task owned by the app's lifecycle (``start``/``aclose``); request handlers only write
outbox rows and never wait on a receiver. Per endpoint, the messages about one interview go
out in the order they were queued: a later one waits while an earlier one is still pending.
A message is claimed by moving its ``next_attempt_at`` forward in a conditional UPDATE, so
several server processes can share the outbox without sending a message twice at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import WebhookSettings
from server.integrations.webhooks.signing import headers
from server.storage.models import AuditEntry, WebhookAttempt, WebhookEndpoint, WebhookMessage

log = logging.getLogger(__name__)

SCAN_LIMIT = 1000
CLAIM_S = 60.0  # a claimed message is not picked again for this long (a crashed sender)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Outcome:
    """What one attempt got."""

    ok: bool
    code: int | None
    latency_ms: float
    error: str


class WebhookDelivery:
    """Delivers the outbox; construct, ``start()``, and ``aclose()`` on shutdown."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: WebhookSettings,
        public_url: str = "",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_disabled: Callable[[WebhookEndpoint], Awaitable[object]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._public_url = public_url.rstrip("/")
        self._now = now
        self._on_disabled = on_disabled  # tells the admins (server/signin/notices.py)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Start the worker task."""
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_s)
        self._http = aiohttp.ClientSession(timeout=timeout)
        self._task = asyncio.create_task(self.run(), name="webhook-delivery")

    def wake(self) -> None:
        """Look at the outbox now (something was queued)."""
        self._wake.set()

    async def aclose(self) -> None:
        """Stop after the attempts in flight and close the HTTP client."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._http is not None:
            await self._http.close()

    async def run(self) -> None:
        """Deliver what is due, then sleep until woken or the poll interval passes."""
        while not self._stopping:
            try:
                sent = await self.deliver_due()
            except Exception:
                log.exception("webhook delivery round failed")
                sent = 0
            if sent == 0 and not self._stopping:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._settings.poll_s)
                except TimeoutError:
                    pass

    async def _due(self) -> list[tuple[WebhookMessage, WebhookEndpoint]]:
        """Due messages, the first pending one per (endpoint, interview), oldest first.

        Scheduling reads only plain columns; payloads (encrypted) load for the chosen few.
        """
        now = self._now()
        m = WebhookMessage
        async with self._sessions() as session:
            enabled = {
                e.id: e
                for e in await session.scalars(
                    select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None))
                )
            }
            rows = (
                await session.execute(
                    select(m.id, m.endpoint_id, m.ordering_key, m.msg_id, m.next_attempt_at)
                    .where(m.status == "pending")
                    .order_by(m.id)
                    .limit(SCAN_LIMIT)
                )
            ).all()
            blocked: set[tuple[str, str]] = set()
            chosen: list[int] = []
            for mid, endpoint_id, ordering_key, msg_id, next_at in rows:
                key = (endpoint_id, ordering_key or msg_id)
                if key in blocked or endpoint_id not in enabled:
                    continue
                blocked.add(key)  # later messages of this interview wait for this one
                if _aware(next_at) <= now:
                    chosen.append(mid)
                if len(chosen) >= self._settings.max_in_flight:
                    break
            if not chosen:
                return []
            msgs = await session.scalars(select(m).where(m.id.in_(chosen)).order_by(m.id))
            return [(msg, enabled[msg.endpoint_id]) for msg in msgs]

    async def deliver_due(self) -> int:
        """Attempt every due message once (in parallel, order kept per interview).

        Claims and outcomes are written in one transaction per round, not one per message:
        on SQLite each commit is a disk sync, and that, not the network, bounds throughput.
        """
        due = await self._due()
        if not due:
            return 0
        claimed = await self._claim(due)
        outcomes = await asyncio.gather(*(self._post(e, m) for m, e in claimed))
        await self._record(claimed, outcomes)
        return len(claimed)

    async def _claim(
        self, due: list[tuple[WebhookMessage, WebhookEndpoint]]
    ) -> list[tuple[WebhookMessage, WebhookEndpoint]]:
        """The messages this process won (another process may be delivering the rest)."""
        won = []
        lease = self._now() + timedelta(seconds=CLAIM_S)
        async with self._sessions() as session, session.begin():
            for msg, endpoint in due:
                result = await session.execute(
                    update(WebhookMessage)
                    .where(
                        WebhookMessage.id == msg.id,
                        WebhookMessage.status == "pending",
                        WebhookMessage.next_attempt_at == msg.next_attempt_at,
                    )
                    .values(next_attempt_at=lease)
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:
                    won.append((msg, endpoint))
        return won

    def _body(self, payload: dict[str, Any]) -> bytes:
        data = payload.get("data", {})
        links = data.get("links")
        if isinstance(links, dict) and self._public_url:
            data = {
                **data,
                "links": {
                    k: self._public_url + v if isinstance(v, str) and v.startswith("/") else v
                    for k, v in links.items()
                },
            }
        return json.dumps({**payload, "data": data}, separators=(",", ":")).encode()

    async def _post(self, endpoint: WebhookEndpoint, msg: WebhookMessage) -> Outcome:
        assert self._http is not None
        secrets_ = [endpoint.secret]
        until = endpoint.previous_until
        if endpoint.previous_secret and until is not None and _aware(until) > self._now():
            secrets_.append(endpoint.previous_secret)
        body = self._body(msg.payload)
        # Receivers check the timestamp against their wall clock: use the real one.
        sent = headers(secrets_, msg.msg_id, int(time.time()), body)
        started = time.perf_counter()
        try:
            async with self._http.post(endpoint.url, data=body, headers=sent) as resp:
                await resp.read()
                latency = (time.perf_counter() - started) * 1000
                ok = 200 <= resp.status < 300
                return Outcome(ok, resp.status, latency, "" if ok else f"HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            latency = (time.perf_counter() - started) * 1000
            return Outcome(False, None, latency, type(exc).__name__)

    async def _record(
        self, claimed: list[tuple[WebhookMessage, WebhookEndpoint]], outcomes: list[Outcome]
    ) -> None:
        """Log every attempt; mark delivered, schedule the retry, or give up and disable."""
        now = self._now()
        delays = self._settings.retry_delays_s
        failed = 0
        disabled: list[WebhookEndpoint] = []
        async with self._sessions() as session, session.begin():
            for (msg, _endpoint), outcome in zip(claimed, outcomes, strict=True):
                attempt = msg.attempts + 1
                session.add(
                    WebhookAttempt(
                        message_id=msg.id,
                        endpoint_id=msg.endpoint_id,
                        attempt=attempt,
                        at=now,
                        ok=outcome.ok,
                        response_code=outcome.code,
                        latency_ms=round(outcome.latency_ms, 2),
                        error=outcome.error[:255],
                    )
                )
                values: dict[str, Any] = {"attempts": attempt}
                if outcome.ok:
                    values.update(status="delivered", delivered_at=now)
                elif attempt > len(delays):
                    values.update(status="failed")
                    endpoint = await self._disable(session, msg.endpoint_id, now)
                    if endpoint is not None:
                        disabled.append(endpoint)
                else:
                    values.update(next_attempt_at=now + timedelta(seconds=delays[attempt - 1]))
                failed += not outcome.ok
                # Plain UPDATE by id: the payload is neither loaded nor sealed again.
                await session.execute(
                    update(WebhookMessage)
                    .where(WebhookMessage.id == msg.id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        if failed:
            log.info("webhook deliveries failed; will retry", extra={"count": failed})
        for endpoint in disabled:
            if self._on_disabled is not None:
                try:
                    await self._on_disabled(endpoint)
                except Exception:
                    log.exception("could not tell the admins about a disabled webhook endpoint")

    async def _disable(
        self, session: AsyncSession, endpoint_id: str, now: datetime
    ) -> WebhookEndpoint | None:
        """A message failed every retry (over a day): stop sending; the endpoint if it was on."""
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            return None
        endpoint.disabled_at = now
        endpoint.disabled_reason = (
            "Disabled after a message failed every retry. Fix the receiver, then enable the "
            "endpoint again: queued messages are kept and sent in order."
        )
        session.add(AuditEntry(user_id=None, action="webhook_disabled", target=endpoint_id))
        log.warning(
            "webhook endpoint disabled after repeated failures", extra={"endpoint": endpoint_id}
        )
        return endpoint
