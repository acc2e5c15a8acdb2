"""Real Chromium: the candidate's self-service page on a phone, and the admin's audit page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.self_identification import CONSENT_VERSION as SELFID_VERSION
from tests.browser.conftest import LiveServer
from tests.browser.test_live_room import sign_in_page
from tests.server.helpers import make_settings, scored_job, sign_in
from tests.server.test_erasure import (
    NAME,
    SENTENCE,
    Client,
    answer_and_finish,
    interview_for,
    person,
)

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """The app on a loopback port, without the speech model (not needed here)."""
    app = create_app(make_settings(tmp_path))
    srv = TestServer(app, host="127.0.0.1")
    async with TestClient(srv) as api:
        await sign_in(api)
        yield LiveServer(url=str(srv.make_url("")).rstrip("/"), api=api)


async def finished_interview(api: Client, self_id: dict[str, Any] | None = None) -> str:
    """A finished, AI-scored interview (the candidate self-identified when ``self_id``);
    returns the candidate's self-service URL path."""
    job = await scored_job(api)
    cid = await person(api)
    iv = await interview_for(api, job["id"], cid)
    notice = await (await api.get(f"/api/join/{iv['invite_token']}")).json()
    await api.post(
        f"/api/join/{iv['invite_token']}/consent",
        json={"recording": True, "ai_analysis": True, "notice_version": notice["notice_version"]},
    )
    await answer_and_finish(api, iv["id"])
    assert (await api.get(f"/api/interviews/{iv['id']}/score")).status == 200
    if self_id is not None:
        body = {"consent": True, "consent_version": SELFID_VERSION, **self_id}
        resp = await api.post(f"/api/join/{iv['invite_token']}/self-id", json=body)
        assert resp.status == 201
    return "/my/" + str(iv["rights_url"]).split("/my/")[1]


async def test_the_self_service_page_works_on_a_phone_in_chinese(
    server: LiveServer,
    browser_factory: Any,
) -> None:
    path = await finished_interview(server.api, {"gender": "another", "age_band": "55_plus"})
    ctx = await browser_factory("phone")
    page = await ctx.new_page()
    await page.set_viewport_size(PHONE)
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(f"{server.url}{path}?lang=zh")
    await page.wait_for_selector("#content:not(.hidden)")
    assert await page.text_content("#name") == NAME
    body = await page.text_content("body") or ""
    assert "您的数据" in body and SENTENCE in body
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "nothing is wider than the phone's screen"
    download = await page.get_attribute("#download", "href")
    assert download and download.endswith("/export.json")

    # The person sees what they told for fairness checks, and withdraws it.
    await page.wait_for_selector("#selfid-box:not(.hidden)")
    assert "其他性别" in body and "55 岁及以上" in body
    await page.click("#selfid-withdraw")
    await page.wait_for_selector("#selfid-withdraw[disabled]", state="attached")
    assert "已撤回" in (await page.text_content("#selfid-state") or "")
    assert "其他性别" not in (await page.text_content("#interviews") or "")
    mine = await (await server.api.get(f"/api{path}")).json()
    assert mine["interviews"][0]["self_identification"] is None

    await page.click("#withdraw")
    await page.wait_for_selector("#withdraw[disabled]", state="attached")
    assert "已删除" in (await page.text_content("#ai-state") or "")
    assert SENTENCE not in (await page.text_content("#interviews") or "")

    await page.click("#delete")
    await page.wait_for_selector("#delete[disabled]", state="attached")
    assert "删除申请" in (await page.text_content("#delete-state") or "")
    await page.click("#lang")
    assert "deletion request" in (await page.text_content("#delete-state") or "")


async def test_the_audit_page_filters_and_verifies(
    server: LiveServer,
    browser_factory: Any,
) -> None:
    ctx = await browser_factory("auditor")
    page = await ctx.new_page()
    await sign_in_page(page, server.url, "/audit")
    await page.wait_for_selector("#entries tbody tr")
    await page.fill("#f-action", "login")
    await page.click("#filters button[type=submit]")
    # Every row shown is a sign-in (selectors only: the page's CSP forbids evaluated scripts).
    await page.wait_for_selector("#entries tbody tr:not([data-action='login'])", state="detached")
    assert await page.locator("#entries tbody tr[data-action='login']").count() >= 1
    assert "action=login" in (await page.get_attribute("#csv", "href") or "")
    await page.click("#verify")
    await page.wait_for_selector("#verified:not(:empty)")
    assert "intact" in (await page.text_content("#verified") or "")


async def test_an_admin_confirms_a_deletion_request_on_the_admin_page(
    server: LiveServer,
    browser_factory: Any,
) -> None:
    path = await finished_interview(server.api)
    token = path.split("/my/")[1]
    assert (await server.api.post(f"/api/my/{token}/erasure")).status == 202
    ctx = await browser_factory("admin")
    page = await ctx.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in_page(page, server.url, "/")
    await page.wait_for_selector("#erasure-box:not(.hidden) #erasures tr")
    assert NAME in (await page.text_content("#erasures") or "")
    await page.click("#erasures button")
    await page.wait_for_selector("#erasure-box.hidden", state="attached")
    gone = await server.api.get(f"/api/my/{token}")
    assert gone.status == 410
