"""Real Chromium: the jobs page shows rating anchors and scores a sample answer (preview)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.scoring.answers import SPECIFIC_EN
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.browser


async def test_the_jobs_page_previews_a_score_matching_the_api(
    live_server: LiveServer, browser_factory: Any
) -> None:
    job = await (
        await live_server.api.post(
            "/api/jobs",
            json={"title": "Engineer", "language": "en", "template": "software_engineer"},
        )
    ).json()
    expected = await (
        await live_server.api.post(
            f"/api/jobs/{job['id']}/score-preview",
            json={"question_id": "lt-1", "text": SPECIFIC_EN},
        )
    ).json()
    score = round(expected["competencies"][0]["score"])

    ctx = await browser_factory("hr")
    page = await ctx.new_page()
    await page.goto(f"{live_server.url}/login?next=/jobs%3Fjob%3D{job['id']}")
    await page.fill("#email", ADMIN_EMAIL)
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#preview-card:not(.hidden)")

    # The anchors of each competency are listed with the model.
    first = page.locator("#summary tbody tr").first.locator("details")
    assert (await first.locator("summary").text_content()) == "1 · 3 · 5"

    await page.select_option("#preview-question", "lt-1")
    await page.fill("#preview-text", SPECIFIC_EN)
    await page.click("#preview-form button[type=submit]")
    result = page.locator("#preview-result .preview-score")
    await result.first.wait_for()
    assert (await result.first.text_content()) == f"Score {score} / 100"
    assert await page.locator("#preview-result table q").count() > 0

    # Mandarin page strings.
    await page.goto(f"{live_server.url}/jobs?lang=zh&job={job['id']}")
    await page.wait_for_selector("#preview-card:not(.hidden)")
    assert (await page.locator("#preview-card h2").text_content()) == "评分预览"
