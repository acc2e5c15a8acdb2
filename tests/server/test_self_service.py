"""The candidate's self-service link: see, download, withdraw AI consent, ask for deletion.

Time is a scripted clock, so "deleted automatically after the delay" is checked by moving it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from media.crypto import EncryptedWriter
from server.access_log import redact_path
from server.retention import purge_expired
from server.routes.feedback import email_text
from server.storage.models import CandidateTombstone, Recording
from tests.server.helpers import consent, scored_job, services_of, sign_in
from tests.server.test_erasure import (
    EMAIL,
    NAME,
    SENTENCE,
    Client,
    answer_and_finish,
    interview_for,
    person,
)
from tests.server.test_interviewer_channels import ScriptedClock, make_client


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


@pytest.fixture
async def api(tmp_path: Path, clock: ScriptedClock) -> AsyncIterator[Client]:
    client = await make_client(tmp_path, clock)
    yield client
    await client.close()


async def finished(api: Client, ai: bool = True) -> tuple[dict[str, Any], str, str]:
    """(interview, candidate id, self-service token) of a finished, consented interview."""
    job = await scored_job(api)
    cid = await person(api)
    iv = await interview_for(api, job["id"], cid)
    await consent(api, iv["invite_token"], ai=ai)
    await answer_and_finish(api, iv["id"])
    return iv, cid, iv["rights_url"].split("/my/")[1]


async def test_the_link_is_in_every_message_and_shows_what_is_held(api: Client) -> None:
    iv, cid, token = await finished(api)
    job = await scored_job(api)
    upcoming = await interview_for(api, job["id"], cid)  # its invite still works
    notice = await (await api.get(f"/api/join/{upcoming['invite_token']}")).json()
    assert notice["rights_url"].split("/my/")[1].split(".")[0] == token.split(".")[0]
    _subject, body = email_text("Thank you.", "en", NAME, "Engineer", iv["rights_url"])
    assert iv["rights_url"] in body
    _subject, body = email_text("谢谢。", "zh", NAME, "工程师", iv["rights_url"])
    assert iv["rights_url"] in body

    page = await api.get(f"/my/{token}")
    assert page.status == 200 and "my.js" in await page.text()
    held = await (await api.get(f"/api/my/{token}")).json()
    assert held["candidate"] == {**held["candidate"], "id": cid, "name": NAME, "email": EMAIL}
    item = next(i for i in held["interviews"] if i["id"] == iv["id"])
    assert item["ai_analysis"] is True
    assert any(SENTENCE in line["text"] for line in item["transcript"])
    assert [c["ai_analysis"] for c in item["consents"]] == [True]

    assert (await api.get(f"/api/my/{token}x")).status == 401
    assert (await api.get(f"/api/my/{iv['invite_token']}")).status == 401  # other purpose
    entries = await (await api.get("/api/audit")).json()
    access = next(e for e in entries if e["action"] == "subject_access")
    assert access["role"] == "candidate" and access["target"] == cid


def test_self_service_tokens_never_reach_the_access_log() -> None:
    assert redact_path("/my/abc.def") == "/my/<token>"
    assert redact_path("/api/my/abc.def/export.json") == "/api/my/<token>/export.json"


async def test_download_gives_json_and_the_decrypted_recording(api: Client) -> None:
    iv, _cid, token = await finished(api)
    svc = services_of(api)
    folder = svc.settings.recordings_dir / iv["id"]
    folder.mkdir(parents=True)
    plain = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 800
    writer = EncryptedWriter(folder / "segment-001.cnd", svc.master)
    writer.write(plain)
    writer.close()
    async with svc.sessions() as session, session.begin():
        rec = Recording(
            interview_id=iv["id"],
            segment=1,
            path=str(folder / "segment-001.cnd"),
            status="final",
            duration=3.0,
            size=len(plain),
        )
        session.add(rec)
    export = await api.get(f"/api/my/{token}/export.json")
    assert export.status == 200
    assert "attachment" in export.headers["Content-Disposition"]
    data = await export.json()
    [item] = data["interviews"]
    assert {e["type"] for e in item["events"]} >= {"transcript_final", "question_answered"}
    assert item["recordings"][0]["id"] == rec.id
    media = await api.get(f"/api/my/{token}/recordings/{rec.id}")
    assert media.status == 200 and await media.read() == plain
    assert b"ftyp" not in (folder / "segment-001.cnd").read_bytes()[:4096]
    # Someone else's recording is not reachable with this link.
    other = await person(api, "Other Person", "other@example.org")
    job = await scored_job(api)
    other_iv = await interview_for(api, job["id"], other)
    other_token = other_iv["rights_url"].split("/my/")[1]
    assert (await api.get(f"/api/my/{other_token}/recordings/{rec.id}")).status == 404


async def test_withdrawing_ai_consent_removes_scores_and_people_review_without_them(
    api: Client,
) -> None:
    iv, _cid, token = await finished(api)
    before = await (await api.get(f"/api/interviews/{iv['id']}/report.json")).json()
    assert before["ai_scores"] is True and before["report"]["score"]["total"] is not None
    assert len(await (await api.get(f"/api/interviews/{iv['id']}/scores")).json()) == 1

    resp = await api.post(f"/api/my/{token}/withdraw-ai")
    assert resp.status == 200 and (await resp.json())["interviews"] == 1

    after = await (await api.get(f"/api/interviews/{iv['id']}/report.json")).json()
    assert after["report"] is None and after["ai_scores"] is False
    assert after["status"]["status"] == "awaiting_review"
    assert [c["competency_id"] for c in after["competencies"]]
    assert await (await api.get(f"/api/interviews/{iv['id']}/scores")).json() == []
    refused = await api.get(f"/api/interviews/{iv['id']}/score")
    assert refused.status == 409 and (await refused.json())["error"] == "no_ai_consent"
    events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
    assert not any(e["type"].startswith("transcript") for e in events)
    assert events[-1]["type"] == "consent_recorded" and events[-1]["ai_analysis"] is False
    pdf = await api.get(f"/api/interviews/{iv['id']}/report.pdf")
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF")
    # A person still rates and decides.
    rated = await api.post(
        f"/api/interviews/{iv['id']}/ratings",
        json={"competency_id": after["competencies"][0]["competency_id"], "score": 3},
    )
    assert rated.status == 201
    held = await (await api.get(f"/api/my/{token}")).json()
    assert held["ai_analysis"] is False and held["interviews"][0]["ai_scores"] == []
    assert held["interviews"][0]["transcript"] == []


async def test_a_deletion_request_is_carried_out_after_the_delay(
    api: Client, clock: ScriptedClock
) -> None:
    svc = services_of(api)
    _iv, cid, token = await finished(api)
    resp = await api.post(f"/api/my/{token}/erasure")
    assert resp.status == 202
    body = await resp.json()
    assert body["status"] == "pending" and body["legal_hold"] is False
    assert (await (await api.post(f"/api/my/{token}/erasure")).json())["due_at"] == body["due_at"]
    await purge_expired(svc, clock())
    assert (await api.get(f"/api/candidates/{cid}")).status == 200, "not before the delay"
    clock.advance(timedelta(days=svc.settings.erasure_delay_days).total_seconds() + 60)
    await purge_expired(svc, clock())
    await sign_in(api)  # a month later the admin's session has long expired
    assert (await api.get(f"/api/candidates/{cid}")).status == 404
    gone = await api.get(f"/api/my/{token}")
    assert gone.status == 410 and (await gone.json())["error"] == "subject_erased"
    async with svc.sessions() as session:
        tomb = await session.get(CandidateTombstone, cid)
    assert tomb is not None and tomb.reason == "candidate_request"


async def test_an_admin_confirms_a_deletion_request_at_once(api: Client) -> None:
    _iv, cid, token = await finished(api)
    assert (await api.post(f"/api/my/{token}/erasure")).status == 202
    await api.post(
        "/api/users",
        json={"email": "rec@example.com", "password": "recruiter password 1", "role": "recruiter"},
    )
    rec = await sign_in(api, "rec@example.com", "recruiter password 1")
    await sign_in(api)
    as_rec = {"Authorization": f"Bearer {rec}"}
    assert (await api.get("/api/erasure-requests", headers=as_rec)).status == 403
    [req] = await (await api.get("/api/erasure-requests")).json()
    assert req["subject_id"] == cid and req["status"] == "pending"
    assert req["candidate_name"] == NAME  # decrypted for the admin
    confirm = f"/api/erasure-requests/{req['id']}/confirm"
    assert (await api.post(confirm, headers=as_rec)).status == 403
    done = await api.post(confirm)
    assert done.status == 200 and (await done.json())["erased"] is True
    assert (await api.get(f"/api/candidates/{cid}")).status == 404
    [req] = await (await api.get("/api/erasure-requests")).json()
    assert req["status"] == "done"
