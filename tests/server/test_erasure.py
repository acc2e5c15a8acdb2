"""Erasure: a deleted person leaves nothing in the database, its WAL, the recordings or logs.

A real aiortc candidate is recorded (encrypted segments on disk), their answers are in the log
and scored, then the person is erased; the raw SQLite file, its write-ahead file, the recordings
folder and every log record are searched byte by byte for the name, email and a transcript
sentence. Also: the tombstone, the last interview taking the person with it, retention per
candidate, and legal holds stopping every kind of deletion.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from media.crypto import DecryptionError, EncryptedReader, EncryptedWriter, MasterKey
from server.app import create_app
from server.erasure import shred_file
from server.retention import purge_expired
from server.services import Services
from server.storage.models import AuditEntry, CandidateTombstone, DataKey, EventRow, Interview
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.media_files import speech_file
from tests.server.helpers import (
    consent,
    log_one_answer,
    make_settings,
    mark_finished,
    scored_job,
    services_of,
    sign_in,
)
from tests.server.test_live_media import wait_for_event

Client = TestClient[web.Request, web.Application]

NAME = "Qiao Zhenming 乔振明"
EMAIL = "qiao.zhenming.marker@example.org"
SENTENCE = "I rebuilt the tidewater billing ledger in eleven days"


async def person(api: Client, name: str = NAME, email: str = EMAIL) -> str:
    """A candidate record; returns its id."""
    resp = await api.post("/api/candidates", json={"name": name, "email": email})
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def interview_for(api: Client, job_id: str, candidate_id: str) -> dict[str, Any]:
    """A scheduled interview of that person for that job."""
    resp = await api.post("/api/interviews", json={"job_id": job_id, "candidate_id": candidate_id})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def answer_and_finish(api: Client, iid: str, sentence: str = SENTENCE) -> None:
    """A logged answer with the sentence in its transcript; the interview is then finished."""
    svc = services_of(api)
    said = f"{sentence}. I measured first, then fixed the root cause and added tests."
    await log_one_answer(svc, iid, said)
    await mark_finished(svc, iid, ended_at=svc.now())


def files_under(folder: Path) -> list[Path]:
    """Every file under ``folder`` (database, WAL, keys, recordings)."""
    return [p for p in folder.rglob("*") if p.is_file()]


def find_traces(folder: Path, needles: list[str]) -> list[tuple[str, str]]:
    """(file, needle) for every needle found in any file, as UTF-8 and as JSON-escaped text."""
    found = []
    for path in files_under(folder):
        data = path.read_bytes()
        for needle in needles:
            forms = {needle.encode(), json.dumps(needle).strip('"').encode()}
            if any(form in data for form in forms):
                found.append((path.name, needle))
    return found


async def test_erasing_a_person_leaves_nothing_in_db_wal_recordings_or_logs(
    admin: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the production level (config/logs.py)
    svc = services_of(admin)
    data_dir = svc.settings.data_dir
    job = await scored_job(admin)
    cid = await person(admin)
    iv = await interview_for(admin, job["id"], cid)
    await consent(admin, iv["invite_token"])
    # A real candidate over WebRTC: audio and video are recorded, encrypted, finalized.
    async with ClientSession() as http:
        cand = CandidateClient(str(admin.make_url("")), iv["invite_token"], http)
        await cand.join(audio_file=speech_file(tmp_path), video=PatternVideoTrack())
        await wait_for_event(admin, iv["id"], "media_started", 2)
        await asyncio.sleep(2.0)
        await cand.leave()
    await wait_for_event(admin, iv["id"], "recording_finalized")
    await answer_and_finish(admin, iv["id"])
    report = await (await admin.get(f"/api/interviews/{iv['id']}/report.json")).json()
    assert report["report"]["score"]["competencies"], "a stored score quotes the transcript"
    rated = await admin.post(
        f"/api/interviews/{iv['id']}/ratings",
        json={"competency_id": "logical_thinking", "score": 4, "note": f"{NAME} was precise"},
    )
    assert rated.status == 201
    segments = files_under(svc.settings.recordings_dir / iv["id"])
    assert segments, "the recording is on disk"
    shown = await (await admin.get(f"/api/candidates/{cid}")).json()
    assert (shown["name"], shown["email"]) == (NAME, EMAIL), "the person is held (encrypted)"
    keys = {f"candidate:{cid}", f"interview:{iv['id']}"}
    async with svc.sessions() as session:
        held_keys = set(await session.scalars(select(DataKey.id).where(DataKey.id.in_(keys))))
    assert held_keys == keys

    resp = await admin.delete(f"/api/candidates/{cid}", json={"reason": "candidate_request"})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["reason"] == "candidate_request"

    assert (await admin.get(f"/api/candidates/{cid}")).status == 404
    assert (await admin.get(f"/api/interviews/{iv['id']}")).status == 404
    assert not (svc.settings.recordings_dir / iv["id"]).exists()
    wal = data_dir / "candor.db-wal"
    assert wal.exists(), "the app is still running in WAL mode: the live WAL is searched too"
    assert find_traces(data_dir, [NAME, EMAIL, SENTENCE, "Qiao Zhenming", "乔振明"]) == []
    async with svc.sessions() as session:
        tomb = await session.get(CandidateTombstone, cid)
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert tomb is not None and tomb.reason == "candidate_request" and tomb.erased_by
    async with svc.sessions() as session:
        left = list(await session.scalars(select(DataKey.id).where(DataKey.id.in_(keys))))
    assert left == [], "the field data keys are destroyed (crypto-shredding)"
    assert "erase_candidate" in actions
    for record in caplog.records:
        text = json.dumps({k: str(v) for k, v in record.__dict__.items()}, ensure_ascii=False)
        for needle in (NAME, EMAIL, SENTENCE, "Qiao Zhenming"):
            assert needle not in record.getMessage() and needle not in text, needle
    await admin.close()  # the app stops: the files at rest are clean too
    assert find_traces(data_dir, [NAME, EMAIL, SENTENCE, "Qiao Zhenming"]) == []


def test_shredding_destroys_the_key_in_place_before_the_file_goes(tmp_path: Path) -> None:
    master = MasterKey(os.urandom(32))
    path = tmp_path / "segment-001.cnd"
    writer = EncryptedWriter(path, master)
    writer.write(b"x" * 200_000)
    writer.close()
    same_blocks = tmp_path / "backup-link.cnd"  # a hard link sees the very same bytes on disk
    os.link(path, same_blocks)
    assert EncryptedReader(same_blocks, master).read_all() == b"x" * 200_000
    shred_file(path)
    assert not path.exists()
    with pytest.raises(DecryptionError):
        EncryptedReader(same_blocks, master)


async def test_deleting_the_last_interview_takes_the_name_and_email_with_it(
    admin: Client,
) -> None:
    svc = services_of(admin)
    job = await scored_job(admin)
    cid = await person(admin)
    first = await interview_for(admin, job["id"], cid)
    second = await interview_for(admin, job["id"], cid)
    gone = await (await admin.delete(f"/api/interviews/{first['id']}")).json()
    assert gone == {"ok": True, "candidate_erased": False}
    assert (await admin.get(f"/api/candidates/{cid}")).status == 200
    gone = await (await admin.delete(f"/api/interviews/{second['id']}")).json()
    assert gone == {"ok": True, "candidate_erased": True}
    assert (await admin.get(f"/api/candidates/{cid}")).status == 404
    assert find_traces(svc.settings.data_dir, [NAME, EMAIL]) == []
    async with svc.sessions() as session:
        assert await session.get(CandidateTombstone, cid) is not None


async def _age(svc: Services, iid: str, days: int) -> None:
    async with svc.sessions() as session, session.begin():
        row = await session.get(Interview, iid)
        assert row is not None
        row.ended_at = datetime.now(UTC) - timedelta(days=days)


async def test_retention_erases_a_person_once_all_their_interviews_are_past_it(
    admin: Client,
) -> None:
    svc = services_of(admin)
    days = svc.settings.retention_days
    job = await scored_job(admin)
    gone_id = await person(admin, "Old Only", "old.only@example.org")
    kept_id = await person(admin, "Old And New", "old.new@example.org")
    gone_iv = await interview_for(admin, job["id"], gone_id)
    kept_old = await interview_for(admin, job["id"], kept_id)
    kept_new = await interview_for(admin, job["id"], kept_id)
    await _age(svc, gone_iv["id"], days + 1)
    await _age(svc, kept_old["id"], days + 1)
    await _age(svc, kept_new["id"], 3)
    assert await purge_expired(svc, datetime.now(UTC)) == 2
    assert (await admin.get(f"/api/candidates/{gone_id}")).status == 404
    kept = await (await admin.get(f"/api/candidates/{kept_id}")).json()
    assert kept["interviews"] == [kept_new["id"]] and kept["email"] == "old.new@example.org"
    assert find_traces(svc.settings.data_dir, ["Old Only", "old.only@example.org"]) == []
    async with svc.sessions() as session:
        tomb = await session.get(CandidateTombstone, gone_id)
    assert tomb is not None and (tomb.reason, tomb.erased_by) == ("retention", "system")


async def test_a_legal_hold_stops_every_deletion_until_lifted(admin: Client) -> None:
    svc = services_of(admin)
    job = await scored_job(admin)
    cid = await person(admin)
    iv = await interview_for(admin, job["id"], cid)
    hold = await admin.post(f"/api/interviews/{iv['id']}/legal-hold", json={"reason": "case 12"})
    assert hold.status == 201
    assert (await (await admin.get(f"/api/interviews/{iv['id']}/legal-hold")).json())["held"]

    refused = await admin.delete(f"/api/interviews/{iv['id']}")
    assert refused.status == 409 and (await refused.json())["error"] == "legal_hold"
    assert (await admin.delete(f"/api/candidates/{cid}")).status == 409
    await _age(svc, iv["id"], svc.settings.retention_days + 10)
    assert await purge_expired(svc, datetime.now(UTC)) == 0
    my = iv["rights_url"].split("/my/")[1]
    assert (await admin.post(f"/api/my/{my}/erasure")).status == 202
    later = datetime.now(UTC) + timedelta(days=svc.settings.erasure_delay_days + 1)
    await purge_expired(svc, later)
    assert (await admin.get(f"/api/candidates/{cid}")).status == 200, "held: nothing deleted"

    # A recruiter may not lift it.
    await admin.post(
        "/api/users",
        json={"email": "rec@example.com", "password": "recruiter password 1", "role": "recruiter"},
    )
    token = await sign_in(admin, "rec@example.com", "recruiter password 1")
    await sign_in(admin)  # the cookie is the admin's again; the recruiter uses the bearer token
    lifted = await admin.delete(
        f"/api/interviews/{iv['id']}/legal-hold", headers={"Authorization": f"Bearer {token}"}
    )
    assert lifted.status == 403
    assert (await admin.delete(f"/api/interviews/{iv['id']}/legal-hold")).status == 200
    await purge_expired(svc, later)  # past retention and requested: erased now
    assert (await admin.get(f"/api/candidates/{cid}")).status == 404
    entries = await (await admin.get("/api/audit?limit=500")).json()
    actions = [e["action"] for e in entries]
    assert {"legal_hold_set", "legal_hold_lifted", "access_refused", "retention_purge"} <= set(
        actions
    )
    refusal = next(e for e in entries if e["action"] == "access_refused")
    assert refusal["role"] == "recruiter" and refusal["client"]


@pytest.mark.postgres
async def test_erasure_and_legal_hold_work_on_postgresql(
    tmp_path: Path,
    pg_url: str,
) -> None:
    app = create_app(make_settings(tmp_path, database_url=pg_url))
    async with TestClient(TestServer(app)) as api:
        await sign_in(api)
        job = await scored_job(api)
        cid = await person(api)
        iv = await interview_for(api, job["id"], cid)
        await consent(api, iv["invite_token"])
        await answer_and_finish(api, iv["id"])
        assert (await api.get(f"/api/interviews/{iv['id']}/score")).status == 200
        await api.post(f"/api/interviews/{iv['id']}/legal-hold", json={})
        assert (await api.delete(f"/api/candidates/{cid}")).status == 409
        await api.delete(f"/api/interviews/{iv['id']}/legal-hold")
        assert (await api.delete(f"/api/candidates/{cid}")).status == 200
        assert (await api.get(f"/api/candidates/{cid}")).status == 404
        assert (await (await api.get("/api/audit/verify")).json())["ok"] is True
        svc = services_of(api)
        async with svc.sessions() as session:
            assert await session.get(CandidateTombstone, cid) is not None
            left = await session.scalar(select(func.count()).select_from(EventRow))
        assert left == 0
