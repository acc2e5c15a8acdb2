"""Live ratings and observer notes appear in the report; a confirmed one counts as a rating."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from analysis.events import LiveRatingGiven, ObserverNoteAdded
from tests.server.helpers import ADMIN_EMAIL, services_of
from tests.server.test_reports import api, clock, logged_interview  # noqa: F401

NOTE = "Strong on root cause; probe the design trade-offs."


async def test_live_ratings_and_notes_show_and_a_confirmed_one_is_a_rating(
    api: TestClient[web.Request, web.Application],  # noqa: F811
) -> None:
    job = await (
        await api.post(
            "/api/jobs",
            json={"title": "Engineer", "language": "en", "template": "software_engineer"},
        )
    ).json()
    cand = await (await api.post("/api/candidates", json={"name": "Wang Fang"})).json()
    iid = await logged_interview(api, job["id"], cand["id"], 2)
    events = services_of(api).events
    for t, score in ((50.0, 3), (70.0, 4)):  # the newest live rating counts
        await events.append(
            LiveRatingGiven(
                interview_id=iid, t=t, by=ADMIN_EMAIL, competency="logical_thinking",
                score=score, question_id="q0",
            )
        )
    await events.append(
        ObserverNoteAdded(interview_id=iid, t=80.0, by=ADMIN_EMAIL, text=NOTE, question_id="q0")
    )

    view: dict[str, Any] = await (await api.get(f"/api/interviews/{iid}/report.json")).json()
    ratings = [x for x in view["live"] if x["kind"] == "rating"]
    notes = [x for x in view["live"] if x["kind"] == "note"]
    assert [(r["competency_id"], r["score"], r["confirmed"]) for r in ratings] == [
        ("logical_thinking", 4, False)
    ]
    assert [n["text"] for n in notes] == [NOTE]
    assert view["ratings"] == []

    resp = await api.post(
        f"/api/interviews/{iid}/ratings",
        json={"competency_id": "logical_thinking", "score": 4, "note": "Confirmed live rating"},
    )
    assert resp.status == 201
    view = await (await api.get(f"/api/interviews/{iid}/report.json")).json()
    [rating] = [x for x in view["live"] if x["kind"] == "rating"]
    assert rating["confirmed"] is True
    # Now a human rating like any other: it is compared with the AI and used in calibration.
    [human] = view["ratings"]
    assert human["competency_id"] == "logical_thinking" and human["value"] == 4
    diff = next(
        d for d in view["report"]["rating_differences"] if d["competency_id"] == "logical_thinking"
    )
    assert diff["human"] == 75
