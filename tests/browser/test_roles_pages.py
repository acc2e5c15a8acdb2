"""Real Chromium: an owner adds a hiring manager on the jobs page; pages follow each role."""

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
    users = {}
    for email, role in (
        ("owner@example.com", "recruiter"),
        ("hm@example.com", "hiring_manager"),
        ("iv@example.com", "interviewer"),
    ):
        resp = await live_server.api.post(
            "/api/users", json={"email": email, "password": PASSWORD, "role": role}
        )
        assert resp.status == 201
        users[role] = (await resp.json())["id"]
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
        "() => document.getElementById('members').textContent.includes('用人经理')"
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

    # An interview on the job: the manager reviews and decides but has no PDF export; the
    # interviewer it is assigned to watches and takes notes but cannot put questions.
    api = live_server.api
    [job] = [j for j in await (await api.get("/api/jobs")).json() if j["title"] == "班组长"]
    model = {"key": "production_supervisor"}
    assert (
        await api.post(f"/api/jobs/{job['id']}/competency-model/from-template", json=model)
    ).status == 200
    cand = await (await api.post("/api/candidates", json={"name": "王芳"})).json()
    iv = await (
        await api.post("/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]})
    ).json()
    access = {"user_id": users["interviewer"]}
    assert (await api.post(f"/api/interviews/{iv['id']}/access", json=access)).status == 200
    await page.goto(f"{live_server.url}/review/{iv['id']}")
    await page.wait_for_function(
        "() => document.getElementById('who').textContent.includes('王芳')"
    )
    await page.wait_for_selector("#pdf-link", state="hidden")
    assert await page.locator("[data-decision=hold]").is_visible()

    ctx = await browser_factory("interviewer")
    page = await ctx.new_page()
    await sign_in_as(page, live_server.url, "iv@example.com", f"/observe/{iv['id']}")
    await page.wait_for_function(
        "() => document.getElementById('who').textContent.includes('王芳')"
    )
    await page.wait_for_selector("#inject-form", state="hidden")
    assert await page.locator("#save-note").is_visible()
