"""The REST API, invites, consent and access control, through the real app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.services import SERVICES
from tests.server.helpers import AppClient, consent, new_interview, sign_in


async def test_sign_in_rejects_a_wrong_password(client: AppClient) -> None:
    resp = await client.post("/api/login", json={"email": "admin@example.com", "password": "nope"})
    assert resp.status == 401
    assert (await resp.json())["error"] == "bad_credentials"


async def test_api_refuses_anyone_not_signed_in(client: AppClient) -> None:
    assert (await client.get("/api/interviews")).status == 401
    assert (await client.post("/api/jobs", json={"title": "x"})).status == 401


async def test_admin_creates_an_interview_and_gets_an_invite_link(admin: AppClient) -> None:
    iv = await new_interview(admin)
    assert iv["invite_url"].endswith(iv["invite_token"])
    page = await admin.get(f"/i/{iv['invite_token']}")
    assert page.status == 200
    assert "candidate.js" in await page.text()


async def test_bad_json_gets_a_clear_400(admin: AppClient) -> None:
    resp = await admin.post(
        "/api/jobs", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert "not valid JSON" in (await resp.json())["message"]
    resp = await admin.post("/api/jobs", json={"title": "x", "language": "fr"})
    assert resp.status == 400
    assert "language" in (await resp.json())["message"]


async def test_forged_invite_gets_401_and_creates_nothing(admin: AppClient) -> None:
    iv = await new_interview(admin)
    forged = iv["invite_token"][:-3] + ("AAA" if not iv["invite_token"].endswith("AAA") else "BBB")
    page = await admin.get(f"/i/{forged}")
    assert page.status == 401
    assert "not valid" in await page.text()
    api = await admin.post(
        f"/api/join/{forged}/consent",
        json={"recording": True, "ai_analysis": True, "notice_version": "x"},
    )
    assert api.status == 401
    events = await (await admin.get(f"/api/interviews/{iv['id']}/events")).json()
    assert events == []


async def test_expired_invite_gets_410(admin: AppClient) -> None:
    iv = await new_interview(admin)
    svc = admin.app[SERVICES]
    past = datetime.now(UTC) - timedelta(days=10)
    from server.storage.models import Invite

    async with svc.sessions() as session:
        from sqlalchemy import select

        invite = await session.scalar(select(Invite).where(Invite.interview_id == iv["id"]))
    assert invite is not None
    token = svc.invites.issue(invite.id, iv["id"], timedelta(hours=1), past)
    resp = await admin.get(f"/i/{token}")
    assert resp.status == 410
    assert "expired" in await resp.text()


async def test_reissued_invite_revokes_the_old_link(admin: AppClient) -> None:
    iv = await new_interview(admin)
    new = await (await admin.post(f"/api/interviews/{iv['id']}/invite")).json()
    assert (await admin.get(f"/i/{iv['invite_token']}")).status == 410
    assert (await admin.get(f"/i/{new['invite_token']}")).status == 200


async def test_finished_interview_link_gets_410(admin: AppClient) -> None:
    iv = await new_interview(admin)
    assert (await admin.post(f"/api/interviews/{iv['id']}/end")).status == 200
    resp = await admin.get(f"/api/join/{iv['invite_token']}")
    assert resp.status == 410
    assert (await resp.json())["error"] == "interview_finished"


async def test_consent_is_stored_with_notice_version_and_logged(admin: AppClient) -> None:
    iv = await new_interview(admin)
    token = iv["invite_token"]
    notice = await (await admin.get(f"/api/join/{token}")).json()
    assert notice["retention_days"] > 0 and notice["facial_analysis"] == "off"
    refused = await admin.post(
        f"/api/join/{token}/consent",
        json={"recording": False, "ai_analysis": True, "notice_version": notice["notice_version"]},
    )
    assert refused.status == 400
    assert (await refused.json())["error"] == "recording_required"
    await consent(admin, token, ai=False)
    events = await (await admin.get(f"/api/interviews/{iv['id']}/events")).json()
    assert [e["type"] for e in events] == ["consent_recorded"]
    assert (
        events[0]["notice_version"] == notice["notice_version"]
        and events[0]["ai_analysis"] is False
    )
    assert (await (await admin.get(f"/api/join/{token}")).json())["consented"] is True


async def test_recruiter_without_access_gets_403_until_shared(admin: AppClient) -> None:
    iv = await new_interview(admin)
    resp = await admin.post(
        "/api/users",
        json={"email": "rec@example.com", "password": "a long password 1", "role": "recruiter"},
    )
    assert resp.status == 201
    rec_id = (await resp.json())["id"]
    admin.session.cookie_jar.clear()
    await sign_in(admin, "rec@example.com", "a long password 1")
    for path in (
        f"/observe/{iv['id']}",
        f"/review/{iv['id']}",
        f"/api/interviews/{iv['id']}/recordings",
        f"/api/interviews/{iv['id']}/events",
    ):
        assert (await admin.get(path)).status == 403, path
    assert await (await admin.get("/api/interviews")).json() == []
    admin.session.cookie_jar.clear()
    await sign_in(admin)
    assert (
        await admin.post(f"/api/interviews/{iv['id']}/access", json={"user_id": rec_id})
    ).status == 200
    admin.session.cookie_jar.clear()
    await sign_in(admin, "rec@example.com", "a long password 1")
    assert (await admin.get(f"/observe/{iv['id']}")).status == 200
    assert len(await (await admin.get("/api/interviews")).json()) == 1


async def test_pages_refuse_anyone_not_signed_in(admin: AppClient) -> None:
    iv = await new_interview(admin)
    admin.session.cookie_jar.clear()
    for path in (f"/observe/{iv['id']}", f"/review/{iv['id']}"):
        resp = await admin.get(path)
        assert resp.status == 401
        assert "/login" in await resp.text()


async def test_delete_erases_the_interview(admin: AppClient) -> None:
    iv = await new_interview(admin)
    await consent(admin, iv["invite_token"])
    assert (await admin.delete(f"/api/interviews/{iv['id']}")).status == 200
    assert (await admin.get(f"/api/interviews/{iv['id']}")).status == 404
    assert (await admin.get(f"/i/{iv['invite_token']}")).status == 401


async def test_metrics_are_for_admins(admin: AppClient) -> None:
    data = await (await admin.get("/api/metrics")).json()
    assert data["live_rooms"] == 0 and data["transcription"] is None
    admin.session.cookie_jar.clear()
    assert (await admin.get("/api/metrics")).status == 401


async def test_a_job_asking_for_more_questions_than_its_bank_is_warned(admin: AppClient) -> None:
    resp = await admin.post(
        "/api/jobs",
        json={
            "title": "PM",
            "template": "product_manager",
            "plan_settings": {"question_count": 20},
        },
    )
    assert resp.status == 201
    [warning] = (await resp.json())["warnings"]
    assert "Asked for 20" in warning
    ok = await (
        await admin.post("/api/jobs", json={"title": "PM", "template": "product_manager"})
    ).json()
    assert ok["warnings"] == []
