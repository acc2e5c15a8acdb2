"""A job's settings in one form: title, language, model, plan, scoring, invitations."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.competency import list_templates, load_template
from analysis.interview import PlanSettings
from server.errors import BadInput
from server.reports import store
from server.routes.access import require_job
from server.routes.common import plan_notes, read_json
from server.services import Services
from server.storage.models import Job

routes = web.RouteTableDef()


class SlotIn(BaseModel):
    start: str
    end: str


class JobSettingsIn(BaseModel):
    """Every field is optional: only what is sent changes."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=255)
    language: Literal["zh", "en"] | None = None
    template: str | None = Field(None, description="Replace the competency model by a template.")
    question_count: int | None = Field(None, ge=1, le=30)
    duration_minutes: float | None = Field(None, gt=0, le=180)
    approval_window: float | None = Field(None, ge=0, le=120)
    facial_analysis: Literal["off", "integrity_only", "full"] | None = None
    threshold: float | None = Field(None, ge=0, le=100)
    delivery_enabled: bool | None = None
    candidate_feedback: bool | None = None
    invite_ttl_hours: float | None = Field(None, gt=0, le=24 * 60)
    reminder_hours: float | None = Field(None, ge=0, le=24 * 30)
    slots: list[SlotIn] | None = Field(None, max_length=50)


async def settings_of(svc: Services, job: Job) -> dict[str, Any]:
    """The job's settings as the job page's form shows them."""
    plan = PlanSettings(**(job.plan_settings or {}))
    options = await store.job_options(svc.sessions, job.id)
    flow = job.workflow or {}
    model = job.competency_model or {}
    return {
        "id": job.id,
        "title": job.title,
        "language": job.language,
        "competency_model": model.get("name") or model.get("id"),
        "templates": [t.key for t in list_templates()],
        "question_count": plan.question_count,
        "duration_minutes": plan.duration_minutes,
        "approval_window": plan.approval_window,
        "facial_analysis": job.facial_analysis or svc.settings.facial_analysis,
        "threshold": options.threshold,
        "delivery_enabled": options.delivery_enabled,
        "candidate_feedback": options.candidate_feedback,
        "invite_ttl_hours": flow.get("invite_ttl_hours", svc.settings.invite_ttl_hours),
        "reminder_hours": flow.get("reminder_hours", svc.settings.reminder_hours),
        "slots": flow.get("slots", []),
        "links": {
            "calibration": f"/calibration/{job.id}",
            "analytics": f"/analytics?scope={job.id}",
            "tracking": f"/api/jobs/{job.id}/tracking",
            "board": f"/jobs/{job.id}#board",
        },
    }


@routes.get("/api/jobs/{jid}/settings")
async def get_settings(request: web.Request) -> web.Response:
    """The job's settings in one object."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.settings")
    return web.json_response(await settings_of(svc, job))


@routes.put("/api/jobs/{jid}/settings")
async def put_settings(request: web.Request) -> web.Response:
    """Change any of the job's settings at once (checked together before anything is saved)."""
    from server.routes.api import audit

    who, job, svc = await require_job(request, request.match_info["jid"], "job.edit")
    body = await read_json(request, JobSettingsIn)
    plan = dict(job.plan_settings or {})
    for name in ("question_count", "duration_minutes", "approval_window"):
        value = getattr(body, name)
        if value is not None:
            plan[name] = value
    try:
        PlanSettings(**plan)
    except ValidationError as exc:
        raise BadInput(f"Invalid plan settings: {exc.errors()[0]['msg']}.") from exc
    language = body.language or job.language
    model = job.competency_model
    if body.template:
        try:
            lang: Literal["zh", "en"] = "zh" if language == "zh" else "en"
            model = load_template(body.template, lang).model_dump(mode="json")
        except KeyError as exc:
            keys = ", ".join(t.key for t in list_templates())
            raise BadInput(f"Unknown template '{body.template}'. Choose one of: {keys}.") from exc
    plan_notes(model, plan)  # a plan a candidate's interview can be built from, or 400
    options = await store.job_options(svc.sessions, job.id)
    changes = {
        k: getattr(body, k)
        for k in ("threshold", "delivery_enabled", "candidate_feedback")
        if getattr(body, k) is not None
    }
    flow = dict(job.workflow or {})
    for name in ("invite_ttl_hours", "reminder_hours"):
        if getattr(body, name) is not None:
            flow[name] = getattr(body, name)
    if body.slots is not None:
        flow["slots"] = [s.model_dump() for s in body.slots]
    async with svc.sessions() as session, session.begin():
        row = await session.get(Job, job.id)
        assert row is not None
        row.title = body.title or row.title
        row.language = language
        row.plan_settings = plan or None
        row.competency_model = model
        row.workflow = flow or None
        if body.facial_analysis is not None:
            row.facial_analysis = body.facial_analysis
    if changes:
        await store.save_job_options(svc.sessions, job.id, options.model_copy(update=changes))
    await audit(request, who.user_id, "edit_job_settings", job.id)
    async with svc.sessions() as session:
        fresh = await session.get(Job, job.id)
    assert fresh is not None
    return web.json_response(await settings_of(svc, fresh))
