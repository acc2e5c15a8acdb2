"""The ATS assessment-partner flow: list_tests, send_test, an aiortc candidate, test_status."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import ClientSession
from sqlalchemy import func, select

from server.services import SERVICES
from server.storage.models import Interview
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import AppClient, consent

ORDER = {
    "partner_test_id": "",
    "candidate": {"first_name": "Wei", "last_name": "Zhang", "email": "wei@example.com"},
    "application_id": "gh-app-1001",
    "url": "https://ats.example.com/callback",  # Greenhouse sends it; ignored
}


def basic(key: str) -> dict[str, str]:
    """HTTP Basic with the key as user name and no password, as ATSs send it."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


async def setup(admin: AppClient, scopes: list[str]) -> tuple[str, str]:
    """A job with a competency model and a key restricted to it: (job id, key)."""
    job = await (
        await admin.post("/api/jobs", json={"title": "Engineer", "template": "software_engineer"})
    ).json()
    await admin.post("/api/jobs", json={"title": "Observer-led"})  # no model: not a test
    made = await (
        await admin.post(
            "/api/keys", json={"name": "Greenhouse", "scopes": scopes, "job_ids": [job["id"]]}
        )
    ).json()
    return str(job["id"]), str(made["key"])


async def interviews(admin: AppClient) -> int:
    """How many interviews exist."""
    async with admin.app[SERVICES].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Interview)) or 0)


async def status(admin: AppClient, key: str, order: str) -> dict[str, Any]:
    """test_status of ``order``."""
    resp = await admin.get(
        f"/api/partner/test_status?partner_interview_id={order}", headers=basic(key)
    )
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_an_ats_orders_an_interview_and_reads_the_result(admin: AppClient) -> None:
    job, key = await setup(admin, ["interviews:write", "results:read"])
    narrow = (
        await (
            await admin.post("/api/keys", json={"name": "n", "scopes": ["interviews:write"]})
        ).json()
    )["key"]
    admin.session.cookie_jar.clear()

    tests = await (await admin.get("/api/partner/list_tests", headers=basic(key))).json()
    assert [t["partner_test_id"] for t in tests] == [job]

    sent = await admin.post(
        "/api/partner/send_test", json={**ORDER, "partner_test_id": job}, headers=basic(key)
    )
    assert sent.status == 201, await sent.text()
    order = await sent.json()
    assert order["created"] and "/i/" in order["invite_url"]
    again = await admin.post(
        "/api/partner/send_test", json={**ORDER, "partner_test_id": job}, headers=basic(key)
    )
    assert again.status == 200
    assert (await again.json())["partner_interview_id"] == order["partner_interview_id"]
    assert await interviews(admin) == 1, "the same order twice creates one interview"
    assert (await status(admin, key, order["partner_interview_id"]))["partner_status"] == "sent"

    # the candidate takes the interview with a real WebRTC peer and finishes it
    token = order["invite_url"].rsplit("/", 1)[1]
    await consent(admin, token)
    async with ClientSession() as http:
        cand = CandidateClient(str(admin.make_url("")), token, http)
        await cand.join(video=PatternVideoTrack())
        await cand.send({"type": "finish"})
        await cand.next_message("_closed", timeout=30)
        await cand.leave()

    done = await status(admin, key, order["partner_interview_id"])
    assert done["partner_status"] == "complete" and done["completed_at"]
    iid = done["partner_profile_url"].rsplit("/", 1)[1]
    assert done["partner_profile_url"].endswith(f"/report/{iid}")
    assert done["competency_scores"] is not None and "code_quality" in done["competency_scores"]
    assert done["decision"] is None
    # without results:read: no scores
    limited = await status(admin, narrow, order["partner_interview_id"])
    assert limited["partner_status"] == "complete" and limited["competency_scores"] is None
    assert limited["partner_score"] is None


async def test_malformed_orders_get_field_level_errors_and_bad_keys_401(admin: AppClient) -> None:
    job, key = await setup(admin, ["interviews:write"])
    admin.session.cookie_jar.clear()
    bad = {"partner_test_id": job, "candidate": {"first_name": "", "email": "not-an-email"}}
    resp = await admin.post("/api/partner/send_test", json=bad, headers=basic(key))
    assert resp.status == 400
    fields = {f["field"] for f in (await resp.json())["details"]["fields"]}
    assert fields == {"candidate.first_name", "candidate.email", "application_id"}
    wrong = await admin.get("/api/partner/list_tests", headers=basic(key + "x"))
    assert wrong.status == 401
    # Basic is accepted only on the partner routes
    assert (await admin.get("/api/jobs", headers=basic(key))).status == 401
    missing = await admin.get("/api/partner/test_status", headers=basic(key))
    assert missing.status == 400
    unknown = await admin.get("/api/partner/test_status?partner_interview_id=x", headers=basic(key))
    assert unknown.status == 404


async def test_a_jobs_results_export_as_csv_and_json_within_the_keys_scopes(
    admin: AppClient,
) -> None:
    job, key = await setup(admin, ["interviews:write", "results:read"])
    writer = (
        await (
            await admin.post("/api/keys", json={"name": "w", "scopes": ["interviews:write"]})
        ).json()
    )["key"]
    order = await (
        await admin.post(
            "/api/partner/send_test", json={**ORDER, "partner_test_id": job}, headers=basic(key)
        )
    ).json()
    iid = (await status(admin, key, order["partner_interview_id"]))["partner_profile_url"].rsplit(
        "/", 1
    )[1]
    svc = admin.app[SERVICES]
    async with svc.sessions() as session, session.begin():
        row = await session.get(Interview, iid)
        assert row is not None
        row.status = "finished"
    assert (await admin.get(f"/api/interviews/{iid}/score")).status == 200
    await admin.post(f"/api/interviews/{iid}/decision", json={"decision": "advance"})
    admin.session.cookie_jar.clear()
    bearer = {"Authorization": f"Bearer {key}"}

    rows = await (await admin.get(f"/api/jobs/{job}/results.json", headers=bearer)).json()
    assert len(rows) == 1
    assert rows[0]["external_id"] == "gh-app-1001" and rows[0]["stage"] == "finished"
    assert rows[0]["decision"] == "advance" and "code_quality" in rows[0]["scores"]
    assert rows[0]["candidate_name"] is None, "no candidates:read, no personal data"
    csv_resp = await admin.get(f"/api/jobs/{job}/results.csv", headers=bearer)
    text = (await csv_resp.read()).decode("utf-8-sig")
    header, line = text.splitlines()[:2]
    assert "code_quality" in header and "candidate_name" not in header
    assert line.startswith("gh-app-1001,") and ",advance," in line
    refused = await admin.get(
        f"/api/jobs/{job}/results.csv", headers={"Authorization": f"Bearer {writer}"}
    )
    assert refused.status == 403
