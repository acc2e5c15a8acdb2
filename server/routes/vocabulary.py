"""A job's transcription vocabulary: terms both transcription passes are told about."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from server.routes.access import require_job
from server.routes.api import audit
from server.routes.common import read_json

routes = web.RouteTableDef()

MAX_TERMS = 100
MAX_TERM_CHARS = 60


def clean_terms(terms: list[str]) -> list[str]:
    """Trimmed, non-empty, de-duplicated terms in their given order."""
    out: list[str] = []
    for term in terms:
        term = " ".join(term.split())
        if term and term not in out:
            out.append(term)
    return out


class VocabularyIn(BaseModel):
    terms: list[str] = Field(
        default_factory=list, max_length=MAX_TERMS,
        description="Names, products, company names, technical terms (zh or en), one per item.",
    )

    @field_validator("terms")
    @classmethod
    def _short_terms(cls, terms: list[str]) -> list[str]:
        for term in terms:
            if len(term) > MAX_TERM_CHARS:
                raise ValueError(
                    f"each term must be at most {MAX_TERM_CHARS} characters; split longer phrases"
                )
        return clean_terms(terms)


@routes.get("/api/jobs/{jid}/vocabulary")
async def get_vocabulary(request: web.Request) -> web.Response:
    """The job's terms (an empty list when none were set)."""
    _who, job, _svc = await require_job(request, request.match_info["jid"], "job.read")
    return web.json_response({"terms": job.vocabulary or []})


@routes.put("/api/jobs/{jid}/vocabulary")
async def put_vocabulary(request: web.Request) -> web.Response:
    """Replace the job's terms; interviews started from now on use them."""
    who, job, svc = await require_job(request, request.match_info["jid"], "job.edit")
    body = await read_json(request, VocabularyIn)
    async with svc.sessions() as session, session.begin():
        row = await session.get(type(job), job.id)
        assert row is not None
        row.vocabulary = body.terms
    await audit(request, who.user_id, "job.vocabulary", job.id)
    return web.json_response({"terms": body.terms})
