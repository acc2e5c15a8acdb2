"""The workflow through the real app, a real SMTP server (aiosmtpd) and a fake WeCom server.

The fake WeCom speaks ``gettoken``, ``message/send`` and ``webhook/send`` and checks payloads
and the token. The workflow's background pass is run with ``tick()`` so nothing waits on time.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select, text

from analysis.events import InterviewEnded, MediaStarted
from server.errors import BadInput
from server.services import SERVICES
from server.storage.models import Candidate, OutboxRow
from server.workflow.service import WORKFLOW
from tests.mail import Inbox, free_port, mail_settings
from tests.server.helpers import ADMIN_EMAIL, sign_in
from tests.server.roles_world import Client
from tests.server.test_interviewer_channels import ScriptedClock, make_client

CORP, SECRET, AGENT = "corp-1", "secret-1", 1000002


class FakeWeCom:
    """A local WeCom: issues tokens, checks them and records every message it accepts."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.app_messages: list[dict[str, Any]] = []
        self.robot_messages: list[dict[str, Any]] = []
        self.bad: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        app.router.add_post("/cgi-bin/message/send", self.send)
        app.router.add_post("/cgi-bin/webhook/send", self.webhook)
        return app

    async def gettoken(self, request: web.Request) -> web.Response:
        if request.query.get("corpid") != CORP or request.query.get("corpsecret") != SECRET:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.tokens_issued += 1
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": f"tok{self.tokens_issued}",
                "expires_in": 7200,
            }
        )

    async def send(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != f"tok{self.tokens_issued}":
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        body = await request.json()
        if body.get("agentid") != AGENT or body.get("msgtype") != "markdown":
            self.bad.append(str(body))
        self.app_messages.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def webhook(self, request: web.Request) -> web.Response:
        if request.query.get("key") != "robot-key":
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        self.robot_messages.append(await request.json())
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def wecom() -> AsyncIterator[tuple[FakeWeCom, str]]:
    fake = FakeWeCom()
    server = TestServer(fake.app())
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def clock() -> ScriptedClock:
    # Starts at the real time: the candidate's pages check invite links against the wall clock.
    scripted = ScriptedClock()
    scripted.now = datetime.now(UTC).replace(microsecond=0)
    return scripted


@pytest.fixture
async def api(
    tmp_path: Path, clock: ScriptedClock, smtp: tuple[Inbox, int], wecom: tuple[FakeWeCom, str]
) -> AsyncIterator[Client]:
    client = await make_client(
        tmp_path,
        clock,
        **mail_settings(smtp[1]),
        workflow_poll_seconds=3600,
        outbox_backoff_seconds=30,
        wecom_api_base=wecom[1],
        wecom_corp_id=CORP,
        wecom_corp_secret=SECRET,
        wecom_agent_id=AGENT,
        wecom_users={ADMIN_EMAIL: "hr_admin"},
    )
    yield client
    await client.close()


def parse(envelope: Any) -> EmailMessage:
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def calendar_of(msg: EmailMessage) -> Any:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return Calendar.from_ical(parts[0].get_content())


async def tick(api: Client) -> None:
    await api.app[WORKFLOW].tick()


async def stop_background_pass(api: Client) -> None:
    """Invitations wake the background pass; tests that act between queueing and sending stop
    it and run the passes themselves."""
    await api.app[WORKFLOW].aclose()


async def new_job(api: Client, template: bool = False) -> str:
    body: dict[str, Any] = {"title": "Backend engineer", "language": "en"}
    if template:
        body["template"] = "software_engineer"
    return str((await (await api.post("/api/jobs", json=body)).json())["id"])


def csv_of(n: int, start: int = 0) -> bytes:
    lines = ["name,email,phone,tags"] + [
        f"Person {i},p{i}@example.com,+86139{i:08d},campus" for i in range(start, start + n)
    ]
    return "\n".join(lines).encode()


async def import_csv(api: Client, job: str, data: bytes, query: str = "") -> Any:
    resp = await api.post(
        f"/api/jobs/{job}/candidates/import{query}",
        data=data,
        headers={"Content-Type": "text/csv"},
    )
    return resp.status, await resp.json()


async def board(api: Client, job: str, query: str = "") -> dict[str, Any]:
    resp = await api.get(f"/api/jobs/{job}/pipeline{query}")
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def invite_screened(api: Client, job: str) -> list[dict[str, Any]]:
    """Invite every candidate in the screened column; one result per invitation."""
    cards = (await board(api, job))["stages"]["screened"]
    resp = await api.post(
        f"/api/jobs/{job}/invitations", json={"candidate_ids": [c["id"] for c in cards]}
    )
    return list((await resp.json())["results"])


async def test_fifty_imported_candidates_each_get_one_email_with_a_working_calendar_link(
    api: Client, smtp: tuple[Inbox, int]
) -> None:
    inbox = smtp[0]
    job = await new_job(api)
    status, preview = await import_csv(api, job, csv_of(50), "?dry_run=1")
    assert status == 200 and preview["valid"] == 50 and preview["imported"] == 0
    assert (await board(api, job))["counts"]["screened"] == 0
    status, done = await import_csv(api, job, csv_of(50))
    assert status == 200 and done == {"imported": 50, "valid": 50, "errors": [], "dry_run": False}
    cards = (await board(api, job))["stages"]["screened"]
    assert len(cards) == 50

    resp = await api.post(
        f"/api/jobs/{job}/invitations", json={"candidate_ids": [c["candidate_id"] for c in cards]}
    )
    results = (await resp.json())["results"]
    assert [r["status"] for r in results] == ["invited"] * 50
    await tick(api)
    assert len(inbox.envelopes) == 50
    uids = set()
    for env in inbox.envelopes:
        msg = parse(env)
        types = {p.get_content_type() for p in msg.walk()}
        assert {"text/plain", "text/html", "text/calendar"} <= types
        cal = calendar_of(msg)
        event = cal.walk("VEVENT")[0]
        assert cal["method"] == "REQUEST" and int(event["sequence"]) == 0
        uids.add(str(event["uid"]))
        url = urlparse(str(event["url"]))
        page = await api.get(url.path)
        assert page.status == 200 and "candidate" in await page.text()
    assert len(uids) == 50
    counts = (await board(api, job))["counts"]
    assert counts["invited"] == 50 and counts["screened"] == 0
    totals = await (await api.get(f"/api/jobs/{job}/tracking")).json()
    assert totals["sent"] == 50 and totals["delivered"] == 50 and totals["opened"] == 50

    # Inviting again sends nothing and keeps the one live link.
    again = await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [cards[0]["id"]]})
    assert (await again.json())["results"][0]["status"] == "already_invited"
    await tick(api)
    assert len(inbox.envelopes) == 50


async def test_reinvite_cancels_the_old_entry_and_the_old_link_stops_at_once(
    api: Client, smtp: tuple[Inbox, int]
) -> None:
    inbox = smtp[0]
    job = await new_job(api)
    await import_csv(api, job, csv_of(1))
    cid = (await board(api, job))["stages"]["screened"][0]["candidate_id"]
    first = (
        await (await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [cid]})).json()
    )["results"][0]
    await tick(api)
    old_uid = str(calendar_of(parse(inbox.envelopes[0])).walk("VEVENT")[0]["uid"])
    second = (
        await (
            await api.post(
                f"/api/jobs/{job}/invitations", json={"candidate_ids": [cid], "reinvite": True}
            )
        ).json()
    )["results"][0]
    assert second["status"] == "reinvited" and second["invite_url"] != first["invite_url"]
    assert (await api.get(urlparse(first["invite_url"]).path)).status == 410
    assert (await api.get(urlparse(second["invite_url"]).path)).status == 200
    await tick(api)
    assert len(inbox.envelopes) == 3
    cancel = calendar_of(parse(inbox.envelopes[1]))
    event = cancel.walk("VEVENT")[0]
    assert cancel["method"] == "CANCEL" and str(event["uid"]) == old_uid
    assert int(event["sequence"]) == 1
    fresh = calendar_of(parse(inbox.envelopes[2]))
    assert fresh["method"] == "REQUEST" and str(fresh.walk("VEVENT")[0]["uid"]) != old_uid
    detail = await (await api.get(f"/api/jobs/{job}/applications/{cid}")).json()
    assert [(t["from"], t["to"]) for t in detail["timeline"]] == [
        (None, "screened"),
        ("screened", "invited"),
        ("invited", "invited"),
    ]
    assert [m["template"] for m in detail["messages"]] == ["invite", "cancel", "invite"]
    assert all(m["status"] == "sent" for m in detail["messages"])


async def test_reminders_go_only_to_non_starters_and_completion_reaches_candidate_and_hr(
    api: Client, smtp: tuple[Inbox, int], wecom: tuple[FakeWeCom, str], clock: ScriptedClock
) -> None:
    inbox, fake = smtp[0], wecom[0]
    job = await new_job(api, template=True)
    await import_csv(api, job, csv_of(3))
    results = await invite_screened(api, job)
    await tick(api)
    assert len(inbox.envelopes) == 3
    svc = api.app[SERVICES]
    starter = results[0]["interview_id"]
    await svc.events.append(MediaStarted(interview_id=starter, t=1.0, kind="audio", segment=0))
    await tick(api)
    assert (await board(api, job))["counts"]["interview_started"] == 1

    clock.advance(timedelta(hours=72 - 23).total_seconds())
    await sign_in(api)  # the HR session expired meanwhile
    await tick(api)
    reminded = [parse(e) for e in inbox.envelopes[3:]]
    assert sorted(str(m["To"]) for m in reminded) == ["p1@example.com", "p2@example.com"]
    assert all("Reminder" in str(m["Subject"]) for m in reminded)
    await tick(api)
    assert len(inbox.envelopes) == 5  # reminded once

    await svc.events.append(InterviewEnded(interview_id=starter, t=600.0, reason="finished"))
    await tick(api)
    done = [parse(e) for e in inbox.envelopes[5:]]
    assert [str(m["To"]) for m in done] == ["p0@example.com"]
    body = done[0].get_body(("plain",))
    assert body is not None and "Thank you" in body.get_content()
    assert fake.tokens_issued == 1 and not fake.bad
    [notice] = fake.app_messages
    assert notice["touser"] == "hr_admin"
    content = notice["markdown"]["content"]
    assert f"/review/{starter}" in content and "Person" not in content
    counts = (await board(api, job))["counts"]
    assert counts["interview_started"] == 0
    assert counts["interview_done"] + counts["recommended"] + counts["below_threshold"] == 1

    # the link expires: the two who never started are told, once
    clock.advance(timedelta(hours=24).total_seconds())
    await sign_in(api)
    await tick(api)
    await tick(api)
    expired = [parse(e) for e in inbox.envelopes[6:]]
    assert sorted(str(m["To"]) for m in expired) == ["p1@example.com", "p2@example.com"]
    assert all("expired" in str(m["Subject"]) for m in expired)


async def test_a_bad_file_writes_nothing_and_says_what_is_wrong_per_row(api: Client) -> None:
    job = await new_job(api)
    data = (
        "name,email,phone\n张伟,zw@example.com,13800138000\n李雷,bad-email,13800138001\n"
        "王芳,zw@example.com,13800138002\n"
    ).encode("gbk")
    status, body = await import_csv(api, job, data)
    assert status == 422 and body["imported"] == 0
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (2, "bad_email"),
        (3, "duplicate_email"),
    ]
    assert sum((await board(api, job))["counts"].values()) == 0
    # the same person in a second job is one candidate with two applications
    await import_csv(api, job, csv_of(2))
    other = await new_job(api)
    status, body = await import_csv(api, other, csv_of(3))
    assert status == 200 and body["imported"] == 3
    ids_a = {c["candidate_id"] for c in (await board(api, job))["stages"]["screened"]}
    ids_b = {c["candidate_id"] for c in (await board(api, other))["stages"]["screened"]}
    assert len(ids_a & ids_b) == 2
    status, body = await import_csv(api, other, csv_of(1))
    assert status == 422 and body["errors"][0]["code"] == "duplicate_email"
    # a person added by hand with a national mobile number is found by phone too
    resp = await api.post("/api/candidates", json={"name": "Zhao", "phone": "13900000099"})
    assert resp.status == 201
    third = await new_job(api)
    status, body = await import_csv(
        api, third, b"name,email,phone\nZhao Min,zm@example.com,+86 139 0000 0099\n"
    )
    assert status == 200 and body["imported"] == 1
    [card] = (await board(api, third))["stages"]["screened"]
    assert card["candidate_id"] == (await resp.json())["id"] and card["name"] == "Zhao"
    async with api.app[SERVICES].engine.connect() as conn:
        stored = (await conn.execute(text("SELECT email, phone FROM candidates"))).all()
    assert stored and all("@" not in e and "139" not in p for e, p in stored)


async def test_moves_follow_the_table_and_a_deleted_candidate_is_never_messaged(
    api: Client, smtp: tuple[Inbox, int]
) -> None:
    job = await new_job(api)
    await import_csv(api, job, csv_of(2))
    a, b = [c["candidate_id"] for c in (await board(api, job))["stages"]["screened"]]
    resp = await api.post(f"/api/jobs/{job}/moves", json={"candidate_ids": [a], "stage": "decided"})
    [result] = (await resp.json())["results"]
    assert result["status"] == "error" and result["error"] == "stage_not_allowed"
    svc = api.app[SERVICES]
    await stop_background_pass(api)
    await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [a, b]})
    async with svc.sessions() as session, session.begin():
        cand = await session.get(Candidate, b)
        assert cand is not None
        cand.deleted_at = svc.now()
    await tick(api)
    assert [str(parse(e)["To"]) for e in smtp[0].envelopes] == ["p0@example.com"]
    async with svc.sessions() as session:
        statuses = sorted((await session.scalars(select(OutboxRow.status))).all())
    assert statuses == ["cancelled", "sent"]
    async with svc.engine.connect() as conn:
        sealed = (await conn.execute(text("SELECT recipient FROM outbox"))).scalars().all()
    assert all("@" not in r for r in sealed)  # addresses and bodies are encrypted at rest


async def test_an_smtp_outage_delays_messages_with_backoff_and_loses_none(
    tmp_path: Path, clock: ScriptedClock
) -> None:
    port = free_port()
    api = await make_client(
        tmp_path,
        clock,
        **mail_settings(port, "hr@candor.test"),
        smtp_timeout=2.0,
        workflow_poll_seconds=3600,
        outbox_backoff_seconds=30,
        outbox_max_attempts=3,
    )
    try:
        job = await new_job(api)
        await import_csv(api, job, csv_of(1))
        cid = (await board(api, job))["stages"]["screened"][0]["candidate_id"]
        await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [cid]})
        await tick(api)
        svc = api.app[SERVICES]

        async def row() -> OutboxRow:
            async with svc.sessions() as session:
                found: OutboxRow | None = await session.scalar(select(OutboxRow))
                assert found is not None
                return found

        first = await row()
        assert first.status == "pending" and first.attempts == 1 and first.last_error
        clock.advance(29)
        await tick(api)
        assert (await row()).attempts == 1  # not due yet
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            clock.advance(1)
            await tick(api)
        finally:
            controller.stop()
        assert (await row()).status == "sent" and len(inbox.envelopes) == 1
    finally:
        await api.close()


async def finished_application(api: Client, job: str) -> tuple[str, str]:
    """One imported, invited candidate whose interview has ended: (candidate id, interview id)."""
    await import_csv(api, job, csv_of(1))
    cid = (await board(api, job))["stages"]["screened"][0]["candidate_id"]
    result = (
        await (await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [cid]})).json()
    )["results"][0]
    svc = api.app[SERVICES]
    iid = result["interview_id"]
    await svc.events.append(MediaStarted(interview_id=iid, t=1.0, kind="audio", segment=0))
    await svc.events.append(InterviewEnded(interview_id=iid, t=60.0, reason="finished"))
    from server.storage.models import Interview

    async with svc.sessions() as session, session.begin():
        row = await session.get(Interview, iid)
        assert row is not None
        row.status = "finished"
    await tick(api)
    return cid, iid


async def test_the_human_round_sends_entries_to_candidate_and_panel_and_a_person_decides(
    api: Client, smtp: tuple[Inbox, int]
) -> None:
    inbox = smtp[0]
    job = await new_job(api, template=True)
    cid, iid = await finished_application(api, job)
    before = len(inbox.envelopes)
    user = await (
        await api.post(
            "/api/users",
            json={
                "email": "iv@example.com",
                "password": "a long password 1",
                "role": "interviewer",
            },
        )
    ).json()
    body = {
        "interviewer_ids": [user["id"]],
        "starts_at": "2026-12-01T10:00:00+08:00",
        "minutes": 45,
        "location": "Room 3",
        "timezone": "Asia/Shanghai",
    }
    resp = await api.post(f"/api/jobs/{job}/applications/{cid}/human-interview", json=body)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["sequence"] == 0
    await tick(api)
    sent = {str(parse(e)["To"]): parse(e) for e in inbox.envelopes[before:]}
    assert set(sent) == {"p0@example.com", "iv@example.com"}
    for msg in sent.values():
        event = calendar_of(msg).walk("VEVENT")[0]
        assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
        assert event["dtstart"].dt.hour == 10 and str(event["location"]) == "Room 3"
    panel = sent["iv@example.com"].get_body(("plain",))
    assert panel is not None and f"/review/{iid}" in panel.get_content()
    assert (await board(api, job))["counts"]["human_interview"] == 1

    body["starts_at"] = "2026-12-02T10:00:00+08:00"
    resp = await api.post(f"/api/jobs/{job}/applications/{cid}/human-interview", json=body)
    assert (await resp.json())["sequence"] == 1
    resp = await api.delete(f"/api/jobs/{job}/applications/{cid}/human-interview")
    assert resp.status == 200
    await tick(api)
    last = calendar_of(parse(inbox.envelopes[-1]))
    assert last["method"] == "CANCEL" and int(last.walk("VEVENT")[0]["sequence"]) == 2

    resp = await api.post(f"/api/interviews/{iid}/decision", json={"decision": "advance"})
    assert resp.status == 201, await resp.text()
    assert (await board(api, job))["counts"]["decided"] == 1
    detail = await (await api.get(f"/api/jobs/{job}/applications/{cid}")).json()
    assert detail["timeline"][-1]["to"] == "decided" and detail["timeline"][-1]["actor"] == "person"


async def test_a_chosen_slot_updates_the_same_calendar_entry(
    api: Client, smtp: tuple[Inbox, int]
) -> None:
    inbox = smtp[0]
    job = await new_job(api)
    slot = {"start": "2026-12-03T09:00:00+08:00", "end": "2026-12-03T10:00:00+08:00"}
    resp = await api.put(f"/api/jobs/{job}/settings", json={"slots": [slot]})
    assert resp.status == 200, await resp.text()
    await import_csv(api, job, csv_of(1))
    cid = (await board(api, job))["stages"]["screened"][0]["candidate_id"]
    result = (
        await (await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [cid]})).json()
    )["results"][0]
    token = urlparse(result["invite_url"]).path.rsplit("/", 1)[1]
    offered = await (await api.get(f"/api/join/{token}/slots")).json()
    assert offered == {"slots": [slot], "chosen": None}
    bad = await api.post(f"/api/join/{token}/slot", json={"start": "2026-12-04T09:00:00+08:00"})
    assert bad.status == 400
    ok = await api.post(f"/api/join/{token}/slot", json={"start": slot["start"]})
    assert ok.status == 200 and (await ok.json())["sequence"] == 1
    await tick(api)
    first, second = (calendar_of(parse(e)).walk("VEVENT")[0] for e in inbox.envelopes)
    assert str(first["uid"]) == str(second["uid"])
    assert (int(first["sequence"]), int(second["sequence"])) == (0, 1)
    assert second["dtstart"].dt == datetime.fromisoformat(slot["start"])


async def test_the_group_robot_gets_hr_notices_within_twenty_a_minute(
    tmp_path: Path, clock: ScriptedClock, smtp: tuple[Inbox, int], wecom: tuple[FakeWeCom, str]
) -> None:
    fake = wecom[0]
    api = await make_client(
        tmp_path,
        clock,
        **mail_settings(smtp[1], "hr@candor.test"),
        workflow_poll_seconds=3600,
        wecom_api_base=wecom[1],
        wecom_robot_key="robot-key",
    )
    try:
        job = await new_job(api)
        await import_csv(api, job, csv_of(25))
        results = await invite_screened(api, job)
        svc = api.app[SERVICES]
        for r in results:
            await svc.events.append(
                InterviewEnded(interview_id=r["interview_id"], t=60.0, reason="finished")
            )
        await tick(api)
        assert len(fake.robot_messages) == 20
        first = fake.robot_messages[0]
        assert first["msgtype"] == "markdown" and "/review/" in first["markdown"]["content"]
        assert all("Person" not in m["markdown"]["content"] for m in fake.robot_messages)
        await tick(api)
        assert len(fake.robot_messages) == 20  # the rest wait for the minute to pass
        clock.advance(61)
        await tick(api)
        assert len(fake.robot_messages) == 25
    finally:
        await api.close()


async def test_the_wecom_token_is_cached_until_it_expires(
    api: Client, wecom: tuple[FakeWeCom, str], clock: ScriptedClock
) -> None:
    client = api.app[WORKFLOW].wecom
    await client.send_app_markdown(["hr_admin"], "one")
    await client.send_app_markdown(["hr_admin"], "two")
    assert wecom[0].tokens_issued == 1
    clock.advance(7200)
    await client.send_app_markdown(["hr_admin"], "three")
    assert wecom[0].tokens_issued == 2 and len(wecom[0].app_messages) == 3


async def test_a_restart_loses_no_queued_message(tmp_path: Path, clock: ScriptedClock) -> None:
    import base64
    import os

    keys = {
        "master_key": base64.b64encode(os.urandom(32)).decode(),
        "secret_key": base64.b64encode(os.urandom(32)).decode(),
    }
    port = free_port()
    common: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_from": "hr@candor.test",
        "smtp_starttls": False,
        "smtp_timeout": 2.0,
        "workflow_poll_seconds": 3600,
        **keys,
    }
    first = await make_client(tmp_path, clock, **common)
    try:
        job = await new_job(first)
        await import_csv(first, job, csv_of(3))
        ids = [c["id"] for c in (await board(first, job))["stages"]["screened"]]
        await first.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": ids})
        await tick(first)  # the mail server is down: nothing goes out
    finally:
        await first.close()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.advance(60)
        second = await make_client(tmp_path, clock, **common)
        try:
            await tick(second)
            assert sorted(e.rcpt_tos[0] for e in inbox.envelopes) == [
                "p0@example.com",
                "p1@example.com",
                "p2@example.com",
            ]
        finally:
            await second.close()
    finally:
        controller.stop()


async def test_a_ten_thousand_row_file_is_checked_whole_and_a_bad_row_blocks_it(
    api: Client,
) -> None:
    job = await new_job(api)
    rows = csv_of(10_000).decode().splitlines()
    rows[5000] = "Bad Row,not-an-email,+8613800009999,"
    status, body = await import_csv(api, job, "\n".join(rows).encode(), "?dry_run=1")
    assert status == 200 and body["valid"] == 9_999
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(5000, "bad_email")]
    status, body = await import_csv(api, job, "\n".join(rows).encode())
    assert status == 422 and body["imported"] == 0
    assert sum((await board(api, job))["counts"].values()) == 0


async def test_an_erased_candidate_is_never_messaged(api: Client, smtp: tuple[Inbox, int]) -> None:
    job = await new_job(api)
    await import_csv(api, job, csv_of(2))
    a, b = [c["candidate_id"] for c in (await board(api, job))["stages"]["screened"]]
    await stop_background_pass(api)
    await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [a, b]})
    resp = await api.delete(f"/api/candidates/{b}", json={"reason": "candidate_request"})
    assert resp.status == 200, await resp.text()
    await tick(api)
    assert [e.rcpt_tos[0] for e in smtp[0].envelopes] == ["p0@example.com"]
    counts = (await board(api, job))["counts"]
    assert counts["invited"] == 1
    svc = api.app[SERVICES]
    async with svc.sessions() as session:
        statuses = sorted((await session.scalars(select(OutboxRow.status))).all())
    assert statuses in (["sent"], ["cancelled", "sent"])  # erased rows go, or stay unreadable


async def test_a_bulk_import_gives_each_person_a_key_of_their_own_and_erasing_one_shreds_only_them(
    api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.encryption.fields import BY_MODEL, open_value
    from server.encryption.keyring import FieldDecryptionError
    from server.erasure import erase_candidate
    from server.workflow import pipeline

    monkeypatch.setattr(pipeline, "WRITE_CHUNK", 2)  # three rows: two chunks, two progress lines
    job = await new_job(api)
    resp = await api.post(
        f"/api/jobs/{job}/candidates/import?progress=1",
        data=csv_of(3),
        headers={"Content-Type": "text/csv"},
    )
    assert resp.status == 200 and resp.content_type == "application/x-ndjson"
    lines = [json.loads(line) for line in (await resp.text()).splitlines()]
    assert [line["progress"]["done"] for line in lines[:-1]] == [2, 3]
    assert all(line["progress"]["total"] == 3 for line in lines[:-1])
    assert lines[-1] == {"status": 200, "imported": 3, "valid": 3, "errors": [], "dry_run": False}
    cards = (await board(api, job))["stages"]["screened"]
    assert sorted(c["email"] for c in cards) == [f"p{i}@example.com" for i in range(3)]
    assert all(c["tags"] == ["campus"] for c in cards)
    svc = api.app[SERVICES]
    async with svc.engine.connect() as conn:
        keys = set((await conn.execute(text("SELECT id FROM data_keys"))).scalars())
        stored = {
            r.id: r for r in await conn.execute(text("SELECT id, name, email FROM candidates"))
        }
        changes = (await conn.execute(text("SELECT to_stage, note FROM stage_changes"))).all()
    assert {f"candidate:{c['candidate_id']}" for c in cards} <= keys
    assert changes == [("screened", "imported")] * 3
    erased, kept = cards[0]["candidate_id"], cards[1]["candidate_id"]
    # A copy of the erased person's row (a backup, say) can no longer be opened.
    backup = stored[erased]
    await erase_candidate(svc, erased, by="admin", reason="candidate_request")
    spec = BY_MODEL[Candidate]
    async with svc.sessions() as session:
        conn = await session.connection()
        with pytest.raises(FieldDecryptionError):
            await conn.run_sync(lambda c: svc.keyring.existing_key(c, f"candidate:{erased}", {}))
        assert backup.name.startswith("enc1:")
        key = await conn.run_sync(lambda c: svc.keyring.existing_key(c, f"candidate:{kept}", {}))
        assert open_value(spec, key, kept, "email", stored[kept].email) == "p1@example.com"
        person = await session.get(Candidate, kept)
        assert person is not None and person.name == "Person 1"


async def test_an_import_that_fails_halfway_leaves_nothing_behind(
    api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.encryption import bulk
    from server.workflow import pipeline

    monkeypatch.setattr(pipeline, "WRITE_CHUNK", 2)
    calls: list[int] = []

    def failing_second_chunk(ring: Any, model: Any, rows: list[dict[str, Any]]) -> Any:
        calls.append(len(rows))
        if len(calls) == 2:
            raise BadInput("the second chunk failed")
        return bulk.seal_new_records(ring, model, rows)

    monkeypatch.setattr(pipeline, "seal_new_records", failing_second_chunk)
    job = await new_job(api)
    async with api.app[SERVICES].engine.connect() as conn:
        before = (await conn.execute(text("SELECT count(*) FROM data_keys"))).scalar_one()
    status, body = await import_csv(api, job, csv_of(3))
    assert status == 400 and "second chunk" in body["message"] and calls == [2, 1]
    assert sum((await board(api, job))["counts"].values()) == 0
    async with api.app[SERVICES].engine.connect() as conn:
        for table, count in (("candidates", 0), ("applications", 0), ("stage_changes", 0)):
            n = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert n == count, table
        after = (await conn.execute(text("SELECT count(*) FROM data_keys"))).scalar_one()
    assert after == before


async def test_an_edited_template_is_what_the_candidate_receives(
    api: Client, smtp: tuple[Inbox, int]
) -> None:
    edit = {
        "subject": "Welcome, $name: $job",
        "text": "Start here: $url",
        "html": "<p><a href='$url'>Start</a></p>",
    }
    assert (await api.put("/api/message-templates/invite/en", json=edit)).status == 200
    job = await new_job(api)
    await import_csv(api, job, csv_of(1))
    [card] = (await board(api, job))["stages"]["screened"]
    await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [card["candidate_id"]]})
    await tick(api)
    [msg] = [parse(e) for e in smtp[0].envelopes]
    assert str(msg["Subject"]) == "Welcome, Person 0: Backend engineer"
    body = msg.get_body(("plain",))
    assert body is not None and str(body.get_content()).startswith("Start here: http")
    assert (await api.delete("/api/message-templates/invite/en")).status == 200


async def test_the_board_counts_every_match_lists_at_most_limit_and_filters(api: Client) -> None:
    job = await new_job(api)
    rows = [
        f"Person {i},p{i}@example.com,+86139{i:08d},{('social', 'campus')[i % 2]}" for i in range(7)
    ]
    data = "\n".join(["name,email,phone,tags", *rows]).encode()
    await import_csv(api, job, data)
    cards = (await board(api, job))["stages"]["screened"]
    await api.post(
        f"/api/jobs/{job}/invitations",
        json={"candidate_ids": [c["candidate_id"] for c in cards[:3]]},
    )
    svc = api.app[SERVICES]
    async with svc.sessions() as session, session.begin():
        gone = await session.get(Candidate, cards[6]["candidate_id"])
        assert gone is not None
        gone.deleted_at = svc.now()
    whole = await board(api, job, "?limit=2")
    assert whole["counts"]["invited"] == 3 and whole["counts"]["screened"] == 3
    assert [len(whole["stages"][s]) for s in ("invited", "screened", "decided")] == [2, 2, 0]
    assert [c["name"] for c in whole["stages"]["invited"]] == ["Person 0", "Person 1"]
    tagged = await board(api, job, "?tag=campus")
    assert tagged["counts"]["invited"] == 1 and tagged["counts"]["screened"] == 2
    only = await board(api, job, "?stage=screened")
    assert only["counts"]["invited"] == 0 and len(only["stages"]["screened"]) == 3
    assert (await api.get(f"/api/jobs/{job}/pipeline?limit=0")).status == 400


async def test_a_score_waits_for_the_transcript_of_record_and_for_the_finished_interview(
    api: Client, clock: ScriptedClock
) -> None:
    from analysis.events import TranscriptRecord
    from server.storage.models import Interview

    job = await new_job(api, template=True)
    await import_csv(api, job, csv_of(2))
    cards = (await board(api, job))["stages"]["screened"]
    ids = [c["candidate_id"] for c in cards]
    await stop_background_pass(api)
    results = (
        await (await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": ids})).json()
    )["results"]
    svc = api.app[SERVICES]
    waiting, late = (r["interview_id"] for r in results)
    for iid in (waiting, late):
        await svc.events.append(MediaStarted(interview_id=iid, t=1.0, kind="audio", segment=0))
    # One answer's transcript of record is still being decoded when the first interview ends.
    pending = TranscriptRecord(interview_id=waiting, t=50.0, question_id="q1", status="pending")
    await svc.events.append(pending.model_copy(update={"at": clock.now}))
    for iid in (waiting, late):
        await svc.events.append(InterviewEnded(interview_id=iid, t=60.0, reason="finished"))
    # The first interview's row is marked finished; the second's only after the workflow read
    # its end (the room writes the event before the row).
    async with svc.sessions() as session, session.begin():
        row = await session.get(Interview, waiting)
        assert row is not None
        row.status = "finished"
    await tick(api)

    def recommendation(b: dict[str, Any], iid: str) -> Any:
        return next(c for c in b["stages"]["interview_done"] if c["interview_id"] == iid)[
            "recommendation"
        ]

    done = await board(api, job)
    assert done["counts"]["interview_done"] == 2
    assert recommendation(done, waiting) is None and recommendation(done, late) is None

    ready = TranscriptRecord(interview_id=waiting, t=70.0, question_id="q1", text="I fixed it.")
    await svc.events.append(ready.model_copy(update={"at": clock.now}))
    await tick(api)  # the record is in: scored at once, without waiting for the retry
    assert recommendation(await board(api, job), waiting) is not None

    async with svc.sessions() as session, session.begin():
        row = await session.get(Interview, late)
        assert row is not None
        row.status = "finished"
    await tick(api)  # a row not yet marked finished is asked again at the next pass
    assert recommendation(await board(api, job), late) is not None


async def test_settings_that_cannot_make_a_plan_are_refused_before_anything_is_saved(
    api: Client,
) -> None:
    too_few = {"question_count": 2}  # the engineer model has three competencies
    resp = await api.post(
        "/api/jobs",
        json={"title": "Engineer", "template": "software_engineer", "plan_settings": too_few},
    )
    assert resp.status == 400 and (await resp.json())["code"] == "bad_plan"
    assert "at least 3" in (await resp.json())["message"]
    assert [j["title"] for j in await (await api.get("/api/jobs")).json()] == []
    job = await new_job(api, template=True)
    resp = await api.put(f"/api/jobs/{job}/settings", json={**too_few, "title": "Renamed"})
    assert resp.status == 400 and (await resp.json())["code"] == "bad_plan"
    settings = await (await api.get(f"/api/jobs/{job}/settings")).json()
    assert settings["title"] == "Backend engineer" and settings["question_count"] != 2
    resp = await api.put(f"/api/jobs/{job}/settings", json={"question_count": 3})
    assert resp.status == 200 and (await resp.json())["question_count"] == 3


async def test_two_rows_that_are_one_existing_person_are_reported_not_a_server_error(
    api: Client,
) -> None:
    resp = await api.post(
        "/api/candidates", json={"name": "Zhao", "email": "zm@example.com", "phone": "13900000099"}
    )
    assert resp.status == 201
    job = await new_job(api)
    data = b"name,email,phone\nZhao Min,zm@example.com,\nMin Zhao,other@example.com,13900000099\n"
    status, body = await import_csv(api, job, data)
    assert status == 422 and body["imported"] == 0
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(2, "duplicate_phone")]
    assert "row 1" in body["errors"][0]["message"]
