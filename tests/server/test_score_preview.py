"""Score preview: HR scores a sample answer against a job's model before using it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from analysis.competency.templates import load_template
from analysis.scoring import answer_from_text, score_interview
from tests.scoring.answers import SPECIFIC_EN, SPECIFIC_ZH

Client = TestClient[web.Request, web.Application]

HELPING_EN = (
    "When a new colleague joined our team she was stuck for days on our deployment scripts. "
    "I sat with her every afternoon for a week, showed her how our release process works and "
    "wrote a short guide together with her. She felt much more confident and after two weeks "
    "she was reviewing other people's changes and helping the next new hire."
)


async def _job(client: Client, language: str = "en") -> str:
    resp = await client.post(
        "/api/jobs",
        json={"title": "Engineer", "language": language, "template": "software_engineer"},
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def _preview(client: Client, job_id: str, **body: Any) -> Any:
    resp = await client.post(f"/api/jobs/{job_id}/score-preview", json=body)
    return resp.status, await resp.json()


async def test_the_preview_is_the_per_competency_result_the_report_would_show(
    admin: Client,
) -> None:
    job_id = await _job(admin)
    status, body = await _preview(admin, job_id, question_id="lt-1", text=SPECIFIC_EN)
    assert status == 200, body
    assert body["scorer_version"] == "default-2"
    [competency] = body["competencies"]
    assert competency["competency_id"] == "logical_thinking"
    model = load_template("software_engineer", "en")
    answer = answer_from_text(
        "lt-1", SPECIFIC_EN, "en",
        question_text=model.competency("logical_thinking").questions[0].text,
        competency_ids=["logical_thinking"],
    )
    expected = score_interview("x", [answer], model).competency("logical_thinking")
    assert competency["score"] == expected.score
    assert competency["anchors"]["5"] == expected.anchors[5]
    assert any(c["quotes"] for c in competency["answers"][0]["contributions"])


async def test_the_preview_works_in_mandarin_and_flags_another_competency(
    admin: Client,
) -> None:
    zh = await _job(admin, "zh")
    status, body = await _preview(admin, zh, question_id="lt-1", text=SPECIFIC_ZH, language="zh")
    assert status == 200 and body["competencies"][0]["status"] == "scored"
    en = await _job(admin)
    status, body = await _preview(admin, en, question_id="lt-1", text=HELPING_EN)
    answer = body["competencies"][0]["answers"][0]
    assert answer["reasons"][0]["code"] == "off_competency"
    assert answer["shown_competency"] == "collaboration"


async def test_an_unknown_question_or_empty_text_is_refused_clearly(admin: Client) -> None:
    job_id = await _job(admin)
    status, body = await _preview(admin, job_id, question_id="nope", text="Some answer.")
    assert status == 400 and "lt-1" in body["message"] and body["error"] == "unknown_question"
    status, body = await _preview(admin, job_id, question_id="lt-1", text="")
    assert status == 400
