"""Webhook endpoints: subscribe, list, rotate the secret, read the delivery log, redeliver."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from sqlalchemy import delete, select, update

from server.encryption.shred import destroy_data_keys
from server.errors import BadInput, NotFound
from server.integrations.described import describe
from server.integrations.webhooks.outbox import EVENT_TYPES, EventType
from server.integrations.webhooks.signing import new_secret
from server.policy import Scope
from server.routes.access import require
from server.routes.api import audit
from server.routes.common import read_json
from server.services import services
from server.storage.models import WebhookAttempt, WebhookEndpoint, WebhookMessage

routes = web.RouteTableDef()

# What an endpoint created by a signed-in admin may receive unless it asks for more.
DEFAULT_SCOPES: list[Scope] = ["interviews:read", "results:read"]


class WebhookIn(BaseModel):
    """A receiver URL and the event types it wants (``["*"]``: all of them)."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    events: list[EventType | Literal["*"]] = Field(min_length=1)
    scopes: list[Scope] | None = Field(
        None,
        description="What payloads may carry: candidates:read adds the candidate's name and "
        "contact details, results:read adds scores. Default: the creating key's scopes, or "
        "interviews:read and results:read for an admin.",
    )
    job_ids: list[str] | None = Field(None, description="Only events about these jobs.")


class WebhookOut(BaseModel):
    """An endpoint as listed (never its secret)."""

    id: str
    url: str
    events: list[str]
    scopes: list[str]
    job_ids: list[str] | None
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str


class WebhookCreated(BaseModel):
    """A new endpoint and its signing secret (``whsec_...``), shown this once."""

    id: str
    secret: str


class RotateIn(BaseModel):
    """How long the old secret keeps signing alongside the new one."""

    model_config = ConfigDict(extra="forbid")

    grace_hours: float | None = Field(None, ge=0, le=24 * 7)


class AttemptOut(BaseModel):
    """One delivery attempt."""

    message_id: int
    msg_id: str
    event_type: str
    status: str
    attempt: int
    at: datetime
    ok: bool
    response_code: int | None
    latency_ms: float
    error: str


class OkOut(BaseModel):
    """Done."""

    ok: bool = True


async def _endpoint(request: web.Request) -> WebhookEndpoint:
    async with services(request).sessions() as session:
        row = await session.get(WebhookEndpoint, request.match_info["wid"])
    if row is None:
        raise NotFound("No such webhook endpoint.")
    return row


def _out(row: WebhookEndpoint) -> WebhookOut:
    return WebhookOut.model_validate(row, from_attributes=True)


@routes.post("/api/webhooks")
@describe(request=WebhookIn, response=WebhookCreated, status=201)
async def create_webhook(request: web.Request) -> web.Response:
    """Subscribe a receiver; the answer holds its signing secret, shown once."""
    who = await require(request, "webhooks.manage")
    body = await read_json(request, WebhookIn)
    scopes: list[str] = list(body.scopes) if body.scopes is not None else list(DEFAULT_SCOPES)
    job_ids = body.job_ids
    if who.is_key:
        assert who.scopes is not None
        if body.scopes is None:
            scopes = sorted(who.scopes)
        if not set(scopes) <= who.scopes:
            raise BadInput("An endpoint may not receive more than the key's own scopes allow.")
        if who.job_ids is not None:
            if job_ids is None:
                job_ids = sorted(who.job_ids)
            if not set(job_ids) <= who.job_ids:
                raise BadInput("An endpoint may not receive events of jobs the key cannot see.")
    events = ["*"] if "*" in body.events else sorted(set(body.events))
    secret = new_secret()
    svc = services(request)
    async with svc.sessions() as session, session.begin():
        row = WebhookEndpoint(
            url=str(body.url),
            events=events,
            secret=secret,
            scopes=sorted(set(scopes)),
            job_ids=job_ids,
            created_by=who.actor_id,
            created_at=svc.now(),
            disabled_reason="",
        )
        session.add(row)
    await audit(request, who.actor_id, "create_webhook", row.id)
    return web.json_response(WebhookCreated(id=row.id, secret=secret).model_dump(), status=201)


@routes.get("/api/webhooks")
@describe(response=list[WebhookOut])
async def list_webhooks(request: web.Request) -> web.Response:
    """Every endpoint, with why it was disabled if it was."""
    await require(request, "webhooks.manage")
    async with services(request).sessions() as session:
        rows = (
            await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at))
        ).all()
    return web.json_response([_out(r).model_dump(mode="json") for r in rows])


@routes.delete("/api/webhooks/{wid}")
@describe(response=OkOut)
async def delete_webhook(request: web.Request) -> web.Response:
    """Remove an endpoint and its queued messages."""
    who = await require(request, "webhooks.manage")
    row = await _endpoint(request)
    async with services(request).sessions() as session, session.begin():
        found = await session.get(WebhookEndpoint, row.id)
        if found is not None:
            await session.execute(
                delete(WebhookMessage).where(WebhookMessage.endpoint_id == row.id)
            )
            await session.delete(found)
        await destroy_data_keys(session, services(request).keyring, [f"webhook:{row.id}"])
    await audit(request, who.actor_id, "delete_webhook", row.id)
    return web.json_response({"ok": True})


@routes.post("/api/webhooks/{wid}/rotate")
@describe(request=RotateIn, response=WebhookCreated)
async def rotate_secret(request: web.Request) -> web.Response:
    """A new secret; the old one also signs for a grace period (default 24 h)."""
    who = await require(request, "webhooks.manage")
    body = await read_json(request, RotateIn)
    svc = services(request)
    grace = (
        body.grace_hours
        if body.grace_hours is not None
        else svc.settings.webhooks.rotation_grace_hours
    )
    secret = new_secret()
    async with svc.sessions() as session, session.begin():
        row = await session.get(WebhookEndpoint, request.match_info["wid"])
        if row is None:
            raise NotFound("No such webhook endpoint.")
        row.previous_secret, row.secret = row.secret, secret
        row.previous_until = svc.now() + timedelta(hours=grace)
    await audit(request, who.actor_id, "rotate_webhook_secret", row.id)
    return web.json_response(WebhookCreated(id=row.id, secret=secret).model_dump())


@routes.post("/api/webhooks/{wid}/enable")
@describe(response=OkOut)
async def enable_webhook(request: web.Request) -> web.Response:
    """Send again to a disabled endpoint; its failed messages are retried first, in order."""
    who = await require(request, "webhooks.manage")
    svc = services(request)
    async with svc.sessions() as session, session.begin():
        row = await session.get(WebhookEndpoint, request.match_info["wid"])
        if row is None:
            raise NotFound("No such webhook endpoint.")
        row.disabled_at, row.disabled_reason = None, ""
        await session.execute(
            update(WebhookMessage)
            .where(WebhookMessage.endpoint_id == row.id, WebhookMessage.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=svc.now())
        )
    _wake(request)
    await audit(request, who.actor_id, "enable_webhook", row.id)
    return web.json_response({"ok": True})


@routes.get("/api/webhooks/{wid}/deliveries")
@describe(response=list[AttemptOut])
async def delivery_log(request: web.Request) -> web.Response:
    """The endpoint's newest delivery attempts: status, latency, response code, attempt."""
    await require(request, "webhooks.manage")
    row = await _endpoint(request)
    limit = min(int(request.query.get("limit", "200") or 200), 1000)
    async with services(request).sessions() as session:
        rows = (
            await session.execute(
                select(WebhookAttempt, WebhookMessage)
                .join(WebhookMessage, WebhookMessage.id == WebhookAttempt.message_id)
                .where(WebhookAttempt.endpoint_id == row.id)
                .order_by(WebhookAttempt.id.desc())
                .limit(limit)
            )
        ).all()
    out = [
        AttemptOut(
            message_id=m.id,
            msg_id=m.msg_id,
            event_type=m.event_type,
            status=m.status,
            attempt=a.attempt,
            at=a.at,
            ok=a.ok,
            response_code=a.response_code,
            latency_ms=a.latency_ms,
            error=a.error,
        ).model_dump(mode="json")
        for a, m in rows
    ]
    return web.json_response(out)


@routes.post("/api/webhooks/{wid}/messages/{mid}/redeliver")
@describe(response=OkOut)
async def redeliver(request: web.Request) -> web.Response:
    """Send one message again (same webhook-id, so receivers can tell it is a repeat)."""
    who = await require(request, "webhooks.manage")
    svc = services(request)
    mid = request.match_info["mid"]
    if not mid.isdigit():
        raise NotFound("No such message.")
    async with svc.sessions() as session, session.begin():
        msg = await session.get(WebhookMessage, int(mid))
        if msg is None or msg.endpoint_id != request.match_info["wid"]:
            raise NotFound("No such message.")
        msg.status, msg.attempts, msg.next_attempt_at = "pending", 0, svc.now()
    _wake(request)
    await audit(request, who.actor_id, "redeliver_webhook", str(msg.id))
    return web.json_response({"ok": True})


def _wake(request: web.Request) -> None:
    delivery = services(request).webhooks
    if delivery is not None:
        delivery.wake()


__all__ = ["EVENT_TYPES", "routes"]
