"""Recording segments: list and decrypting playback with HTTP Range for authorized users."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from media.crypto import DecryptionError, EncryptedReader
from server.errors import InterviewError, NotFound
from server.routes.access import require_interview
from server.routes.api import audit
from server.routes.common import as_json
from server.services import services
from server.storage.models import Recording

routes = web.RouteTableDef()

RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(InterviewError):
    status = 416
    code = "range_not_satisfiable"


@routes.get("/api/interviews/{iid}/recordings")
async def list_recordings(request: web.Request) -> web.Response:
    """The interview's recording segments in order; only finished ones have a media URL.

    Every segment is listed (numbers stay contiguous, and a rejoin's segment that got no media
    says so: ``empty``), but only ``final`` ones are offered for playback.
    """
    grant = await require_interview(request, request.match_info["iid"], "interview.read")
    interview = grant.interview
    async with services(request).sessions() as session:
        rows = (
            await session.scalars(
                select(Recording)
                .where(Recording.interview_id == interview.id)
                .order_by(Recording.segment)
            )
        ).all()
    out = []
    for r in rows:
        item = as_json(r)
        item.pop("path")
        if r.status == "final":
            item["url"] = f"/api/interviews/{interview.id}/recordings/{r.id}/media"
        out.append(item)
    return web.json_response(out)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) for a single-range header, None for the whole file."""
    if not header:
        return None
    m = RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiable("Only single byte ranges are supported.")
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) + 1 if m.group(2) else size
    else:
        start, end = max(size - int(m.group(2)), 0), size
    end = min(end, size)
    if start >= size or start >= end:
        raise RangeNotSatisfiable("The requested range is outside the recording.")
    return start, end


@routes.get("/api/interviews/{iid}/recordings/{rid}/media")
async def play_recording(request: web.Request) -> web.StreamResponse:
    """Decrypt and stream a finished segment; supports Range so the player can seek."""
    grant = await require_interview(request, request.match_info["iid"], "interview.read")
    who, interview = grant.who, grant.interview
    svc = services(request)
    async with svc.sessions() as session:
        rec = await session.get(Recording, request.match_info["rid"])
    if rec is None or rec.interview_id != interview.id or rec.status != "final":
        raise NotFound("No such finished recording.")
    try:
        reader = EncryptedReader(Path(rec.path), svc.master)
    except (DecryptionError, FileNotFoundError) as exc:
        raise NotFound("The recording file is missing or damaged.") from exc
    rng = parse_range(request.headers.get("Range"), reader.size)
    start, end = rng or (0, reader.size)
    resp = web.StreamResponse(status=206 if rng else 200)
    resp.content_type = rec.mime
    resp.content_length = end - start
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["Cache-Control"] = "private, no-store"
    if rng:
        resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{reader.size}"
    await resp.prepare(request)
    if start == 0:
        await audit(request, who.user_id, "play_recording", rec.id)
    try:
        for chunk in reader.iter_range(start, end):
            await resp.write(chunk)
    except DecryptionError:
        # Headers are gone already; cut the stream so the player reports an error.
        return resp
    await resp.write_eof()
    return resp
