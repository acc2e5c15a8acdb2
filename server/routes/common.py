"""Helpers shared by route modules: JSON bodies, the signed-in principal, interview lookup."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from server.auth import Principal, can_access, token_from_request
from server.errors import BadInput, Forbidden, NotFound, NotSignedIn
from server.services import Services, services
from server.storage.models import Interview, Job

M = TypeVar("M", bound=BaseModel)

MAX_JSON_BYTES = 256 * 1024


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body, with a clear 400 on bad input."""
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise BadInput("The request body is too large.")
    try:
        raw = await request.read()
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput("The request body is not valid JSON.") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadInput(f"Invalid field '{where}': {first['msg']}.") from exc


def after_seq(request: web.Request) -> int:
    """``?after=N``: the caller already holds the interview's events up to sequence number N."""
    after = request.query.get("after", "0")
    if not after.isdigit():
        raise BadInput("after must be a whole number (an event sequence number).")
    return int(after)


def principal(request: web.Request) -> Principal:
    """The signed-in HR user, or 401."""
    token = token_from_request(request)
    if not token:
        raise NotSignedIn("Please sign in to continue.")
    return services(request).auth.check(token, now())


async def interview_for(request: web.Request, who: Principal, interview_id: str) -> Interview:
    """The interview if it exists (404) and ``who`` may access it (403)."""
    svc = services(request)
    async with svc.sessions() as session:
        interview = await session.get(Interview, interview_id)
        if interview is None:
            raise NotFound("No such interview.")
        if not await can_access(session, who, interview):
            raise Forbidden("You do not have access to this interview.")
        return interview


async def interview_and_job(
    request: web.Request, who: Principal
) -> tuple[Interview, Job, Services]:
    """The interview of the ``iid`` route parameter (404/403 first) and its job (404)."""
    interview = await interview_for(request, who, request.match_info["iid"])
    svc = services(request)
    async with svc.sessions() as session:
        job = await session.get(Job, interview.job_id)
    if job is None:
        raise NotFound("The interview's job no longer exists.")
    return interview, job, svc


def as_json(obj: Any) -> Any:
    """Columns of a model row as a JSON-friendly dict."""
    out: dict[str, Any] = {}
    for col in obj.__table__.columns:
        value = getattr(obj, col.name)
        out[col.name] = value.isoformat() if isinstance(value, datetime) else value
    return out
