"""Real Chromium: an admin creates an API key (shown once) and a webhook endpoint on the admin
page, sees the delivery log, revokes the key; the API docs page renders the description."""

from __future__ import annotations

import pytest

from tests.browser.conftest import BrowserFactory, LiveServer
from tests.browser.test_live_room import sign_in_page

pytestmark = pytest.mark.browser


async def test_admin_manages_keys_and_webhooks_and_reads_the_api_docs(
    live_server: LiveServer,
    browser_factory: BrowserFactory,
) -> None:
    ctx = await browser_factory("admin")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in_page(page, live_server.url, "/")
    await page.wait_for_selector("#keys-card:not(.hidden)")
    await page.fill("#key-name", "HRMS")
    await page.check("#key-scopes input[value='results:read']")
    await page.click("#key-form button[type=submit]")
    await page.wait_for_selector("#key-once:not(.hidden)")
    key = await page.text_content("#key-value")
    assert key and key.startswith("cnd_")
    await page.wait_for_selector("#key-list tr button")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("#key-list tr button")
    await page.wait_for_function("() => !document.querySelector('#key-list tr button')")
    keys = await (await live_server.api.get("/api/keys")).json()
    assert keys[0]["revoked_at"]

    await page.fill("#hook-url", "http://127.0.0.1:9/hook")
    await page.click("#hook-form button[type=submit]")
    await page.wait_for_selector("#hook-once:not(.hidden)")
    assert (await page.text_content("#hook-secret") or "").startswith("whsec_")
    await page.wait_for_selector("#hook-list tr")
    await page.click("#lang")
    assert "签名" in (await page.text_content("#hooks-card") or "")

    docs = await ctx.new_page()
    await docs.goto(f"{live_server.url}/api/docs")
    await docs.wait_for_selector("#ops details")
    assert "/api/keys" in (await docs.text_content("#ops") or "")
    assert not errors, errors
