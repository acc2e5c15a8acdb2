"""Real Chromium on the review page of a finished interview: play, click a line, see it seek.

The candidate is an aiortc client streaming real speech and a test pattern; what was said
is injected at the room's transcript seam, so no speech model is needed. The printable
report of the same interview is rendered with poppler and checked for ink.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from tests.browser.conftest import BrowserFactory, LiveServer
from tests.browser.test_live_room import sign_in_page
from tests.media_files import speech_file, to_wav
from tests.server.helpers import consent, make_settings, sign_in
from tests.server.test_live_media import wait_for_event
from tests.server.test_reports import (
    STRONG,
    VAGUE,
    assert_pdf_first_page_not_blank,
    logged_interview,
    run_interview,
)

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PLAN = {
    "question_count": 3,
    "transcript_grace": 0,
    "include_practice": False,
    "max_followups_per_question": 0,
}


@pytest.fixture
async def live_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The app without the transcript-of-record pass.

    This test types its answers in as live finals over unrelated real speech (the audio is
    there for the recording); a record pass would replace them with what the speech says.
    The record pass itself: tests/server/test_record_transcript.py and tests/asr/test_record.py.
    """
    app = create_app(make_settings(tmp_path, asr={"enabled": True, "record": False}))
    server = TestServer(app, host="127.0.0.1")
    async with TestClient(server) as api:
        await sign_in(api)
        yield LiveServer(url=str(server.make_url("")).rstrip("/"), api=api)


async def finished_interview(live_server: LiveServer, tmp_path: Path) -> dict[str, Any]:
    api = live_server.api
    job = await (
        await api.post(
            "/api/jobs",
            json={
                "title": "Software engineer",
                "language": "en",
                "template": "software_engineer",
                "plan_settings": PLAN,
            },
        )
    ).json()
    cand = await (await api.post("/api/candidates", json={"name": "Han Meimei"})).json()
    resp = await api.post("/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]})
    iv: dict[str, Any] = dict(await resp.json())
    await consent(api, iv["invite_token"])
    wav = to_wav(speech_file(tmp_path), tmp_path / "mic.wav")
    await run_interview(
        api,
        iv,
        lambda i, _q: VAGUE if i == 1 else STRONG,
        asyncio.sleep,
        audio_file=wav,
        answer_seconds=2.5,
    )
    await wait_for_event(api, iv["id"], "recording_finalized")
    return iv


async def test_review_page_plays_seeks_rates_and_decides(
    live_server: LiveServer,
    browser_factory: BrowserFactory,
    tmp_path: Path,
) -> None:
    iv = await finished_interview(live_server, tmp_path)
    ctx = await browser_factory("reviewer")
    page = await ctx.new_page()
    await sign_in_page(page, live_server.url, f"/review/{iv['id']}")
    await page.wait_for_function(
        "() => document.getElementById('player').readyState >= 1", timeout=20000
    )
    await page.wait_for_selector("#transcript li", timeout=10000)
    await page.wait_for_selector("#scores .score-row", timeout=10000)
    assert await page.locator("#bar .marker[data-kind=plan]").count() == 3

    await page.evaluate("document.getElementById('player').play()")
    await page.wait_for_function(
        "() => document.getElementById('player').currentTime > 0.3", timeout=15000
    )

    # Click the last transcript line: the player seeks to its time in the segment.
    segments = await (await live_server.api.get(f"/api/interviews/{iv['id']}/recordings")).json()
    start = next(s for s in segments if s["status"] == "final")["start"]
    line = page.locator("#transcript li").last
    line_t = float(await line.get_attribute("data-t") or 0)
    await page.evaluate("document.getElementById('player').pause()")
    await page.evaluate("document.getElementById('player').currentTime = 0")
    await line.click()
    target = line_t - start
    assert target > 1.0, target
    await page.wait_for_function(
        f"() => Math.abs(document.getElementById('player').currentTime - {target}) < 1.0",
        timeout=10000,
    )
    await page.wait_for_function(
        "() => document.querySelector('#transcript li.current') !== null", timeout=10000
    )

    # Jump to evidence from a score.
    quote = page.locator("#scores .quote").first
    quote_t = float(await quote.get_attribute("data-t") or 0)
    await quote.click()
    await page.wait_for_function(
        f"() => Math.abs(document.getElementById('player').currentTime - {quote_t - start}) < 1.0",
        timeout=10000,
    )

    # Rate one competency and record a decision, with person and time. A language switch
    # before saving re-renders the form: the unsaved choice stays.
    form = page.locator("form.rating").first
    await form.locator("select").select_option("4")
    await form.locator("textarea").fill("Clear root-cause story.")
    await page.click("#lang")
    assert await form.locator("select").input_value() == "4"
    assert await form.locator("textarea").input_value() == "Clear root-cause story."
    await page.click("#lang")
    async with page.expect_response(lambda r: r.url.endswith("/report.json")) as refreshed:
        await form.locator("button[type=submit]").click()
    assert (await refreshed.value).ok
    # the report refreshed after the save: the form was drawn again and still says so
    await page.wait_for_function(
        "() => document.querySelector('form.rating span[role=status]').textContent === 'Saved'",
        timeout=10000,
    )
    rated = await live_server.api.get(f"/api/interviews/{iv['id']}/report.json")
    assert any(r["value"] == 4 for r in (await rated.json())["ratings"])
    await page.fill("#decision-note", "Strong debugging story.")
    await page.click("[data-decision=hold]")
    await page.wait_for_function(
        "() => document.getElementById('decided').textContent.includes('admin@example.com')",
        timeout=10000,
    )
    status = (await (await live_server.api.get(f"/api/interviews/{iv['id']}/decision")).json())[
        "status"
    ]
    assert status["status"] == "on_hold" and status["decision"]["person"] == "admin@example.com"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=True)

    report = await ctx.new_page()
    await report.goto(f"{live_server.url}/report/{iv['id']}")
    await report.wait_for_selector("#diffs tbody tr", timeout=10000)
    await report.screenshot(path=str(ARTIFACTS / "report-page.png"), full_page=True)

    pdf = await live_server.api.get(f"/api/interviews/{iv['id']}/report.pdf")
    assert pdf.status == 200
    assert_pdf_first_page_not_blank(await pdf.read(), tmp_path, "report-browser")


async def test_review_page_charts_full_mode_face_measures_on_the_time_axis(
    live_server: LiveServer,
    browser_factory: BrowserFactory,
    tmp_path: Path,
) -> None:
    from analysis.events import FaceSampled
    from server.services import SERVICES

    iv = await finished_interview(live_server, tmp_path)
    events = live_server.api.app[SERVICES].events
    for i in range(5):
        await events.append(
            FaceSampled(
                interview_id=iv["id"],
                t=1.0 + i,
                mode="full",
                present=True,
                faces=1,
                facing=True,
                smile=0.2 * i,
                mouth_open=0.1,
            )
        )
    ctx = await browser_factory("charts")
    page = await ctx.new_page()
    await sign_in_page(page, live_server.url, f"/review/{iv['id']}")
    await page.wait_for_selector("#delivery polyline[data-measure=smile]", state="attached")
    points = await page.get_attribute("#delivery polyline[data-measure=smile]", "points")
    assert points is not None and len(points.split()) == 5


async def test_the_rating_form_shows_each_competencys_anchors(
    live_server: LiveServer, browser_factory: BrowserFactory
) -> None:
    job = await (
        await live_server.api.post(
            "/api/jobs",
            json={"title": "Engineer", "language": "en", "template": "software_engineer"},
        )
    ).json()
    cand = await (await live_server.api.post("/api/candidates", json={"name": "Wu Hao"})).json()
    iid = await logged_interview(live_server.api, job["id"], cand["id"], 3)
    report = (await (await live_server.api.get(f"/api/interviews/{iid}/report.json")).json())
    competencies = report["report"]["score"]["competencies"]
    ctx = await browser_factory("anchors")
    page = await ctx.new_page()
    await sign_in_page(page, live_server.url, f"/review/{iid}")
    await page.wait_for_selector("form.rating dl.anchors dd", state="attached", timeout=20000)
    for c in competencies:
        shown = page.locator(f"form.rating[data-competency='{c['competency_id']}'] dl.anchors dd")
        texts = [t.strip() for t in await shown.all_text_contents()]
        assert texts == [c["anchors"][level] for level in ("1", "3", "5")], c["competency_id"]
