"""Real Chromium: an admin edits a message template, sees it previewed, saves and resets it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.workflow.messages import default_template
from tests.browser.conftest import BrowserFactory, LiveServer
from tests.browser.test_live_room import sign_in_page
from tests.server.helpers import make_settings, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    srv = TestServer(create_app(make_settings(tmp_path)), host="127.0.0.1")
    async with TestClient(srv) as api:
        await sign_in(api)
        yield LiveServer(url=str(srv.make_url("")).rstrip("/"), api=api)


async def test_an_admin_edits_previews_saves_and_resets_a_template_in_chinese(
    server: LiveServer, browser_factory: BrowserFactory
) -> None:
    ctx = await browser_factory("admin")
    page = await ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await sign_in_page(page, server.url, "/")
    # The admin page links to the editor.
    await page.click("#templates-link")
    await page.wait_for_url(lambda url: url.endswith("/message-templates"))
    await page.goto(f"{server.url}/message-templates?lang=zh")
    await page.wait_for_selector("#tpl-list tr[data-key=invite]")
    assert await page.locator("#tpl-list tr").count() == 8
    assert "企业微信" in (await page.text_content("#tpl-list tr[data-key=hr_completion]") or "")
    await page.click("#tpl-list tr[data-key=invite] .tpl-edit[data-lang=zh]")
    await page.wait_for_selector("#editor:not(.hidden)")
    assert await page.input_value("#tpl-subject") == default_template("invite", "zh").subject

    # A placeholder the invitation does not have: refused, in Chinese, on the right field.
    await page.fill("#tpl-text", "$name 您好，薪资 $salary。链接：$url")
    await page.click("#tpl-preview")
    await page.wait_for_function("() => document.getElementById('tpl-error').textContent !== ''")
    assert "$salary" in (await page.text_content("#tpl-error") or "")
    assert "占位符" in (await page.text_content("#tpl-error") or "")
    assert await page.get_attribute("#tpl-text", "aria-invalid") == "true"
    assert await page.is_hidden("#preview")

    # Fixed with the placeholder chips: the preview shows the sample data.
    await page.fill("#tpl-text", "")
    await page.click("#tpl-text")
    await page.click("#placeholders .tpl-chip:has-text('$name')")
    await page.type("#tpl-text", " 您好，请点击：")
    await page.click("#placeholders .tpl-chip:has-text('$url')")
    await page.fill("#tpl-subject", "$job 面试邀请")
    await page.fill("#tpl-html", "<p>$name 您好</p><p><a href='$url'>开始面试</a></p>")
    await page.click("#tpl-preview")
    await page.wait_for_selector("#preview:not(.hidden)")
    assert await page.text_content("#pv-subject") == "后端工程师 面试邀请"
    text = await page.text_content("#pv-text")
    assert text == "张伟 您好，请点击：https://candor.example.com/i/SAMPLE-TOKEN"
    link = page.locator("#pv-html a")
    assert await link.get_attribute("href") == "https://candor.example.com/i/SAMPLE-TOKEN"
    assert await page.get_attribute("#tpl-text", "aria-invalid") is None
    listed = await (await server.api.get("/api/message-templates")).json()
    assert not any(t["edited"] for t in listed)  # previewing stores nothing

    await page.click("#tpl-form button[type=submit]")
    await page.wait_for_selector("#tpl-list tr[data-key=invite] .tpl-edited")
    await page.wait_for_function(
        "() => document.getElementById('tpl-status').textContent.includes('已保存')"
    )
    listed = await (await server.api.get("/api/message-templates")).json()
    [saved] = [t for t in listed if t["edited"]]
    assert (saved["key"], saved["language"], saved["subject"]) == ("invite", "zh", "$job 面试邀请")
    assert saved["text"] == "$name 您好，请点击：$url"

    await page.click("#tpl-reset")
    await page.wait_for_selector("#tpl-list tr[data-key=invite] .tpl-edited", state="detached")
    assert await page.input_value("#tpl-subject") == default_template("invite", "zh").subject
    listed = await (await server.api.get("/api/message-templates")).json()
    assert not any(t["edited"] for t in listed)

    # The same refusal in English once the page is switched.
    await page.click("#lang")
    await page.fill("#tpl-subject", "")
    await page.click("#tpl-form button[type=submit]")
    await page.wait_for_function(
        "() => document.getElementById('tpl-error').textContent.includes('subject')"
    )
    assert await page.get_attribute("#tpl-subject", "aria-invalid") == "true"
    assert not errors
