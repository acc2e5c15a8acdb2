"""Real Chromium, end to end, with a real SMTP server (aiosmtpd) receiving every message.

A signed-in recruiter imports a CSV on the job page and invites from the board; the candidate
follows the link in the email they received (its calendar entry carries the same link) and
takes a three-question interview (one per competency, the fewest a plan allows) in Chromium
with fake camera and microphone; the board shows the card reach ``interview_done`` and then
the scorer's column (its history lists both moves); the recruiter schedules the human round
on the board, and the calendar entries reach the candidate and the interviewer.

What the candidate says is injected at the room's transcript seam (no speech model), as in
tests/server/test_reports.py, so the scorer has real answers to judge. Every wait is on a
signal (a page element, a received message) with a bounded timeout.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from analysis.events import TranscriptFinal
from server.services import SERVICES
from server.session_inputs import AnalyzerResult
from tests.browser.conftest import LiveServer, serving
from tests.browser.inbox import SignalingInbox, smtp
from tests.browser.test_live_room import sign_in_page
from tests.mail import mail_settings
from tests.server.helpers import make_settings
from tests.server.test_reports import STRONG

pytestmark = pytest.mark.browser

PLAN = {
    "question_count": 3,  # the smallest plan: one question per competency
    "include_practice": False,
    "transcript_grace": 0,
    "max_followups_per_question": 0,
    "followup_decision_timeout": 1,
}
SCORED = ("recommended", "below_threshold")


def calendar_of(msg: EmailMessage) -> Any:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return Calendar.from_ical(parts[0].get_content())


def assert_valid_calendar(cal: Any) -> None:
    """What RFC 5545 requires of an iTIP request: version, product, one dated event."""
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"])
    [event] = cal.walk("VEVENT")
    for prop in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER", "SEQUENCE"):
        assert prop in event, prop
    assert event.decoded("DTSTART") < event.decoded("DTEND")
    assert str(event["ORGANIZER"]).lower() == "mailto:hr@candor.test"


def attendees(event: Any) -> list[str]:
    value = event.get("ATTENDEE", [])
    return [str(a) for a in (value if isinstance(value, list) else [value])]


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def to(address: str, needle: str) -> Callable[[list[tuple[list[str], EmailMessage]]], list[Any]]:
    """Messages to ``address`` whose subject or text contains ``needle``."""

    def found(messages: list[tuple[list[str], EmailMessage]]) -> list[EmailMessage]:
        return [
            m
            for rcpt, m in messages
            if address in rcpt and (needle in str(m["Subject"]) or needle in text_of(m))
        ]

    return found


@pytest.fixture
async def server(tmp_path: Path, smtp: tuple[SignalingInbox, int]) -> AsyncIterator[LiveServer]:
    settings = make_settings(
        tmp_path, **mail_settings(smtp[1]), workflow_poll_seconds=0.3, timezone="Asia/Shanghai"
    )
    async with serving(settings) as live:
        yield live


def card(stage: str | tuple[str, ...], cid: str, inside: str = "") -> str:
    """A CSS selector for the candidate's card (or an element in it) in one of the columns."""
    stages = (stage,) if isinstance(stage, str) else stage
    return ", ".join(f".wf-col[data-stage={s}] .wf-card[data-id='{cid}'] {inside}" for s in stages)


async def take_interview(page: Any, svc: Any, interview_id: str) -> int:
    """Consent, device check, then answer each question; returns the questions answered."""
    await page.check("#agree-recording")
    await page.check("#agree-ai")
    await page.click("#consent-continue")
    await page.wait_for_selector("#join:not([disabled])", timeout=20_000)
    await page.click("#join")
    await page.wait_for_selector("#ready:not(.hidden)", timeout=30_000)
    await page.click("#ready")
    answered = 0
    while True:
        await page.wait_for_selector("#answer-done:not([disabled])", timeout=30_000)
        shown = await page.text_content("#question")
        session = svc.live.get(interview_id)
        t0 = session.clock()
        # What the transcriber would have heard, in the room's own order of events.
        session.submit(
            AnalyzerResult(
                TranscriptFinal(
                    interview_id=interview_id,
                    t=t0 + 2.0,
                    utterance_id=f"u{answered}",
                    language="en",
                    text=STRONG,
                    start=round(t0, 3),
                    end=round(t0 + 2.0, 3),
                    avg_logprob=-0.2,
                )
            )
        )
        await page.click("#answer-done")
        answered += 1
        await page.wait_for_function(
            "t => document.getElementById('question').textContent !== t"
            " || !document.getElementById('ended').classList.contains('hidden')",
            arg=shown,
            timeout=30_000,
        )
        if await page.is_visible("#ended"):
            return answered


async def test_import_invite_interview_score_and_schedule_the_human_round(
    server: LiveServer, chromium: Any, smtp: tuple[SignalingInbox, int], tmp_path: Path
) -> None:
    inbox = smtp[0]
    api = server.api
    svc = api.app[SERVICES]
    job = await (
        await api.post(
            "/api/jobs",
            json={
                "title": "Backend engineer",
                "language": "en",
                "template": "software_engineer",
                "plan_settings": PLAN,
            },
        )
    ).json()
    resp = await api.post(
        "/api/users",
        json={"email": "iv@example.com", "password": "a long password 12", "role": "interviewer"},
    )
    assert resp.status == 201, await resp.text()
    people = tmp_path / "people.csv"
    people.write_text(
        "姓名,邮箱,手机,标签\nLi Lei,li@example.com,13800138001,campus\n"
        "Wang Fang,wf@example.com,13800138002,\n",
        encoding="gbk",
    )

    # The recruiter: import on the job page, then invite both from the board.
    hr_ctx = await chromium.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai"
    )
    hr = await hr_ctx.new_page()
    await sign_in_page(hr, server.url, f"/jobs/{job['id']}")
    await hr.set_input_files("#import-file", str(people))
    await hr.click("#import-preview")
    await hr.wait_for_selector("#import-go:not([disabled])", timeout=10_000)
    await hr.click("#import-go")
    await hr.wait_for_function(
        "() => document.querySelectorAll('.wf-col[data-stage=screened] .wf-card').length === 2",
        timeout=10_000,
    )
    for box in await hr.query_selector_all(".wf-col[data-stage=screened] input[type=checkbox]"):
        await box.check()
    await hr.click("#act-invite")
    await hr.wait_for_function(
        "() => document.querySelectorAll('.wf-col[data-stage=invited] .wf-card').length === 2",
        timeout=10_000,
    )

    # The invitation as received: a link in the text, the same link in the calendar entry.
    [invitation] = await inbox.wait_for(to("li@example.com", "Your interview"), timeout=30)
    links = re.findall(r"http://\S+/i/\S+", text_of(invitation))
    assert len(links) == 1
    link = links[0]
    assert link.startswith(server.url)
    ics = calendar_of(invitation)
    assert_valid_calendar(ics)
    assert str(ics["METHOD"]) == "REQUEST"
    [event] = ics.walk("VEVENT")
    assert str(event["UID"]).startswith("invite-") and int(event["SEQUENCE"]) == 0
    assert str(event["URL"]) == link and link in str(event["DESCRIPTION"])
    assert any("li@example.com" in a for a in attendees(event))
    assert event.walk("VALARM")  # the deadline reminder rides along
    assert any(c.name == "VTIMEZONE" for c in ics.subcomponents)

    board = await (await api.get(f"/api/jobs/{job['id']}/pipeline")).json()
    li = next(c for c in board["stages"]["invited"] if c["email"] == "li@example.com")

    # The candidate opens the calendar entry's link in Chromium and takes the interview.
    cand_ctx = await chromium.new_context(viewport={"width": 1280, "height": 900})
    cand = await cand_ctx.new_page()
    await cand.goto(str(event["URL"]) + "?lang=en")
    await cand.wait_for_selector("#consent:not(.hidden)", timeout=15_000)
    assert "Backend engineer" in (await cand.text_content("#job-title") or "")
    answered = await take_interview(cand, svc, li["interview_id"])
    assert answered == PLAN["question_count"]
    await cand.wait_for_selector("#ended:not(.hidden)")
    await inbox.wait_for(to("li@example.com", "Thank you"), timeout=30)
    await inbox.wait_for(to("admin@example.com", "/review/"), timeout=30)

    # The board follows by itself: interview done, then the scorer's column.
    await hr.wait_for_selector(
        card(("interview_done", *SCORED), li["candidate_id"]), timeout=30_000
    )
    await hr.wait_for_selector(card(SCORED, li["candidate_id"]), timeout=120_000)
    await hr.click(card(SCORED, li["candidate_id"], ".wf-history"))
    await hr.wait_for_selector("#detail-timeline li[data-to=interview_done]", timeout=10_000)
    moves = await hr.eval_on_selector_all(
        "#detail-timeline li", "els => els.map(e => e.dataset.to)"
    )
    assert moves[:4] == ["screened", "invited", "interview_started", "interview_done"]
    assert moves[4] in SCORED and len(moves) == 5
    scorer_line = await hr.text_content(f"#detail-timeline li[data-to={moves[4]}]")
    assert "AI scorer" in (scorer_line or "")

    # The recruiter schedules the human round on the board.
    await hr.check(card(SCORED, li["candidate_id"], "input[type=checkbox]"))
    await hr.fill("#h-emails", "iv@example.com")
    await hr.fill("#h-when", "2026-12-01T10:00")
    await hr.fill("#h-where", "Room 3, 5th floor")
    await hr.click("#human-form button[type=submit]")
    await hr.wait_for_selector(card("human_interview", li["candidate_id"]), timeout=10_000)

    def entries(messages: list[tuple[list[str], EmailMessage]]) -> list[Any]:
        found = [
            (rcpt[0], calendar_of(m))
            for rcpt, m in messages
            if any(p.get_content_type() == "text/calendar" for p in m.walk())
            and "Room 3" in text_of(m)
        ]
        return found if {r for r, _ in found} >= {"li@example.com", "iv@example.com"} else []

    human = dict(await inbox.wait_for(entries, timeout=30))
    when = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    uids = set()
    for who, cal in human.items():
        assert_valid_calendar(cal)
        assert str(cal["METHOD"]) == "REQUEST"
        [ev] = cal.walk("VEVENT")
        uids.add(str(ev["UID"]))
        assert ev.decoded("DTSTART") == when
        assert (ev.decoded("DTEND") - ev.decoded("DTSTART")).total_seconds() == 3600
        assert "Room 3" in str(ev["LOCATION"])
        assert any(who in a for a in attendees(ev))
    [uid] = uids
    assert uid.startswith("human-")
    panel = human["iv@example.com"].walk("VEVENT")[0]
    assert f"/review/{li['interview_id']}" in str(panel["DESCRIPTION"])
    assert f"/review/{li['interview_id']}" not in str(
        human["li@example.com"].walk("VEVENT")[0]["DESCRIPTION"]
    )
    wang = await (await api.get(f"/api/jobs/{job['id']}/pipeline?stage=invited")).json()
    assert [c["email"] for c in wang["stages"]["invited"]] == ["wf@example.com"]
    await cand_ctx.close()
    await hr_ctx.close()


__all__ = ["smtp"]  # the fixture, used by name
