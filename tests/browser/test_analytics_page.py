"""Real Chromium: the analytics page draws its charts and shows the API's numbers, including
fairness by self-identified group; the review page never shows anyone's self-identification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.server.helpers import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.server.test_analytics_api import seed_fairness

pytestmark = pytest.mark.browser

TABLES = ("funnel", "pipeline", "time", "satisfaction", "agreement", "fairness")


async def cell(page: Any, selector: str) -> str:
    return (await page.locator(selector).text_content() or "").strip()


async def test_the_analytics_page_matches_the_api(
    live_server: LiveServer, browser_factory: Any
) -> None:
    seeded = await seed_fairness(live_server.api, rate=True)
    job_id = seeded.job_id
    woman = next(i for i, g in seeded.groups.items() if g["gender"] == "female")
    for k in range(2):  # two applications in the job's pipeline, one invited
        resp = await live_server.api.post(
            f"/api/jobs/{job_id}/candidates", json={"name": f"P{k}", "email": f"p{k}@example.org"}
        )
        added = (await resp.json())["candidate_id"]
    resp = await live_server.api.post(
        f"/api/jobs/{job_id}/moves", json={"candidate_ids": [added], "stage": "invited"}
    )
    assert resp.status == 200

    ctx = await browser_factory("hr")
    page = await ctx.new_page()
    await page.goto(f"{live_server.url}/login?next=/review/{woman}")
    await page.fill("#email", ADMIN_EMAIL)
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    # The review page: rate one competency through its form (a measured review sitting).
    form = page.locator("form.rating").first
    await form.wait_for(timeout=20000)
    await form.locator("select[name=score]").select_option("4")
    await form.locator("button[type=submit]").click()
    await page.wait_for_function(
        "() => document.querySelector('form.rating span.muted').textContent !== ''"
    )
    html = (await page.content()).lower()
    shown = [w for w in ("female", "woman", "gender", "age_band", "35_44", "self-id") if w in html]
    assert not shown, shown

    data = await (await live_server.api.get(f"/api/jobs/{job_id}/analytics")).json()
    assert data["time_saved"]["human_measured_interviews"] == 1
    await page.goto(f"{live_server.url}/analytics?scope={job_id}")
    await page.wait_for_selector(f"body[data-loaded='{job_id}']")

    for stage in data["funnel"]:
        row = page.locator(f"#funnel tr[data-stage='{stage['stage']}'] td").nth(1)
        assert await row.text_content() == str(stage["count"])
    bars = page.locator("#funnel-chart rect.bar")
    assert await bars.count() == len(data["funnel"])
    assert await bars.first.get_attribute("data-value") == str(data["funnel"][0]["count"])

    for stage in data["pipeline"]:
        text = await cell(page, f"#pipeline tr[data-stage='{stage['stage']}'] td:nth-child(2)")
        assert text == str(stage["count"])
    assert await page.locator("#pipeline-chart rect.bar").count() == len(data["pipeline"])
    assert [s["count"] for s in data["pipeline"][:2]] == [2, 1]

    pooled = next(a for a in data["agreement"] if a["competency_id"] == "all")
    cells = page.locator("#agreement tr[data-competency='all'] td")
    assert await cells.nth(2).text_content() == str(pooled["agreement"]["n"])
    assert (await cells.nth(3).text_content() or "").startswith(
        f"{pooled['agreement']['pearson']['value']:.2f}"
    )
    assert await page.locator("#agreement-chart rect.bar").count() == len(data["agreement"])

    # time saved: every measure as the API gives it, and the AI / human bars
    for key, value in data["time_saved"].items():
        text = await cell(page, f"#time-table tr[data-measure='{key}'] td:nth-child(2)")
        assert (text == "—") if value is None else float(text) == value, key
    time_bars = page.locator("#time-chart rect.bar")
    assert await time_bars.count() == 2
    ai_bar = await time_bars.first.get_attribute("data-value")
    assert float(ai_bar or "nan") == data["time_saved"]["mean_interview_minutes"]

    # satisfaction: one bar per rating 1-5 with its count, the job's mean in the table
    sat = data["satisfaction"]
    sat_bars = page.locator("#satisfaction-chart rect.bar")
    assert [await sat_bars.nth(k).get_attribute("data-value") for k in range(5)] == [
        str(sat["overall"]["distribution"][str(k)]) for k in range(1, 6)
    ]
    assert await cell(page, f"#satisfaction tr[data-job='{job_id}'] td:nth-child(3)") == (
        f"{sat['by_job'][0]['satisfaction']['mean']:.2f}"
    )

    # fairness: per attribute a table and an impact-ratio chart; small groups suppressed
    fairness = data["fairness"]
    assert fairness["collected"]
    flagged = 0
    for attribute in fairness["attributes"]:
        name = attribute["attribute"]
        shown_groups = [g for g in attribute["groups"] if not g["suppressed"]]
        chart = page.locator(f"#fairness-chart-{name} rect.bar")
        assert await chart.count() == sum(g["impact_ratio"] is not None for g in shown_groups)
        for g in attribute["groups"]:
            row = f"#fairness-{name} tr[data-group='{g['group']}']"
            if g["suppressed"]:
                assert await page.locator(f"{row} td[data-field='suppressed']").count() == 1
                continue
            assert await cell(page, f"{row} td[data-field='n']") == str(g["n"])
            ratio = await cell(page, f"{row} td[data-field='impact_ratio']")
            if g["impact_ratio"] is not None:
                assert ratio.startswith(f"{g['impact_ratio']:.2f}")
            klass = await page.locator(f"{row} td[data-field='impact_ratio']").get_attribute(
                "class"
            )
            assert (klass == "flag") == g["flagged"]
            flagged += g["flagged"]
            assert await cell(page, f"{row} td[data-field='asr_confidence']") == (
                f"{g['asr_confidence']:.2f}"
            )
            assert await cell(page, f"{row} td[data-field='set_aside_share']") == (
                f"{round(100 * g['set_aside_share'])}%"
            )
    assert flagged >= 1
    assert await page.locator("#fairness rect.bar.flag").count() == flagged
    for table in TABLES:
        csv = await page.get_attribute(f"a.csv[data-table='{table}']", "href")
        assert csv == f"/api/jobs/{job_id}/analytics?format=csv&table={table}"
        resp = await live_server.api.get(csv)
        assert resp.status == 200 and resp.content_type == "text/csv"
    await page.screenshot(path=str(shot("analytics-page.png")), full_page=True)

    await page.goto(f"{live_server.url}/analytics?lang=zh&scope=org")
    await page.wait_for_selector("body[data-loaded='org']")
    assert await page.locator("h1").text_content() == "数据分析"
    assert await cell(page, "#fairness h3 >> nth=0") == "性别"
    assert await cell(page, "#fairness-gender tr[data-group='female'] td >> nth=0") == "女"
    await page.screenshot(path=str(shot("analytics-page-zh.png")), full_page=True)


def shot(name: str) -> Path:
    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out / name
