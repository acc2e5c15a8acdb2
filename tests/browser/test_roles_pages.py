"""Real Chromium: a job's owner adds a hiring manager on the jobs page; the manager reads only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "a long password for roles"


async def sign_in_as(page: Any, base: str, email: str, next_path: str) -> None:
    """Sign in through the login page and land on ``next_path``."""
    await page.goto(f"{base}/login?next={next_path}")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)


async def test_an_owner_adds_a_hiring_manager_who_then_reads_the_job(
    live_server: LiveServer, browser_factory: Any
) -> None:
    for email, role in (("owner@example.com", "recruiter"), ("hm@example.com", "hiring_manager")):
        resp = await live_server.api.post(
            "/api/users", json={"email": email, "password": PASSWORD, "role": role}
        )
        assert resp.status == 201
    ctx = await browser_factory("owner")
    page = await ctx.new_page()
    await sign_in_as(page, live_server.url, "owner@example.com", "/jobs?lang=zh")
    await page.fill("#new-title", "班组长")
    await page.click("#new-job button[type=submit]")
    await page.wait_for_selector("#members-card:not(.hidden) #members tr")
    assert "负责人" in await page.text_content("#members")
    await page.fill("#member-email", "hm@example.com")
    await page.click("#add-member button[type=submit]")
    await page.wait_for_function(
        "document.getElementById('members').textContent.includes('用人经理')"
    )

    ctx = await browser_factory("hm")
    page = await ctx.new_page()
    await sign_in_as(page, live_server.url, "hm@example.com", "/jobs")
    await page.wait_for_selector("#jobs tr")
    assert await page.locator("#new-job").is_hidden()
    await page.click("#jobs tr button")
    await page.wait_for_selector("#members-card:not(.hidden) #members tr")
    assert await page.locator("#add-member").is_hidden()
    assert await page.locator("#read-only").is_visible()
    assert await page.locator("#members button").count() == 0
    # The interviews page offers no "new interview" form to a hiring manager.
    await page.goto(f"{live_server.url}/")
    await page.wait_for_selector("#list-card:not(.hidden)")
    assert await page.locator("#create-card").is_hidden()
