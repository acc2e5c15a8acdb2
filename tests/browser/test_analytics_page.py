"""Real Chromium: the analytics page draws its charts and shows the API's numbers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.server.test_analytics_api import seed

pytestmark = pytest.mark.browser


async def test_the_analytics_page_matches_the_api(
    live_server: LiveServer, browser_factory: Any
) -> None:
    job_id, _iids = await seed(live_server.api, interviews=3)
    data = await (await live_server.api.get(f"/api/jobs/{job_id}/analytics")).json()

    ctx = await browser_factory("hr")
    page = await ctx.new_page()
    await page.goto(f"{live_server.url}/login?next=/analytics%3Fscope%3D{job_id}")
    await page.fill("#email", ADMIN_EMAIL)
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector(f"body[data-loaded='{job_id}']")

    for stage in data["funnel"]:
        row = page.locator(f"#funnel tr[data-stage='{stage['stage']}'] td").nth(1)
        assert await row.text_content() == str(stage["count"])
    bars = page.locator("#funnel-chart rect.bar")
    assert await bars.count() == len(data["funnel"])
    assert await bars.first.get_attribute("data-value") == str(data["funnel"][0]["count"])

    pooled = next(a for a in data["agreement"] if a["competency_id"] == "all")
    cells = page.locator("#agreement tr[data-competency='all'] td")
    assert await cells.nth(2).text_content() == str(pooled["agreement"]["n"])
    assert (await cells.nth(3).text_content() or "").startswith(
        f"{pooled['agreement']['pearson']['value']:.2f}"
    )
    assert await page.locator("#agreement-chart rect.bar").count() == len(data["agreement"])
    csv = await page.get_attribute("a.csv[data-table='funnel']", "href")
    assert csv == f"/api/jobs/{job_id}/analytics?format=csv&table=funnel"

    await page.goto(f"{live_server.url}/analytics?lang=zh&scope=org")
    await page.wait_for_selector("body[data-loaded='org']")
    assert await page.locator("h1").text_content() == "数据分析"
    await page.screenshot(path=str(live_server_shot()))


def live_server_shot() -> Any:
    from pathlib import Path

    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out / "analytics-page.png"
