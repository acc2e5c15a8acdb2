"""The transcript of record replaces the live finals in scores and reports (issue 14).

Interviews are built from logged events (no speech model): the live final of an answer is
deliberately wrong, and a ``TranscriptRecord`` carries what was really said.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.events import (
    QuestionAnswered,
    QuestionShown,
    TranscriptFinal,
    TranscriptRecord,
    WordTiming,
)
from server.routes import reports as report_routes
from tests.server.helpers import AppClient, mark_finished, scored_job, services_of
from tests.server.test_interviewer_channels import ScriptedClock, make_client
from tests.server.test_reports import STRONG

WRONG = "The cat sat on the mat and the weather was nice today at the beach."
QUESTIONS = [
    ("logical_thinking", "Tell me about the hardest bug you have tracked down."),
    ("code_quality", "Tell me about a time you improved the quality of code."),
]


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


@pytest.fixture
async def api(tmp_path: Path, clock: ScriptedClock) -> AsyncIterator[AppClient]:
    client = await make_client(tmp_path, clock)
    yield client
    await client.close()


def timed_words(text: str, start: float, end: float) -> list[WordTiming]:
    """Words spread evenly over [start, end] (as a record pass would time them)."""
    parts = text.split()
    step = (end - start) / len(parts)
    return [
        WordTiming(word=f" {w}", start=start + i * step, end=start + (i + 1) * step,
                   probability=0.9)
        for i, w in enumerate(parts)
    ]


async def interview_with(
    api: AppClient, clock: ScriptedClock, record: str, record_at: datetime | None = None
) -> str:
    """A finished interview whose live finals are WRONG; ``record``: ready/pending/none."""
    job = await scored_job(api)
    cand = await (await api.post("/api/candidates", json={"name": "Li Lei"})).json()
    resp = await api.post("/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]})
    iid = str((await resp.json())["id"])
    svc = services_of(api)
    at = clock.now
    t = 5.0
    for k, (cid, text) in enumerate(QUESTIONS):
        qid = f"q{k}"
        await svc.events.append(QuestionShown(interview_id=iid, at=at, t=t, question_id=qid,
                                              text=text))
        await svc.events.append(TranscriptFinal(
            interview_id=iid, at=at, t=t + 40, utterance_id=f"{iid}-{k}", text=WRONG,
            language="en", start=t + 3, end=t + 38, avg_logprob=-0.1,
        ))
        await svc.events.append(QuestionAnswered(
            interview_id=iid, at=at, t=t + 41, question_id=qid, kind="main", competency_id=cid,
            transcript=WRONG, started=t + 1, ended=t + 39,
        ))
        if record != "none":
            await svc.events.append(TranscriptRecord(
                interview_id=iid, at=record_at or at, t=t + 41, question_id=qid,
                status="pending", language="en",
            ))
        if record == "ready":
            await svc.events.append(TranscriptRecord(
                interview_id=iid, at=at, t=t + 50, question_id=qid, status="ready",
                text=STRONG, words=timed_words(STRONG, t + 3, t + 38), language="en",
                start=t + 3, end=t + 38,
            ))
        t += 60
    await mark_finished(svc, iid, started_at=at - timedelta(minutes=5))
    return iid


def answers(score: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for c in score["competencies"] for a in c["answers"]]


async def test_the_record_transcript_replaces_a_wrong_live_final(
    api: AppClient, clock: ScriptedClock
) -> None:
    iid = await interview_with(api, clock, "ready")
    resp = await api.get(f"/api/interviews/{iid}/score")
    assert resp.status == 200, await resp.text()
    score = await resp.json()
    scored = answers(score)
    assert scored and all(a["transcript_source"] == "record" for a in scored)
    quotes = [q for a in scored for ev in a["indicators"] for q in ev["support"] + ev["against"]]
    assert quotes, "the record's sentences are cited"
    for q in quotes:
        assert q["text"] in STRONG and q["text"] not in WRONG
        assert 8.0 - 0.01 <= q["start"] <= q["end"] <= 103.01  # on the interview clock
    report = await (await api.get(f"/api/interviews/{iid}/report.json")).json()
    statuses = {q["question_id"]: q for q in report["questions"]}
    assert statuses["q0"]["transcript_status"] == "ready"
    assert statuses["q0"]["transcript"] == STRONG
    # the live finals stay in the log as what observers saw
    events = await (await api.get(f"/api/interviews/{iid}/events")).json()
    assert [e["text"] for e in events if e["type"] == "transcript_final"] == [WRONG, WRONG]


async def test_scoring_waits_for_a_pending_record_then_says_not_ready(
    api: AppClient, clock: ScriptedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_routes, "RECORD_POLL_S", 0.5)
    iid = await interview_with(api, clock, "pending")
    resp = await api.get(f"/api/interviews/{iid}/score")
    assert resp.status == 409
    body = await resp.json()
    assert body["error"] == "transcript_pending"
    assert "final transcript" in body["message"]


async def test_a_record_pass_that_timed_out_falls_back_to_the_live_finals(
    api: AppClient, clock: ScriptedClock
) -> None:
    old = clock.now - timedelta(seconds=3600)
    iid = await interview_with(api, clock, "pending", record_at=old)
    resp = await api.get(f"/api/interviews/{iid}/score")
    assert resp.status == 200, await resp.text()
    scored = answers(await resp.json())
    assert scored and all(a["transcript_source"] == "live" for a in scored)
    report = await (await api.get(f"/api/interviews/{iid}/report.json")).json()
    assert {q["transcript_status"] for q in report["questions"]} == {"pending"}


async def test_without_record_passes_scoring_uses_live_at_once(
    api: AppClient, clock: ScriptedClock
) -> None:
    iid = await interview_with(api, clock, "none")
    resp = await api.get(f"/api/interviews/{iid}/score")
    assert resp.status == 200
    assert all(a["transcript_source"] == "live" for a in answers(await resp.json()))


async def test_job_vocabulary_is_set_with_the_job_and_editable(api: AppClient) -> None:
    job = await (await api.post("/api/jobs", json={
        "title": "Payments engineer", "language": "zh", "vocabulary": [" Kubernetes ", "支付宝"],
    })).json()
    url = f"/api/jobs/{job['id']}/vocabulary"
    assert (await (await api.get(url)).json())["terms"] == ["Kubernetes", "支付宝"]
    resp = await api.put(url, json={"terms": ["PostgreSQL", "PostgreSQL", "  ", "微信支付"]})
    assert resp.status == 200
    assert (await (await api.get(url)).json())["terms"] == ["PostgreSQL", "微信支付"]
    resp = await api.put(url, json={"terms": ["x" * 61]})
    assert resp.status == 400
    assert "60 characters" in await resp.text()
    assert (await api.put(url, json={"terms": "not a list"})).status == 400


def test_record_at_is_timezone_aware() -> None:
    assert TranscriptRecord(interview_id="i", question_id="q").at.tzinfo is UTC
