"""Helpers shared by route modules: JSON bodies, the signed-in principal, row JSON.

Access checks (jobs, interviews, roles) live in server/routes/access.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from server.auth import Principal
from server.errors import BadInput
from server.json_limits import MAX_JSON_BYTES, parse_json
from server.signin.middleware import request_principal

M = TypeVar("M", bound=BaseModel)


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse (size and depth limits) and validate a JSON body, with a clear 400 on bad input."""
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise BadInput("The request body is too large.")
    data = parse_json(await request.read() or b"{}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_fields(exc) from exc


def invalid_fields(exc: ValidationError) -> BadInput:
    """A 400 naming the first bad field, with every bad field in ``details.fields``."""
    fields = [
        {"field": (".".join(str(p) for p in e["loc"]) or "body")[:100], "message": e["msg"][:200]}
        for e in exc.errors()[:50]
    ]
    first = fields[0]
    return BadInput(
        f"Invalid field '{first['field']}': {first['message']}.", details={"fields": fields}
    )


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in [low, high]; 400 with a clear message otherwise."""
    raw = request.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"The '{name}' parameter must be a whole number.") from None
    if not low <= value <= high:
        raise BadInput(f"The '{name}' parameter must be between {low} and {high}.")
    return value


def after_seq(request: web.Request) -> int:
    """``?after=N``: the caller already holds the interview's events up to sequence number N."""
    after = request.query.get("after", "0")
    if not (after.isascii() and after.isdigit()) or len(after) > 18:  # "²" is a digit too
        raise BadInput("after must be a whole number (an event sequence number).")
    return int(after)


def principal(request: web.Request) -> Principal:
    """The signed-in HR user (a live server-side session, checked by the middleware) or API key
    (server/integrations/api_keys.py), or 401."""
    from server.integrations.api_keys import KEY_PRINCIPAL

    if KEY_PRINCIPAL in request:
        return request[KEY_PRINCIPAL]
    return request_principal(request)


def as_json(obj: Any) -> Any:
    """Columns of a model row as a JSON-friendly dict."""
    out: dict[str, Any] = {}
    for col in obj.__table__.columns:
        value = getattr(obj, col.name)
        out[col.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def plan_notes(model: dict[str, Any] | None, plan_settings: dict[str, Any] | None) -> list[str]:
    """Build the job's plan as a candidate's interview would; 400 when it cannot be built.

    Returns the plan's notes (warnings). A job saved with settings that cannot make a plan
    (three competencies and two questions) would fail only when a candidate joins.
    """
    if model is None:
        return []
    from analysis.competency import parse_competency_model
    from analysis.interview import PlanSettings, build_plan
    from analysis.interview.plan import PlanError

    try:
        plan = build_plan(parse_competency_model(model), PlanSettings(**(plan_settings or {})))
    except PlanError as exc:
        raise BadInput(f"The interview plan cannot be built: {exc}.", code="bad_plan") from exc
    return list(plan.notes)
