"""API keys for machine clients: admins create (shown once), list and revoke them."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from server.errors import NotFound
from server.integrations.api_keys import new_key
from server.integrations.described import describe
from server.policy import Scope
from server.routes.access import require
from server.routes.api import audit
from server.routes.common import read_json
from server.services import services
from server.storage.models import ApiKey, Job

routes = web.RouteTableDef()


class ApiKeyIn(BaseModel):
    """A new key: a name people recognise, what it may do, optionally which jobs and until when."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    scopes: list[Scope] = Field(min_length=1, description="What the key may do.")
    job_ids: list[str] | None = Field(
        None, description="Restrict the key to these jobs (none: every job)."
    )
    expires_at: datetime | None = Field(None, description="When the key stops working.")


class ApiKeyOut(BaseModel):
    """A key as listed (never the key itself)."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    job_ids: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """A new key with the key itself: shown this once, store it now."""

    key: str


def key_out(row: ApiKey) -> ApiKeyOut:
    """The listed form of a key row."""
    return ApiKeyOut.model_validate(row, from_attributes=True)


@routes.post("/api/keys")
@describe(request=ApiKeyIn, response=ApiKeyCreated, status=201)
async def create_key(request: web.Request) -> web.Response:
    """Create an API key; the answer is the only time the key is shown."""
    who = await require(request, "keys.manage")
    body = await read_json(request, ApiKeyIn)
    svc = services(request)
    key = new_key()
    async with svc.sessions() as session, session.begin():
        if body.job_ids:
            known = set(await session.scalars(select(Job.id).where(Job.id.in_(body.job_ids))))
            missing = [j for j in body.job_ids if j not in known]
            if missing:
                raise NotFound(f"No such job: {missing[0]}. Check the job ids and try again.")
        row = ApiKey(
            name=body.name,
            prefix=key[:8],
            key_hash=svc.key_hasher.digest(key),
            scopes=sorted(set(body.scopes)),
            job_ids=sorted(set(body.job_ids)) if body.job_ids is not None else None,
            created_by=who.user_id,
            created_at=svc.now(),
            expires_at=body.expires_at,
        )
        session.add(row)
    await audit(request, who.user_id, "create_api_key", row.id)
    created = ApiKeyCreated(**key_out(row).model_dump(), key=key)
    return web.json_response(created.model_dump(mode="json"), status=201)


@routes.get("/api/keys")
@describe(response=list[ApiKeyOut])
async def list_keys(request: web.Request) -> web.Response:
    """Every API key, newest first, with when it was last used."""
    await require(request, "keys.manage")
    async with services(request).sessions() as session:
        rows = (await session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc()))).all()
    return web.json_response([key_out(r).model_dump(mode="json") for r in rows])


@routes.delete("/api/keys/{kid}")
@describe(response=ApiKeyOut)
async def revoke_key(request: web.Request) -> web.Response:
    """Revoke a key: it stops working at once."""
    who = await require(request, "keys.manage")
    svc = services(request)
    async with svc.sessions() as session, session.begin():
        row = await session.get(ApiKey, request.match_info["kid"])
        if row is None:
            raise NotFound("No such API key.")
        if row.revoked_at is None:
            row.revoked_at = svc.now()
    await audit(request, who.user_id, "revoke_api_key", row.id)
    return web.json_response(key_out(row).model_dump(mode="json"))
