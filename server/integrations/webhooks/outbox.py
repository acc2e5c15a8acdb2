"""``emit_webhook``: put an event in the outbox, in the caller's transaction.

The payload names ids and links; personal data goes under ``candidate`` and results under
``scores``/``recommendation``, and each endpoint's copy keeps only what its scopes allow
(``candidates:read``, ``results:read``). Rows are written in the same transaction as the
change they announce, so an event is sent if and only if the change was committed.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analysis.events import utcnow
from server.storage.models import WebhookEndpoint, WebhookMessage

EventType = Literal[
    "candidate.stage_changed",
    "interview.started",
    "interview.completed",
    "interview.scored",
    "decision.recorded",
    "candidate.deleted",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)

# What each scope lets an endpoint's payloads carry beyond ids, links and states.
PERSONAL_KEYS = ("candidate",)  # needs candidates:read
RESULT_KEYS = ("scores", "recommendation", "total")  # needs results:read
# Pipeline stages that are the scorer's recommendation: without results:read a receiver
# learns that the interview was scored, not which way.
RESULT_STAGES = frozenset({"recommended", "below_threshold"})
SCORED = "scored"


def scoped_payload(endpoint: WebhookEndpoint, data: dict[str, Any]) -> dict[str, Any]:
    """The part of ``data`` the endpoint's scopes allow."""
    out = dict(data)
    if "candidates:read" not in endpoint.scopes:
        for key in PERSONAL_KEYS:
            out.pop(key, None)
    if "results:read" not in endpoint.scopes:
        for key in RESULT_KEYS:
            out.pop(key, None)
        for key in ("from_stage", "to_stage"):
            if out.get(key) in RESULT_STAGES:
                out[key] = SCORED
    return out


def subscribed(endpoint: WebhookEndpoint, event_type: str, job_id: str | None) -> bool:
    """Whether the endpoint wants this event (type and job restriction)."""
    # A disabled endpoint still gets its messages queued: they wait and go out, in order,
    # when an admin enables it again.
    if "*" not in endpoint.events and event_type not in endpoint.events:
        return False
    return endpoint.job_ids is None or (job_id is not None and job_id in endpoint.job_ids)


async def emit_webhook(
    session: AsyncSession,
    event_type: EventType,
    payload: dict[str, Any],
    *,
    ordering_key: str | None = None,
) -> int:
    """Queue ``event_type`` for every subscribed endpoint; returns how many were queued.

    ``payload`` should carry ``interview_id`` (deliveries about one interview keep their order),
    ``job_id`` (job-restricted endpoints), other ids, ``links`` (paths such as ``/report/<id>``,
    made absolute with the public URL when sent) and, where relevant, ``candidate`` (personal
    data) and ``scores``. Call it inside the transaction that makes the change.
    ``ordering_key`` (default: the interview id) names the lane whose events go out in order.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    # Plain columns only: loading whole rows would decrypt every endpoint's secret.
    e = WebhookEndpoint
    endpoints = [
        WebhookEndpoint(id=r.id, events=r.events, scopes=r.scopes, job_ids=r.job_ids)
        for r in await session.execute(select(e.id, e.events, e.scopes, e.job_ids))
    ]
    now = utcnow()
    queued = 0
    for endpoint in endpoints:
        if not subscribed(endpoint, event_type, payload.get("job_id")):
            continue
        body = {
            "type": event_type,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": scoped_payload(endpoint, payload),
        }
        session.add(
            WebhookMessage(
                msg_id="msg_" + uuid.uuid4().hex,
                endpoint_id=endpoint.id,
                event_type=event_type,
                ordering_key=str(ordering_key or payload.get("interview_id") or "")[:64],
                payload=body,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        queued += 1
    return queued
