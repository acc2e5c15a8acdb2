"""Real Chromium: an admin creates a planned interview from the admin page and gets the link."""

from __future__ import annotations

import pytest

from tests.browser.conftest import BrowserFactory, LiveServer
from tests.browser.test_live_room import sign_in_page

pytestmark = pytest.mark.browser


async def test_admin_page_creates_an_interview_from_a_template(
    live_server: LiveServer,
    browser_factory: BrowserFactory,
) -> None:
    ctx = await browser_factory("admin")
    page = await ctx.new_page()
    await sign_in_page(page, live_server.url, "/")
    await page.wait_for_selector("#template option[value=customer_service]", state="attached")
    await page.fill("#job", "Support agent")
    await page.select_option("#language", "zh")
    await page.select_option("#template", "customer_service")
    await page.fill("#cand", "王芳")
    await page.click("#create button[type=submit]")
    await page.wait_for_selector("#invite:not(.hidden)")
    link = await page.text_content("#invite-url")
    assert link and "/i/" in link
    await page.wait_for_selector("#list tr")
    assert "王芳" in (await page.text_content("#list") or "")
    jobs = await (await live_server.api.get("/api/jobs")).json()
    [job] = [j for j in jobs if j["title"] == "Support agent"]
    assert job["language"] == "zh" and job["competency_model"]["language"] == "zh"
    await page.click("#lang")  # the page switches language in place
    assert "面试" in (await page.text_content("body") or "")
