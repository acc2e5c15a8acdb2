"""The ATS assessment-partner flow: list_tests, send_test (the invitation through the workflow
outbox to a real local SMTP server), an aiortc candidate on the emailed link, test_status."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from icalendar import Calendar
from sqlalchemy import func, select

from server.app import create_app
from server.services import SERVICES
from server.storage.models import Application, Candidate, Interview
from server.workflow.service import WORKFLOW
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.mail import Inbox, mail_settings
from tests.server.helpers import ADMIN_EMAIL, AppClient, consent, make_settings, sign_in

PERSON = {"first_name": "Wei", "last_name": "Zhang", "email": "wei@example.com"}
ORDER: dict[str, Any] = {
    "partner_test_id": "",
    "candidate": PERSON,
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


async def applications(admin: AppClient) -> list[Application]:
    """Every application in every job's pipeline."""
    async with admin.app[SERVICES].sessions() as session:
        return list((await session.scalars(select(Application))).all())


async def status(admin: AppClient, key: str, order: str) -> dict[str, Any]:
    """test_status of ``order``."""
    resp = await admin.get(
        f"/api/partner/test_status?partner_interview_id={order}", headers=basic(key)
    )
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


@pytest.fixture
async def mailing_admin(tmp_path: Path, smtp: tuple[Inbox, int]) -> AsyncIterator[AppClient]:
    """A signed-in admin on an app that sends its email to the local SMTP server."""
    settings = make_settings(
        tmp_path,
        **mail_settings(smtp[1]),
        workflow_poll_seconds=3600,
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        await sign_in(client)
        yield client


def mails(inbox: Inbox, subject: str) -> list[EmailMessage]:
    """The messages received whose subject starts with ``subject``."""
    out = [inbox.message(i) for i in range(len(inbox.envelopes))]
    return [m for m in out if str(m["Subject"]).startswith(subject)]


def invite_link(msg: EmailMessage) -> str:
    """The interview link in the email's text, checked against its calendar entry."""
    body = msg.get_body(("plain",))
    assert body is not None
    links = re.findall(r"https?://\S+/i/[\w.-]+", body.get_content())
    assert len(links) == 1, links
    [cal] = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(cal.get_content())
    assert calendar["method"] == "REQUEST"
    assert str(calendar.walk("VEVENT")[0]["url"]) == links[0]
    return str(links[0])


async def test_an_ats_orders_an_interview_and_reads_the_result(
    mailing_admin: AppClient, smtp: tuple[Inbox, int]
) -> None:
    admin, inbox = mailing_admin, smtp[0]
    job, key = await setup(admin, ["interviews:write", "results:read"])
    narrow = (
        await (
            await admin.post("/api/keys", json={"name": "n", "scopes": ["interviews:write"]})
        ).json()
    )["key"]
    admin.session.cookie_jar.clear()
    workflow = admin.app[WORKFLOW]

    tests = await (await admin.get("/api/partner/list_tests", headers=basic(key))).json()
    assert [t["partner_test_id"] for t in tests] == [job]

    sent = await admin.post(
        "/api/partner/send_test", json={**ORDER, "partner_test_id": job}, headers=basic(key)
    )
    assert sent.status == 201, await sent.text()
    order = await sent.json()
    assert order["created"] and "/i/" in order["invite_url"]
    await workflow.tick()  # the outbox is drained (the order also woke the background pass)
    [invitation] = mails(inbox, "Your interview for Engineer")
    assert str(invitation["To"]) == "wei@example.com"
    link = invite_link(invitation)

    again = await admin.post(
        "/api/partner/send_test", json={**ORDER, "partner_test_id": job}, headers=basic(key)
    )
    assert again.status == 200
    assert (await again.json()) == {
        "partner_interview_id": order["partner_interview_id"],
        "invite_url": None,
        "created": False,
    }
    await workflow.tick()
    assert len(inbox.envelopes) == 1, "the same order twice sends one invitation"
    assert await interviews(admin) == 1, "the same order twice creates one interview"
    [app] = await applications(admin)
    assert (app.job_id, app.external_id, app.stage) == (job, "gh-app-1001", "invited")
    assert app.delivered_at is not None, "the outbox recorded the delivery on the card"
    first = await status(admin, key, order["partner_interview_id"])
    assert (first["partner_status"], first["stage"]) == ("sent", "invited")

    # the candidate opens the emailed link and takes the interview with a real WebRTC peer
    token = urlparse(link).path.rsplit("/", 1)[1]
    assert (await admin.get(urlparse(link).path)).status == 200
    await consent(admin, token)
    async with ClientSession() as http:
        cand = CandidateClient(str(admin.make_url("")), token, http)
        await cand.join(video=PatternVideoTrack())
        await cand.send({"type": "finish"})
        await cand.next_message("_closed", timeout=30)
        await cand.leave()
    await workflow.tick()  # the workflow follows the event log: done, then scored

    done = await status(admin, key, order["partner_interview_id"])
    assert done["partner_status"] == "complete" and done["completed_at"]
    iid = done["partner_profile_url"].rsplit("/", 1)[1]
    assert iid == app.interview_id
    assert done["partner_profile_url"] == str(admin.make_url(f"/report/{iid}"))
    assert done["competency_scores"] is not None and "code_quality" in done["competency_scores"]
    # nothing was said, so the scorer recommends nothing and the card stays at interview_done
    assert (done["stage"], done["recommendation"]) == ("interview_done", "insufficient_evidence")
    assert done["decision"] is None
    # without results:read: no scores
    limited = await status(admin, narrow, order["partner_interview_id"])
    assert limited["partner_status"] == "complete" and limited["competency_scores"] is None
    assert limited["partner_score"] is None and limited["recommendation"] is None
    # the candidate got the invitation once and the completion note; the job's owner a notice
    assert [(str(m["To"]), str(m["Subject"])) for m in mails(inbox, "")] == [
        ("wei@example.com", "Your interview for Engineer"),
        ("wei@example.com", "Thank you: your interview for Engineer"),
        (ADMIN_EMAIL, "An interview for Engineer finished"),
    ]


async def test_one_person_is_one_candidate_with_an_application_per_job(
    mailing_admin: AppClient, smtp: tuple[Inbox, int]
) -> None:
    admin, inbox = mailing_admin, smtp[0]
    job, _ = await setup(admin, ["interviews:write"])
    other, third = [
        await (
            await admin.post("/api/jobs", json={"title": title, "template": "software_engineer"})
        ).json()
        for title in ("Tester", "Analyst")
    ]
    jobs = [job, other["id"], third["id"]]
    key = (
        await (
            await admin.post(
                "/api/keys", json={"name": "ats", "scopes": ["interviews:write"], "job_ids": jobs}
            )
        ).json()
    )["key"]
    # the board already has this person on the second job (imported, not yet invited) ...
    added = await admin.post(
        f"/api/jobs/{other['id']}/candidates",
        json={"name": "Zhang Wei", "email": "wei@example.com", "phone": "13912345678"},
    )
    assert added.status == 201, await added.text()
    # ... and on the third, invited from the board already
    board = await (
        await admin.post(
            f"/api/jobs/{third['id']}/candidates",
            json={"name": "Zhang Wei", "email": "wei@example.com"},
        )
    ).json()
    invited = await admin.post(
        f"/api/jobs/{third['id']}/invitations", json={"candidate_ids": [board["id"]]}
    )
    assert (await invited.json())["results"][0]["status"] == "invited"
    await admin.app[WORKFLOW].tick()
    assert len(mails(inbox, "Your interview for Analyst")) == 1
    admin.session.cookie_jar.clear()

    first = await admin.post(
        "/api/partner/send_test", json={**ORDER, "partner_test_id": job}, headers=basic(key)
    )
    assert first.status == 201, await first.text()
    shouting = {
        **PERSON,
        "email": "WEI@Example.com",
        "phone_number": "+86 139 1234 5678",
    }
    second = await admin.post(
        "/api/partner/send_test",
        json={
            "partner_test_id": other["id"],
            "candidate": shouting,
            "application_id": "gh-app-2002",
        },
        headers=basic(key),
    )
    assert second.status == 201, await second.text()
    apps = await applications(admin)
    assert len({a.candidate_id for a in apps}) == 1, "one person, one candidate"
    assert sorted((a.job_id, a.external_id, a.stage) for a in apps) == sorted(
        [
            (job, "gh-app-1001", "invited"),
            (other["id"], "gh-app-2002", "invited"),
            (third["id"], "", "invited"),
        ]
    )
    # the same person, same job, another application id: refused, pointing at the first order
    twice = await admin.post(
        "/api/partner/send_test",
        json={**ORDER, "partner_test_id": job, "application_id": "gh-app-3003"},
        headers=basic(key),
    )
    assert twice.status == 409
    body = await twice.json()
    assert body["code"] == "already_ordered"
    assert body["details"]["partner_interview_id"] == (await first.json())["partner_interview_id"]
    bad_phone = await admin.post(
        "/api/partner/send_test",
        json={
            **ORDER,
            "partner_test_id": job,
            "application_id": "gh-app-4004",
            "candidate": {**PERSON, "phone_number": "12"},
        },
        headers=basic(key),
    )
    assert bad_phone.status == 400
    assert [f["field"] for f in (await bad_phone.json())["details"]["fields"]] == [
        "candidate.phone_number"
    ]
    # ordered where the board had invited: the live link comes back, no second email
    third_order = await admin.post(
        "/api/partner/send_test",
        json={**ORDER, "partner_test_id": third["id"], "application_id": "gh-app-5005"},
        headers=basic(key),
    )
    assert third_order.status == 201, await third_order.text()
    link = (await third_order.json())["invite_url"]
    assert (await admin.get(urlparse(link).path)).status == 200
    await admin.app[WORKFLOW].tick()
    assert sorted(str(m["Subject"]) for m in mails(inbox, "Your interview for")) == [
        "Your interview for Analyst",
        "Your interview for Engineer",
        "Your interview for Tester",
    ]
    assert {str(m["To"]) for m in mails(inbox, "")} == {"wei@example.com"}
    assert await interviews(admin) == 3
    apps = await applications(admin)
    assert len({a.candidate_id for a in apps}) == 1
    assert next(a.external_id for a in apps if a.job_id == third["id"]) == "gh-app-5005"


async def test_a_retrying_ats_sending_one_order_twice_at_once_gets_one_interview(
    mailing_admin: AppClient, smtp: tuple[Inbox, int]
) -> None:
    admin, inbox = mailing_admin, smtp[0]
    job, key = await setup(admin, ["interviews:write"])
    admin.session.cookie_jar.clear()
    order = {**ORDER, "partner_test_id": job}
    answers = await asyncio.gather(
        *(admin.post("/api/partner/send_test", json=order, headers=basic(key)) for _ in range(3))
    )
    assert sorted(a.status for a in answers) == [200, 200, 201]
    ids = {(await a.json())["partner_interview_id"] for a in answers}
    assert len(ids) == 1
    assert await interviews(admin) == 1 and len(await applications(admin)) == 1
    async with admin.app[SERVICES].sessions() as session:
        people = await session.scalar(select(func.count()).select_from(Candidate))
    assert people == 1, "the losing orders kept nothing"
    await admin.app[WORKFLOW].tick()
    assert len(inbox.envelopes) == 1


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
    # a person HR imported with the HRMS's own id and invited from the board
    card = await (
        await admin.post(
            f"/api/jobs/{job}/candidates",
            json={"name": "Li Lei", "email": "li@example.com", "external_id": "hrms-9"},
        )
    ).json()
    await admin.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [card["id"]]})
    admin.session.cookie_jar.clear()
    bearer = {"Authorization": f"Bearer {key}"}

    rows = await (await admin.get(f"/api/jobs/{job}/results.json", headers=bearer)).json()
    assert [(r["external_id"], r["stage"], r["pipeline_stage"]) for r in rows] == [
        ("gh-app-1001", "finished", "invited"),  # finished by hand here: the log never said so
        ("hrms-9", "scheduled", "invited"),
    ]
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
