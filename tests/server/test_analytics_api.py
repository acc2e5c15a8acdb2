"""Analytics API: funnel, time, agreement with intervals by scorer version, CSV export."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.server.test_reports import api, clock, logged_interview  # noqa: F401

Client = TestClient[web.Request, web.Application]


async def seed(
    api: Client,  # noqa: F811
    interviews: int = 4,
) -> tuple[str, list[str]]:
    """A job with finished interviews, each rated; the first advanced, the second rejected."""
    job = await (
        await api.post(
            "/api/jobs",
            json={"title": "Engineer", "language": "en", "template": "software_engineer"},
        )
    ).json()
    cand = await (await api.post("/api/candidates", json={"name": "Chen Jie"})).json()
    iids = [await logged_interview(api, job["id"], cand["id"], i) for i in range(interviews)]
    for n, iid in enumerate(iids):
        score = await (await api.get(f"/api/interviews/{iid}/score")).json()
        for c in score["competencies"]:
            if c["score"] is not None:
                value = max(1, min(5, 1 + round(c["score"] / 25) + (n % 2)))
                resp = await api.post(
                    f"/api/interviews/{iid}/ratings",
                    json={"competency_id": c["competency_id"], "score": value},
                )
                assert resp.status == 201
    for iid, decision in zip(iids, ("advance", "reject"), strict=False):
        resp = await api.post(f"/api/interviews/{iid}/decision", json={"decision": decision})
        assert resp.status in (200, 201), await resp.text()
    return job["id"], iids


async def test_job_analytics_count_the_funnel_and_measure_agreement(
    api: Client,  # noqa: F811
) -> None:
    job_id, iids = await seed(api)
    data: dict[str, Any] = await (await api.get(f"/api/jobs/{job_id}/analytics")).json()
    stages = {s["stage"]: s["count"] for s in data["funnel"]}
    assert stages["invited"] == stages["finished"] == stages["reviewed"] == len(iids)
    assert stages["decided"] == 2 and stages["advanced"] == 1
    assert data["time_saved"]["interviews"] == len(iids)
    pooled = [a for a in data["agreement"] if a["competency_id"] == "all"]
    assert [a["scorer_version"] for a in pooled] == ["default-2"]
    agreement = pooled[0]["agreement"]
    assert agreement["n"] >= 6
    pearson = agreement["pearson"]
    assert pearson["low"] <= pearson["value"] <= pearson["high"]
    assert data["fairness"]["collected"] is False

    org = await (await api.get("/api/analytics")).json()
    assert {s["stage"]: s["count"] for s in org["funnel"]}["invited"] == len(iids)

    resp = await api.get(f"/api/jobs/{job_id}/analytics?format=csv&table=funnel")
    assert resp.status == 200 and resp.content_type == "text/csv"
    lines = (await resp.text()).splitlines()
    assert lines[0] == "stage,count,conversion" and lines[1].startswith(f"invited,{len(iids)}")
    resp = await api.get(f"/api/jobs/{job_id}/analytics?format=csv&table=nope")
    assert resp.status == 400
