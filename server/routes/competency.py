"""REST API for competency models: built-in templates, per-job models as JSON and as YAML."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from analysis.competency import (
    LANGUAGES,
    CompetencyModel,
    CompetencyModelError,
    Language,
    from_yaml,
    list_templates,
    load_template,
    parse_competency_model,
    to_yaml,
)
from server.auth import Principal
from server.errors import BadInput, NotFound, TooLarge
from server.json_limits import parse_json
from server.pages import page
from server.routes.access import require, require_job
from server.routes.api import audit
from server.routes.common import read_json
from server.services import services
from server.storage.models import Job

routes = web.RouteTableDef()

MAX_MODEL_BYTES = 256 * 1024
LANGUAGE_NAMES = {"zh": "Mandarin", "en": "English"}
# model.py joins the problems found by its whole-model check into one message; split them
# again so the client gets one entry per problem. Only split where a known problem starts,
# because names written by recruiters may contain "; " themselves.
_JOINED_PROBLEM = re.compile(r"; (?=competency weights |competency '|competency id |question id )")


class FromTemplateIn(BaseModel):
    key: str = Field(min_length=1, max_length=100)
    language: str | None = None


def _problems(errors: list[str]) -> list[str]:
    return [part for error in errors for part in _JOINED_PROBLEM.split(error)]


def invalid_model(
    errors: list[str], code: str = "invalid_competency_model", **extra: Any
) -> web.Response:
    """A 400 answer listing every problem, in ``message`` and one by one in ``errors``."""
    problems = _problems(errors)
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    message = f"The competency model is not valid ({count}): " + "; ".join(problems)
    body = {"error": code, "message": message, "errors": problems, **extra}
    return web.json_response(body, status=400)


def language_mismatch(job: Job, model: CompetencyModel) -> web.Response | None:
    """A 400 answer when the model's language is not the job's interview language."""
    if model.language == job.language:
        return None
    want = LANGUAGE_NAMES.get(job.language, job.language)
    have = LANGUAGE_NAMES.get(model.language, model.language)
    problem = (
        f"This model is in {have} (language: {model.language}) but the job is interviewed in "
        f"{want} ({job.language}). Load the {job.language} version of the template, or upload a "
        f"model written in {want} with language: {job.language}; to interview in {have}, "
        f"create a job with language {model.language}."
    )
    return invalid_model(
        [problem],
        code="language_mismatch",
        job_language=job.language,
        model_language=model.language,
    )


def _stored_model(job: Job) -> CompetencyModel:
    if job.competency_model is None:
        raise NotFound(
            "This job has no competency model yet. Load a built-in template or upload YAML.",
            code="no_competency_model",
        )
    return parse_competency_model(job.competency_model)


async def _store(
    request: web.Request, who: Principal, job: Job, model: CompetencyModel
) -> web.Response:
    """Check the language, save the model on the job and answer with it."""
    mismatch = language_mismatch(job, model)
    if mismatch is not None:
        return mismatch
    data = model.model_dump(mode="json")
    async with services(request).sessions() as session, session.begin():
        row = await session.get(Job, job.id)
        if row is None:
            raise NotFound("No such job.")
        row.competency_model = data
    await audit(request, who.user_id, "edit_competency_model", job.id)
    return web.json_response(data)


async def _body(request: web.Request) -> bytes:
    """The raw body, refused with a clear 413 above MAX_MODEL_BYTES."""
    too_large = TooLarge(
        f"The competency model is larger than {MAX_MODEL_BYTES // 1024} KiB; "
        "shorten it or split the question bank."
    )
    if request.content_length is not None and request.content_length > MAX_MODEL_BYTES:
        raise too_large
    raw = await request.read()
    if len(raw) > MAX_MODEL_BYTES:
        raise too_large
    return raw


def _language_param(request: web.Request, default: str = "en") -> Language:
    language = request.query.get("language", default)
    if language not in LANGUAGES:
        raise BadInput(f"Unknown language {language!r}: use 'zh' (Mandarin) or 'en' (English).")
    return language


def _template(key: str, language: Language) -> CompetencyModel:
    try:
        return load_template(key, language)
    except KeyError as exc:
        raise NotFound(str(exc.args[0]), code="no_such_template") from None


@routes.get("/jobs")
async def jobs_page(_request: web.Request) -> web.StreamResponse:
    """The admin page for jobs and their competency models."""
    return page("jobs.html")


@routes.get("/api/templates")
async def templates(request: web.Request) -> web.Response:
    """The built-in templates: key, languages and job title per language."""
    await require(request, "templates.read")
    return web.json_response([t.model_dump(mode="json") for t in list_templates()])


@routes.get("/api/templates/{key}")
async def template(request: web.Request) -> web.Response:
    """One built-in template in ``?language=`` (default en) as JSON."""
    await require(request, "templates.read")
    model = _template(request.match_info["key"], _language_param(request))
    return web.json_response(model.model_dump(mode="json"))


@routes.get("/api/jobs/{jid}/competency-model")
async def get_model(request: web.Request) -> web.Response:
    """The job's competency model as JSON (404 when it has none yet)."""
    _who, job, _svc = await require_job(request, request.match_info["jid"], "job.read")
    return web.json_response(_stored_model(job).model_dump(mode="json"))


@routes.put("/api/jobs/{jid}/competency-model")
async def put_model(request: web.Request) -> web.Response:
    """Replace the job's competency model with a JSON body, validated."""
    who, job, _svc = await require_job(request, request.match_info["jid"], "job.edit")
    data = parse_json(await _body(request) or b"null", max_bytes=MAX_MODEL_BYTES)
    if not isinstance(data, dict):
        return invalid_model(["the body must be a JSON object with id, job_title, language, ..."])
    try:
        model = parse_competency_model(data)
    except CompetencyModelError as exc:
        return invalid_model(exc.errors)
    return await _store(request, who, job, model)


@routes.post("/api/jobs/{jid}/competency-model/from-template")
async def model_from_template(request: web.Request) -> web.Response:
    """Copy a built-in template onto the job (``language`` defaults to the job's)."""
    who, job, _svc = await require_job(request, request.match_info["jid"], "job.edit")
    body = await read_json(request, FromTemplateIn)
    language = body.language or job.language
    if language not in LANGUAGES:
        raise BadInput(f"Unknown language {language!r}: use 'zh' (Mandarin) or 'en' (English).")
    return await _store(request, who, job, _template(body.key, language))


@routes.get("/api/jobs/{jid}/competency-model.yaml")
async def get_model_yaml(request: web.Request) -> web.Response:
    """The job's competency model as a YAML download."""
    _who, job, _svc = await require_job(request, request.match_info["jid"], "job.read")
    model = _stored_model(job)
    return web.Response(
        text=to_yaml(model),
        content_type="application/yaml",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{model.id}.{model.language}.yaml"'},
    )


@routes.put("/api/jobs/{jid}/competency-model.yaml")
async def put_model_yaml(request: web.Request) -> web.Response:
    """Replace the job's competency model with a raw YAML body, validated."""
    who, job, _svc = await require_job(request, request.match_info["jid"], "job.edit")
    raw = await _body(request)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("The YAML file must be UTF-8 text.") from None
    try:
        # PyYAML's safe loader is pure Python: 256 KiB can take a noticeable while.
        model = await asyncio.to_thread(from_yaml, text)
    except CompetencyModelError as exc:
        return invalid_model(exc.errors)
    return await _store(request, who, job, model)
