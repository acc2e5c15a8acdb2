"""Real Chromium: the job page (import, board, invite), and the candidate's pages on a phone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from analysis.events import InterviewEnded
from server.services import SERVICES
from server.storage.models import SelfIdentificationRow, SurveyResponseRow
from server.workflow.service import WORKFLOW
from tests.browser.conftest import LiveServer, serving
from tests.browser.inbox import Received, SignalingInbox, smtp
from tests.browser.test_live_room import sign_in_page
from tests.mail import mail_settings
from tests.media_files import fake_camera_y4m
from tests.server.helpers import make_settings, mark_finished
from tests.server.roles_world import Client

pytestmark = pytest.mark.browser

WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.50.2701(0x28003253) "
    "WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "user_agent": WECHAT_UA,
}


@pytest.fixture
async def server(tmp_path: Path, smtp: tuple[SignalingInbox, int]) -> AsyncIterator[LiveServer]:
    settings = make_settings(
        tmp_path, **mail_settings(smtp[1], "hr@candor.test"), workflow_poll_seconds=0.2
    )
    async with serving(settings) as live:
        yield live


async def invited_link(api: Client, job: str) -> str:
    resp = await api.post(
        f"/api/jobs/{job}/candidates", json={"name": "Li Lei", "email": "li@example.com"}
    )
    assert resp.status == 201, await resp.text()
    cid = (await resp.json())["candidate_id"]
    result = await (
        await api.post(f"/api/jobs/{job}/invitations", json={"candidate_ids": [cid]})
    ).json()
    return str(result["results"][0]["invite_url"])


async def ended_with_an_interviewer(api: Client, interview_id: str) -> None:
    """The interview has ended (logged, and saved as finished); an interviewer account exists."""
    svc = api.app[SERVICES]
    await svc.events.append(InterviewEnded(interview_id=interview_id, t=60.0, reason="done"))
    await mark_finished(svc, interview_id)
    await api.post(
        "/api/users",
        json={"email": "iv@example.com", "password": "a long password 12", "role": "interviewer"},
    )


def calendar_entries(needle: str) -> Callable[[Received], list[str]]:
    """The recipients of calendar entries mentioning ``needle``, once there are two."""

    def entries(messages: Received) -> list[str]:
        found = sorted(
            rcpt[0]
            for rcpt, m in messages
            if any(p.get_content_type() == "text/calendar" for p in m.walk())
            and needle in m.as_string()
        )
        return found if len(found) >= 2 else []

    return entries


async def test_a_recruiter_imports_a_csv_and_invites_from_the_board(
    server: LiveServer, chromium: Any, smtp: tuple[SignalingInbox, int], tmp_path: Path
) -> None:
    job = await (await server.api.post("/api/jobs", json={"title": "Analyst"})).json()
    csv = tmp_path / "people.csv"
    csv.write_text(
        "name,email,phone,tags\n张伟,zw@example.com,13800138000,campus\n"
        "Li Lei,li@example.com,13800138001,\nWang Fang,wf@example.com,13800138002,campus\n",
        encoding="gbk",
    )
    ctx = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await sign_in_page(page, server.url, f"/jobs/{job['id']}")
    await page.wait_for_function(
        "() => document.getElementById('job-title').textContent === 'Analyst'"
    )
    await page.set_input_files("#import-file", str(csv))
    await page.click("#import-preview")
    await page.wait_for_selector("#import-go:not([disabled])")
    assert "3" in await page.text_content("#import-summary")
    await page.click("#import-go")
    await page.wait_for_function(
        "() => document.querySelectorAll('.wf-col[data-stage=screened] .wf-card').length === 3"
    )
    for box in await page.query_selector_all(".wf-col[data-stage=screened] input[type=checkbox]"):
        await box.check()
    await page.click("#act-invite")
    await page.wait_for_function(
        "() => document.querySelectorAll('.wf-col[data-stage=invited] .wf-card').length === 3"
    )
    assert "3" in await page.text_content("#act-status")
    await page.wait_for_function(
        "() => document.querySelector('.wf-col[data-stage=invited] h3').textContent.includes('3')"
    )
    got = await smtp[0].wait_for(lambda m: m if len(m) >= 3 else [], timeout=30)
    assert sorted(rcpt[0] for rcpt, _ in got) == [
        "li@example.com",
        "wf@example.com",
        "zw@example.com",
    ]
    # The settings form saves every knob at once.
    await page.fill("#s-qc", "5")
    await page.fill("#s-thr", "60")
    await page.click("#settings button[type=submit]")
    await page.wait_for_function(
        "() => document.getElementById('settings-status').textContent !== ''"
    )
    settings = await (await server.api.get(f"/api/jobs/{job['id']}/settings")).json()
    assert settings["question_count"] == 5 and settings["threshold"] == 60

    # Li Lei's interview ends; the recruiter schedules the human round from the board.
    board = await (await server.api.get(f"/api/jobs/{job['id']}/pipeline")).json()
    li = next(c for c in board["stages"]["invited"] if c["email"] == "li@example.com")
    await ended_with_an_interviewer(server.api, li["interview_id"])
    # The workflow's background pass moves the card; the open board refreshes by itself.
    done = f".wf-col[data-stage=interview_done] .wf-card[data-id='{li['candidate_id']}']"
    await page.wait_for_selector(done, timeout=30_000)
    await page.check(f"{done} input[type=checkbox]")
    await page.fill("#h-emails", "iv@example.com")
    await page.fill("#h-when", "2026-12-01T10:00")
    await page.fill("#h-where", "Room 3")
    await page.click("#human-form button[type=submit]")
    await page.wait_for_selector(
        f".wf-col[data-stage=human_interview] .wf-card[data-id='{li['candidate_id']}']"
    )

    entries = calendar_entries("Room 3")
    assert await smtp[0].wait_for(entries, timeout=30) == ["iv@example.com", "li@example.com"]
    await ctx.close()


async def test_a_phone_in_wechat_goes_from_consent_to_the_survey(
    server: LiveServer, chromium: Any, tmp_path: Path
) -> None:
    job = await (
        await server.api.post(
            "/api/jobs",
            json={
                "title": "Analyst",
                "template": "software_engineer",
                "plan_settings": {"question_count": 3, "include_practice": False},
            },
        )
    ).json()
    slot = {"start": "2026-12-03T09:00:00+08:00", "end": "2026-12-03T10:00:00+08:00"}
    await server.api.put(f"/api/jobs/{job['id']}/settings", json={"slots": [slot]})
    url = await invited_link(server.api, job["id"])
    ctx = await chromium.new_context(**PHONE)
    page = await ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    await page.goto(url.replace("http://127.0.0.1", server.url.rsplit(":", 1)[0]) + "?lang=en")
    await page.wait_for_selector("#consent:not(.hidden)")
    assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    await page.wait_for_selector("#slots:not(.hidden) input[type=radio]")
    await page.tap("#slots input[type=radio]")
    await page.tap("#slots [data-role=save]")
    await page.wait_for_function(
        "() => document.querySelector('#slots [data-role=status]').textContent.includes('Saved')"
    )
    token = url.rsplit("/", 1)[1]
    chosen = await (await server.api.get(f"/api/join/{token}/slots")).json()
    assert chosen["chosen"] == slot
    await page.tap("#agree-recording")
    await page.tap("#consent-continue")
    await page.wait_for_selector("#join:not([disabled])", timeout=15000)
    await page.tap("#join")
    await page.wait_for_selector("#ready:not(.hidden)", timeout=20000)
    await page.tap("#ready")
    await page.wait_for_function(
        "() => document.getElementById('progress').textContent.includes('1')", timeout=20000
    )
    await page.tap("#finish")
    await page.wait_for_selector("#ended:not(.hidden)", timeout=20000)
    await page.wait_for_selector("#survey:not(.hidden)")
    await page.tap("#survey .star:nth-child(4)")
    await page.fill("#survey textarea", "清楚、顺利")
    await page.tap("#survey button[type=submit]")
    await page.wait_for_function(
        "() => document.querySelector('#survey [data-role=status]').textContent !== ''"
    )
    svc = server.api.app[SERVICES]
    async with svc.sessions() as session:
        rows = (await session.scalars(select(SurveyResponseRow))).all()
    assert [(r.rating, r.comment) for r in rows] == [(4, "清楚、顺利")]

    # The optional self-identification: its own consent, saved, then withdrawn.
    await page.wait_for_selector("#selfid:not(.hidden)")
    assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert await page.is_disabled("#selfid [data-role=send]")
    assert await page.input_value("#sid-gender") == "prefer_not_to_say"
    await page.select_option("#sid-gender", "female")
    await page.select_option("#sid-age", "25_34")
    await page.tap("#sid-consent")
    await page.tap("#selfid [data-role=send]")
    await page.wait_for_selector("#selfid [data-role=withdraw]:not(.hidden)")
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.locator("#selfid").screenshot(path=str(artifacts / "self-identification-phone.png"))
    async with svc.sessions() as session:
        given = (await session.scalars(select(SelfIdentificationRow))).all()
    assert [g.data for g in given] == [{"gender": "female", "age_band": "25_34"}]
    await page.tap("#selfid [data-role=withdraw]")
    await page.wait_for_selector("#selfid [data-role=withdraw]", state="hidden")
    async with svc.sessions() as session:
        assert not (await session.scalars(select(SelfIdentificationRow))).all()
    await ctx.close()
    # The job's analytics: the spread of ratings and the comments, with nothing to link them.
    tracking = await (await server.api.get(f"/api/jobs/{job['id']}/tracking")).json()
    assert tracking["survey"]["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
    assert tracking["survey"]["comments"] == [{"rating": 4, "comment": "清楚、顺利"}]
    desk = await chromium.new_context(viewport={"width": 1280, "height": 900})
    hr = await desk.new_page()
    await sign_in_page(hr, server.url, f"/jobs/{job['id']}")
    await hr.wait_for_selector("#survey-box:not(.hidden)")
    assert await hr.text_content("#survey-comments li") == "4★ 清楚、顺利"
    await desk.close()


async def test_without_webrtc_the_page_offers_to_open_the_link_in_a_browser(
    server: LiveServer, chromium: Any
) -> None:
    job = await (await server.api.post("/api/jobs", json={"title": "Analyst"})).json()
    url = await invited_link(server.api, job["id"])
    ctx = await chromium.new_context(**PHONE)
    await ctx.add_init_script(
        "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"
    )
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url + "?lang=zh")
    await page.wait_for_selector("#browser:not(.hidden)")
    reason = await page.text_content("#browser [data-role=reason]")
    assert reason is not None and "WebRTC" in reason and "应用" in reason
    assert await page.input_value("#browser [data-role=link]") == url + "?lang=zh"
    await page.tap("#browser [data-role=copy]")
    await page.wait_for_function(
        "() => document.querySelector('#browser [data-role=copied]').textContent !== ''"
    )
    assert await page.is_hidden("#consent") and not errors
    await ctx.close()


async def test_the_human_round_is_scheduled_from_the_review_page(
    server: LiveServer, chromium: Any, smtp: tuple[SignalingInbox, int]
) -> None:
    job = await (
        await server.api.post(
            "/api/jobs", json={"title": "Analyst", "template": "software_engineer"}
        )
    ).json()
    await invited_link(server.api, job["id"])
    board = await (await server.api.get(f"/api/jobs/{job['id']}/pipeline")).json()
    [li] = board["stages"]["invited"]
    await ended_with_an_interviewer(server.api, li["interview_id"])
    await server.api.app[WORKFLOW].tick()  # one pass of the workflow: it reads the end
    ctx = await chromium.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    page = await ctx.new_page()
    await sign_in_page(page, server.url, f"/review/{li['interview_id']}")
    await page.wait_for_selector("#human-card:not(.hidden)", timeout=15_000)
    assert await page.text_content("#human-stage") == "Interview done"
    assert await page.get_attribute("#human-board", "href") == f"/jobs/{job['id']}#board"
    await page.fill("#hr-emails", "iv@example.com")
    await page.fill("#hr-when", "2026-12-01T10:00")
    await page.fill("#hr-where", "Video: https://meet.example.com/x")
    await page.click("#human-form button[type=submit]")
    await page.wait_for_function(
        "() => document.getElementById('human-status').textContent.includes('Scheduled')"
    )
    assert await page.text_content("#human-stage") == "Human interview"

    entries = calendar_entries("meet.example.com")
    assert await smtp[0].wait_for(entries, timeout=30) == ["iv@example.com", "li@example.com"]
    card = await (await server.api.get(f"/api/jobs/{job['id']}/applications/{li['id']}")).json()
    assert card["stage"] == "human_interview"
    assert card["timeline"][-1]["by_email"] == "admin@example.com"
    await ctx.close()


PROGRESS = re.compile(r"Importing… (\d+) of 2500 rows written\.")


async def test_a_long_import_shows_its_progress_on_the_page(
    server: LiveServer, chromium: Any, tmp_path: Path
) -> None:
    job = await (await server.api.post("/api/jobs", json={"title": "Analyst"})).json()
    people = tmp_path / "many.csv"
    rows = [f"Person {i},p{i}@example.com,+86139{i:08d}" for i in range(2500)]
    people.write_text("name,email,phone\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ctx = await chromium.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await sign_in_page(page, server.url, f"/jobs/{job['id']}")
    await page.set_input_files("#import-file", str(people))
    await page.click("#import-preview")
    await page.wait_for_selector("#import-go:not([disabled])", timeout=20_000)
    assert "2500" in (await page.text_content("#import-summary") or "")
    # Record every text the summary shows while the rows are written.
    await page.evaluate(
        """() => { window.__said = []; const el = document.getElementById('import-summary');
        new MutationObserver(() => window.__said.push(el.textContent))
          .observe(el, {childList: true, characterData: true, subtree: true}); }"""
    )
    await page.click("#import-go")
    await page.wait_for_function(
        "() => document.getElementById('import-summary').textContent.includes('2500 candidate')",
        timeout=60_000,
    )
    said = await page.evaluate("window.__said")
    # Lines that reach the page in one read are shown in one task, so the observer may see
    # only the last of them: at least one step, in order, before the result.
    steps = [int(m.group(1)) for t in said if (m := PROGRESS.fullmatch(t))]
    assert steps and steps == sorted(steps) and steps[0] < 2500, said
    assert not PROGRESS.fullmatch(said[-1]), "the result replaces the progress"
    assert await page.is_hidden("#import-progress")  # the bar goes once the import is done
    board = await (await server.api.get(f"/api/jobs/{job['id']}/pipeline?limit=1")).json()
    assert board["counts"]["screened"] == 2500
    await ctx.close()


__all__ = ["fake_camera_y4m", "smtp"]
