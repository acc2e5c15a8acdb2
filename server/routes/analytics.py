"""Analytics: the page and its numbers per job (job.read) and for the organisation (admins)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from server.errors import BadInput
from server.pages import page
from server.reports.analytics import Analytics, analytics
from server.reports.analytics_csv import TABLES, csv_table
from server.routes.access import require, require_job
from server.services import services
from server.storage.models import Job

routes = web.RouteTableDef()

def _answer(request: web.Request, data: Analytics) -> web.Response:
    """JSON, or one table as CSV with ?format=csv&table=<one of TABLES>."""
    if request.query.get("format") != "csv":
        return web.Response(text=data.model_dump_json(), content_type="application/json")
    table = request.query.get("table", "funnel")
    if table not in TABLES:
        raise BadInput(f"Unknown table {table!r}: use one of {', '.join(TABLES)}.")
    name = f"analytics-{data.scope}-{table}.csv"
    return web.Response(
        text=csv_table(data, table),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/api/jobs/{jid}/analytics")
async def job_analytics(request: web.Request) -> web.Response:
    """Funnel, time saved, satisfaction, AI-human agreement and fairness for one job."""
    _who, job, svc = await require_job(request, request.match_info["jid"], "job.read")
    return _answer(request, await analytics(svc.sessions, f"job-{job.id}", [job.id]))


@routes.get("/api/analytics")
async def org_analytics(request: web.Request) -> web.Response:
    """The same over every job of the organisation (admins)."""
    await require(request, "metrics.read")
    svc = services(request)
    async with svc.sessions() as session:
        job_ids = list((await session.scalars(select(Job.id))).all())
    return _answer(request, await analytics(svc.sessions, "org", job_ids))


@routes.get("/analytics")
async def analytics_page(_request: web.Request) -> web.StreamResponse:
    """The analytics page (its data calls check who may see what)."""
    return page("analytics.html")
