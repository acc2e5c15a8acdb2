"""The candidate feedback message through the real app and a real SMTP server (aiosmtpd).

Finished interviews are built from logged events (as in test_reports); the message is
received by an SMTP server started in the test, and read back as the candidate would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server.storage.models import CandidateFeedbackRow, EventRow
from tests.browser import conftest as browser_fixtures
from tests.browser.conftest import BrowserFactory
from tests.mail import Inbox, free_port, mail_settings
from tests.server.helpers import (
    AppClient,
    log_answer,
    mark_finished,
    scored_job,
    services_of,
    sign_in,
)
from tests.server.test_interviewer_channels import ScriptedClock, make_client
from tests.server.test_reports import STRONG, ZH_ANSWER, logged_interview

CANDIDATE_EMAIL = "li.lei@example.com"


browser_factory = browser_fixtures.browser_factory  # real Chromium, for the review page test


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


@pytest.fixture
async def api(
    tmp_path: Path, clock: ScriptedClock, smtp: tuple[Inbox, int]
) -> AsyncIterator[AppClient]:
    client = await make_client(
        tmp_path,
        clock,
        **mail_settings(smtp[1]),
    )
    yield client
    await client.close()


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


async def new_job(api: AppClient, language: str = "en", feedback: bool = True) -> str:
    title = "Backend engineer" if language == "en" else "后端工程师"
    job = await scored_job(api, title, language)
    if feedback:
        resp = await api.put(f"/api/jobs/{job['id']}/scoring", json={"candidate_feedback": True})
        assert resp.status == 200, await resp.text()
    return str(job["id"])


async def new_candidate(api: AppClient, name: str = "Li Lei", mail: str = CANDIDATE_EMAIL) -> str:
    resp = await api.post("/api/candidates", json={"name": name, "email": mail})
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def strong_interview(api: AppClient, job_id: str, cand_id: str) -> str:
    """A finished interview with one strong, specific answer."""
    iid = await logged_interview(api, job_id, cand_id, 0)
    await _answer(api, iid, "q9", "logical_thinking", "Tell me about a hard bug.", STRONG, "en")
    return iid


async def _answer(
    api: AppClient, iid: str, qid: str, cid: str, question: str, text: str, language: str
) -> None:
    await log_answer(
        services_of(api),
        iid,
        t=500.0 + 60 * int(qid[1:]),
        question_id=qid,
        competency_id=cid,
        question=question,
        said=text,
        language=language,
        avg_logprob=-0.1,
    )


async def feedback_events(api: AppClient, iid: str) -> list[dict[str, Any]]:
    async with services_of(api).sessions() as session:
        rows = await session.scalars(
            select(EventRow).where(EventRow.interview_id == iid, EventRow.type == "feedback_sent")
        )
        return [r.payload for r in rows.all()]


# -- the flow --------------------------------------------------------------------------


async def test_a_person_edits_approves_and_sends_the_draft(
    api: AppClient, inbox: Inbox, clock: ScriptedClock
) -> None:
    iid = await strong_interview(api, await new_job(api), await new_candidate(api))
    url = f"/api/interviews/{iid}/feedback"

    resp = await api.get(url)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    draft = body["draft"]
    assert draft["language"] == "en" and draft["strengths"]
    assert "logical thinking" in draft["text"]
    assert not any(ch.isdigit() for ch in draft["text"])
    assert body["email"] == {"configured": True, "candidate_has_email": True, "hint": None}
    assert body["sent"] is False and body["messages"] == []
    assert inbox.envelopes == []  # a draft is never sent by itself
    assert (await api.get(url)).status == 200
    assert inbox.envelopes == []

    resp = await api.post(url, json={"text": draft["text"]})
    assert resp.status == 400 and '"send": true' in (await resp.json())["message"]
    resp = await api.post(url, json={"text": "You scored 85, well done!", "send": True})
    assert resp.status == 400
    error = await resp.json()
    assert error["error"] == "not_non_score" and "number" in error["message"]
    assert inbox.envelopes == []

    edited = draft["text"] + " We enjoyed hearing about your design note."
    clock.advance(3600)
    resp = await api.post(url, json={"text": edited, "send": True})
    assert resp.status == 201, await resp.text()
    sent = await resp.json()
    assert sent["status"] == "sent" and sent["edited"] is True
    assert sent["approved_by"] == "admin@example.com"
    assert sent["approved_at"].startswith("2026-11-25T10:00")
    assert sent["sent_at"] is not None

    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.rcpt_tos == [CANDIDATE_EMAIL]
    msg = inbox.message()
    assert msg["To"] == CANDIDATE_EMAIL
    assert msg["Subject"] == "Thank you for your interview: Backend engineer"
    content = msg.get_content()
    assert content.startswith("Dear Li Lei,")
    assert edited in content

    events = await feedback_events(api, iid)
    assert len(events) == 1
    assert events[0]["approved_by"] == "admin@example.com"
    assert events[0]["feedback_id"] == sent["id"]
    assert CANDIDATE_EMAIL not in str(events[0]) and edited not in str(events[0])

    resp = await api.post(url, json={"text": edited, "send": True})
    assert resp.status == 409 and (await resp.json())["error"] == "already_sent"
    assert len(inbox.envelopes) == 1
    after = await (await api.get(url)).json()
    assert after["sent"] is True and [m["status"] for m in after["messages"]] == ["sent"]


async def test_a_mandarin_message_arrives_in_mandarin(api: AppClient, inbox: Inbox) -> None:
    job_id = await new_job(api, "zh")
    cand = await new_candidate(api, "李雷")
    resp = await api.post("/api/interviews", json={"job_id": job_id, "candidate_id": cand})
    iid = (await resp.json())["id"]
    await _answer(
        api, iid, "q0", "logical_thinking", "请讲一个你排查过的最难的 bug。", ZH_ANSWER, "zh"
    )
    await _answer(api, iid, "q1", "code_quality", "请讲一次你改进代码质量的经历。", ZH_ANSWER, "zh")
    await mark_finished(services_of(api), iid)

    url = f"/api/interviews/{iid}/feedback"
    draft = (await (await api.get(url)).json())["draft"]
    assert draft["language"] == "zh" and "逻辑思维" in draft["text"]
    resp = await api.post(url, json={"text": draft["text"], "send": True})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["edited"] is False

    msg = inbox.message()
    assert inbox.envelopes[0].rcpt_tos == [CANDIDATE_EMAIL]
    assert msg["Subject"] == "感谢你参加后端工程师的面试"
    content = msg.get_content()
    assert content.startswith("李雷，你好：")
    assert draft["text"] in content


async def test_without_email_settings_the_message_is_stored_not_sent(
    tmp_path: Path, clock: ScriptedClock, inbox: Inbox
) -> None:
    api = await make_client(tmp_path, clock)
    try:
        iid = await strong_interview(api, await new_job(api), await new_candidate(api))
        url = f"/api/interviews/{iid}/feedback"
        body = await (await api.get(url)).json()
        assert body["email"]["configured"] is False
        assert "CANDOR_SMTP_HOST" in body["email"]["hint"]
        resp = await api.post(url, json={"text": body["draft"]["text"], "send": True})
        assert resp.status == 201
        stored = await resp.json()
        assert stored["status"] == "not_sent" and stored["sent_at"] is None
        assert "email not configured" in stored["detail"]
        assert "CANDOR_SMTP_HOST" in stored["detail"]
        assert await feedback_events(api, iid) == []
        # Once email works it can be sent again: a "not sent" message does not block.
        again = await (await api.get(url)).json()
        assert again["sent"] is False and len(again["messages"]) == 1
    finally:
        await api.close()
    assert inbox.envelopes == []


async def test_a_candidate_without_an_address_is_not_emailed(api: AppClient, inbox: Inbox) -> None:
    iid = await strong_interview(api, await new_job(api), await new_candidate(api, mail=""))
    url = f"/api/interviews/{iid}/feedback"
    body = await (await api.get(url)).json()
    assert body["email"]["candidate_has_email"] is False
    resp = await api.post(url, json={"text": body["draft"]["text"], "send": True})
    stored = await resp.json()
    assert stored["status"] == "not_sent" and "no email address" in stored["detail"]
    assert inbox.envelopes == []


async def test_an_unreachable_mail_server_is_reported(tmp_path: Path, clock: ScriptedClock) -> None:
    api = await make_client(
        tmp_path, clock, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_from="hr@candor.test"
    )
    try:
        iid = await strong_interview(api, await new_job(api), await new_candidate(api))
        url = f"/api/interviews/{iid}/feedback"
        text = (await (await api.get(url)).json())["draft"]["text"]
        stored = await (await api.post(url, json={"text": text, "send": True})).json()
        assert stored["status"] == "failed" and stored["detail"].startswith("Not sent:")
        assert CANDIDATE_EMAIL not in stored["detail"]
        assert await feedback_events(api, iid) == []
    finally:
        await api.close()


# -- only when the job enables it, only for people with access -------------------------


async def test_a_job_without_candidate_feedback_answers_409(api: AppClient, inbox: Inbox) -> None:
    job_id = await new_job(api, feedback=False)
    iid = await strong_interview(api, job_id, await new_candidate(api))
    url = f"/api/interviews/{iid}/feedback"
    for resp in (
        await api.get(url),
        await api.post(url, json={"text": "Your examples were concrete.", "send": True}),
    ):
        assert resp.status == 409
        body = await resp.json()
        assert body["error"] == "feedback_disabled" and "candidate_feedback" in body["message"]
    assert inbox.envelopes == []
    async with services_of(api).sessions() as session:
        count = await session.scalar(select(func.count()).select_from(CandidateFeedbackRow))
        assert count == 0


async def test_a_running_interview_has_no_draft_yet(api: AppClient) -> None:
    job_id = await new_job(api)
    cand = await new_candidate(api)
    resp = await api.post("/api/interviews", json={"job_id": job_id, "candidate_id": cand})
    iid = (await resp.json())["id"]
    resp = await api.get(f"/api/interviews/{iid}/feedback")
    assert resp.status == 409 and (await resp.json())["error"] == "not_finished"


async def test_feedback_needs_sign_in_and_access(api: AppClient, inbox: Inbox) -> None:
    iid = await strong_interview(api, await new_job(api), await new_candidate(api))
    resp = await api.post(
        "/api/users",
        json={"email": "rec@example.com", "password": "a long password 1", "role": "recruiter"},
    )
    assert resp.status == 201
    url = f"/api/interviews/{iid}/feedback"
    calls = [("GET", None), ("POST", {"text": "Your examples were concrete.", "send": True})]
    api.session.cookie_jar.clear()
    for method, body in calls:
        assert (await api.request(method, url, json=body)).status == 401
    await sign_in(api, "rec@example.com", "a long password 1")
    for method, body in calls:
        assert (await api.request(method, url, json=body)).status == 403
    assert inbox.envelopes == []


# -- review page (real Chromium) -------------------------------------------------------


@pytest.mark.browser
async def test_review_page_panel_shows_the_draft_and_sends_the_edit(
    tmp_path: Path, smtp: tuple[Inbox, int], browser_factory: BrowserFactory
) -> None:
    from aiohttp.test_utils import TestServer

    from server.app import create_app
    from tests.browser.test_live_room import sign_in_page
    from tests.server.helpers import make_settings

    inbox, port = smtp
    settings = make_settings(
        tmp_path,
        **mail_settings(port, "hr@candor.test"),
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    async with TestClient(server) as api:
        await sign_in(api)
        base = str(server.make_url("")).rstrip("/")
        plain = await strong_interview(
            api, await new_job(api, feedback=False), await new_candidate(api)
        )
        iid = await strong_interview(api, await new_job(api), await new_candidate(api))
        page = await (await browser_factory("reviewer")).new_page()
        page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))

        await sign_in_page(page, base, f"/review/{plain}")
        await page.wait_for_selector("#scores .score-row", timeout=10000)
        assert await page.locator("#feedback-card").is_hidden()  # not enabled for that job

        await page.goto(f"{base}/review/{iid}")
        await page.wait_for_selector("#feedback-card:not(.hidden)", timeout=10000)
        draft = await page.input_value("#feedback-text")
        assert "logical thinking" in draft
        await page.fill("#feedback-text", draft + " Thank you for the design note example.")
        await page.click("#feedback-send")
        await page.wait_for_selector("#feedback-history li", timeout=10000)
        assert "Sent" in await page.inner_text("#feedback-history")
        assert await page.locator("#feedback-send").is_disabled()
        await page.click("#lang")
        assert "已发送" in await page.inner_text("#feedback-history")
        assert await page.inner_text("#feedback-card h2") == "给候选人的消息"
    assert len(inbox.envelopes) == 1
    assert "design note example" in inbox.message().get_content()
