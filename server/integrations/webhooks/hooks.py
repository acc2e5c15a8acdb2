"""Where Candor's own changes become webhook events.

``interview_events`` listens at the event-log level (what the live room records), so it needs
nothing from the room's internals: the first ``candidate_joined`` of an interview is
``interview.started`` and ``interview_ended`` is ``interview.completed``. Scoring, decisions
and erasure call ``emit_webhook`` in their own transactions (server/reports/store.py,
server/retention.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analysis.events import Event
from server.integrations.webhooks.outbox import emit_webhook
from server.storage.models import (
    Candidate,
    EventRow,
    Interview,
    WebhookEndpoint,
    WebhookMessage,
)

if TYPE_CHECKING:
    from server.services import Services


def interview_links(interview_id: str) -> dict[str, str]:
    """Where a receiver finds more (paths; made absolute with the public URL when sent)."""
    return {
        "interview": f"/api/interviews/{interview_id}",
        "report": f"/report/{interview_id}",
        "report_json": f"/api/interviews/{interview_id}/report.json",
    }


async def interview_payload(session: AsyncSession, interview: Interview) -> dict[str, Any]:
    """Ids, links and the candidate (kept only for endpoints allowed personal data)."""
    cand = await session.get(Candidate, interview.candidate_id)
    return {
        "interview_id": interview.id,
        "job_id": interview.job_id,
        "candidate_id": interview.candidate_id,
        "status": interview.status,
        "links": interview_links(interview.id),
        "candidate": (
            {"name": cand.name, "email": cand.email, "phone": cand.phone} if cand else None
        ),
    }


# The event types ``interview_events`` acts on (the log runs it for these only).
INTERVIEW_EVENT_TYPES = ("candidate_joined", "interview_ended")


async def interview_events(session: AsyncSession, event: Event) -> None:
    """Turn stored interview events into ``interview.started`` / ``interview.completed``."""
    if event.type not in INTERVIEW_EVENT_TYPES:
        return
    if event.type == "candidate_joined":
        earlier = await session.scalar(
            select(EventRow.id).where(
                EventRow.interview_id == event.interview_id,
                EventRow.type == "candidate_joined",
                EventRow.seq < (event.seq or 0),
            )
        )
        if earlier is not None:
            return  # a rejoin, not a start
    interview = await session.get(Interview, event.interview_id)
    if interview is None:
        return
    payload = await interview_payload(session, interview)
    payload["at"] = event.at.isoformat()
    if event.type == "interview_ended":
        payload["status"] = "finished"
        payload["reason"] = getattr(event, "reason", "")
        await emit_webhook(session, "interview.completed", payload)
    else:
        payload["status"] = "live"
        await emit_webhook(session, "interview.started", payload)


async def scrub_personal_data(session: AsyncSession, interview_id: str) -> None:
    """Erasure: queued messages about this interview lose the candidate's personal data."""
    rows = await session.scalars(
        select(WebhookMessage).where(
            WebhookMessage.ordering_key == interview_id, WebhookMessage.status != "delivered"
        )
    )
    for msg in rows:
        data = {k: v for k, v in msg.payload.get("data", {}).items() if k != "candidate"}
        msg.payload = {**msg.payload, "data": data}


async def webhook_disabled_notice(svc: Services, endpoint: WebhookEndpoint) -> None:
    """Tell the admins (admin page notice, and email when configured) an endpoint stopped."""
    from server.signin.notices import notify_admins

    await notify_admins(
        svc,
        "webhook_disabled",
        "A webhook endpoint was disabled / Webhook 端点已停用",
        f"Endpoint {endpoint.id} ({endpoint.url}) failed every retry and was disabled. Fix "
        f"the receiver, then enable it: POST /api/webhooks/{endpoint.id}/enable. Queued "
        "messages are kept and sent in order.\n"
        f"Webhook 端点 {endpoint.id}（{endpoint.url}）多次重试均失败，已停用。请修复接收方后"
        "重新启用，已排队的消息会按顺序补发。",
    )
