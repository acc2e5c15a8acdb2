"""The candidate's self-service page: see, download, withdraw AI consent, ask for deletion.

Reached only through the signed link in messages to the candidate (``/my/<token>``); every
action is in the audit trail with the role ``candidate`` and the candidate's id as target.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from media.crypto import DecryptionError, EncryptedReader
from server.erasure import candidate_interviews, held
from server.errors import NotFound
from server.pages import page
from server.rights import (
    RIGHTS_LINKS,
    iso,
    request_erasure,
    subject,
    what_is_held,
    withdraw_ai_consent,
)
from server.routes.api import audit
from server.services import Services, services
from server.storage.models import Candidate, Interview, Recording

routes = web.RouteTableDef()


async def _subject(request: web.Request) -> tuple[Candidate, Services]:
    svc = services(request)
    candidate_id = request.app[RIGHTS_LINKS].check(request.match_info["token"], svc.now())
    return await subject(svc, candidate_id), svc


async def _log(request: web.Request, action: str, candidate_id: str, detail: str = "") -> None:
    await audit(request, None, action, candidate_id, role="candidate", detail=detail)


@routes.get("/my/{token}")
async def my_page(request: web.Request) -> web.StreamResponse:
    """The self-service page (phone-friendly, zh and en)."""
    await _subject(request)
    return page("my.html")


@routes.get("/api/my/{token}")
async def my_data(request: web.Request) -> web.Response:
    """What is held about the candidate."""
    cand, svc = await _subject(request)
    data = await what_is_held(svc, cand, full=False)
    await _log(request, "subject_access", cand.id)
    return web.json_response(data, headers={"Cache-Control": "private, no-store"})


@routes.get("/api/my/{token}/export.json")
async def my_export(request: web.Request) -> web.Response:
    """Everything held, as a JSON file (recordings are separate downloads)."""
    cand, svc = await _subject(request)
    data = await what_is_held(svc, cand, full=True)
    await _log(request, "subject_export", cand.id)
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, indent=1),
        content_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="my-data.json"',
            "Cache-Control": "private, no-store",
        },
    )


@routes.get("/api/my/{token}/recordings/{rid}")
async def my_recording(request: web.Request) -> web.StreamResponse:
    """One of the candidate's recordings, decrypted on the fly."""
    cand, svc = await _subject(request)
    async with svc.sessions() as session:
        rec = await session.get(Recording, request.match_info["rid"])
        interview = await session.get(Interview, rec.interview_id) if rec else None
    if rec is None or interview is None or interview.candidate_id != cand.id:
        raise NotFound("No such recording.")
    if rec.status != "final":
        raise NotFound("This recording is not finished yet; try again later.")
    try:
        reader = EncryptedReader(Path(rec.path), svc.master)
    except (DecryptionError, FileNotFoundError) as exc:
        raise NotFound("The recording file is missing or damaged.") from exc
    resp = web.StreamResponse()
    resp.content_type = rec.mime
    resp.content_length = reader.size
    resp.headers["Content-Disposition"] = f'attachment; filename="interview-{rec.segment}.mp4"'
    resp.headers["Cache-Control"] = "private, no-store"
    await resp.prepare(request)
    await _log(request, "subject_download_recording", cand.id, detail=rec.id)
    try:
        for chunk in reader.iter_range():
            await resp.write(chunk)
    except DecryptionError:
        return resp  # headers are sent: cutting the stream tells the browser it failed
    await resp.write_eof()
    return resp


@routes.post("/api/my/{token}/withdraw-ai")
async def my_withdraw_ai(request: web.Request) -> web.Response:
    """Withdraw consent to AI analysis: scores and transcripts go; people review without them."""
    cand, svc = await _subject(request)
    count = await withdraw_ai_consent(svc, cand, request.headers.get("User-Agent", ""))
    await _log(request, "withdraw_ai_consent", cand.id, detail=f"{count} interviews")
    return web.json_response({"ok": True, "interviews": count})


@routes.post("/api/my/{token}/erasure")
async def my_erasure(request: web.Request) -> web.Response:
    """Ask for deletion: an admin confirms it, or it happens once the delay has passed."""
    cand, svc = await _subject(request)
    req = await request_erasure(svc, cand)
    on_hold = bool(await held(svc, await candidate_interviews(svc, cand.id)))
    await _log(request, "erasure_requested", cand.id, detail=req.id)
    return web.json_response(
        {
            "status": req.status,
            "requested_at": iso(req.requested_at),
            "due_at": iso(req.due_at),
            "legal_hold": on_hold,
        },
        status=202,
    )
