"""Real Chromium: the jobs page loads a template, shows server validation errors in Chinese."""

from __future__ import annotations

import pytest

from tests.browser.conftest import BrowserFactory, LiveServer
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_jobs_page_loads_a_template_and_shows_errors_in_chinese(
    live_server: LiveServer, browser_factory: BrowserFactory
) -> None:
    job = await (
        await live_server.api.post("/api/jobs", json={"title": "班组长", "language": "zh"})
    ).json()
    ctx = await browser_factory("hr")
    page = await ctx.new_page()
    wanted = f"/jobs?lang=zh&job={job['id']}"
    await page.goto(f"{live_server.url}{wanted}")
    await page.wait_for_url("**/login?next=*")  # not signed in yet: the page sends us there
    await page.fill("#email", ADMIN_EMAIL)
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#job:not(.hidden)")  # back on the job asked for
    assert page.url == f"{live_server.url}{wanted}"

    await page.select_option("#template", "production_supervisor")
    await page.click("#template-form button[type=submit]")
    await page.wait_for_function(
        "() => document.getElementById('yaml').value.includes('weight: 40')"
    )
    assert await page.locator("#summary tbody tr").count() == 3
    assert await page.get_attribute("#download", "href") == (
        f"/api/jobs/{job['id']}/competency-model.yaml"
    )

    text = await page.input_value("#yaml")
    await page.fill("#yaml", text.replace("weight: 40", "weight: 30", 1))
    await page.click("#save")
    problem = page.locator("#cm-errors li").first
    await problem.wait_for()
    assert "权重之和必须为 100，目前为 90" in (await problem.text_content() or "")

    await page.fill("#yaml", "id: x\ncompetencies: [unclosed\n")
    await page.click("#save")
    await page.wait_for_function(
        "() => document.getElementById('cm-errors').textContent.includes('YAML 格式错误：第')"
    )
    stored = await (await live_server.api.get(f"/api/jobs/{job['id']}/competency-model")).json()
    assert stored["competencies"][0]["weight"] == 40
