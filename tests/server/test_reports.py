"""Scores with evidence, reports, human ratings and decisions, calibration: through the real app.

Finished interviews come from two places: the interview machine driven through the real
candidate channel, with recognised text injected at the room's transcript seam (no speech
model needed), and, for the many interviews calibration needs, events appended to the
event log directly.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import ClientSession

from analysis.events import TranscriptFinal, VoiceDeliverySummarized
from server.session_inputs import AnalyzerResult
from server.storage.models import HumanDecisionRow, Interview
from tests.client_peer import CandidateClient, PatternVideoTrack
from tests.server.helpers import (
    AppClient,
    log_answer,
    mark_finished,
    scored_job,
    services_of,
    sign_in,
)
from tests.server.test_interviewer_channels import (
    FAST_PLAN,
    ScriptedClock,
    make_client,
    planned_interview,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


@pytest.fixture
async def api(tmp_path: Path, clock: ScriptedClock) -> AsyncIterator[AppClient]:
    client = await make_client(tmp_path, clock)
    yield client
    await client.close()


ARTIFACTS = ROOT / "test-artifacts"

STRONG = (
    "Last year our checkout service started failing for 3 percent of users after a release. "
    "I owned the investigation as the on-call engineer for the payment code. "
    "I formed two hypotheses, a race condition in the payment cache or a bad database "
    "migration, and I tested each one with a small reproduction script. "
    "The logs showed the cache hypothesis was right, so I wrote a fix with 12 automated tests "
    "and asked a teammate to review the code. "
    "As a result the error rate dropped from 3 percent to 0.1 percent within two days, and I "
    "wrote a design note so others on the team could find the root cause of similar bugs."
)
VAGUE = (
    "We usually just fix things when they come up in the code. I think I would probably talk "
    "to the team and maybe look at the problem. It depends on the situation really, we "
    "generally try to do our best with the design."
)


async def _next_screen(cand: CandidateClient, timeout: float = 20) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = await cand.messages.get()
            if msg["type"] in ("show_question", "show_completion", "ended", "_closed"):
                return msg


async def run_interview(
    api: AppClient,
    iv: dict[str, Any],
    answer_for: Callable[[int, dict[str, Any]], str],
    wait: Callable[[float], Awaitable[None]],
    *,
    audio_file: Path | None = None,
    answer_seconds: float = 20.0,
) -> list[dict[str, Any]]:
    """Run the interview to its end; each answer's text is injected as a TranscriptFinal.

    ``wait`` moves time on (a scripted clock, or real sleep for a real recording).
    Returns the questions shown.
    """
    shown: list[dict[str, Any]] = []
    async with ClientSession() as http:
        cand = CandidateClient(str(api.make_url("")), iv["invite_token"], http)
        await cand.join(audio_file=audio_file, video=PatternVideoTrack())
        await cand.next_message("show_greeting")
        await cand.send({"type": "ready"})
        session = services_of(api).live.get(iv["id"])
        while True:
            msg = await _next_screen(cand)
            if msg["type"] != "show_question":
                break
            shown.append(msg)
            t0 = session.clock()
            await wait(answer_seconds)
            final = TranscriptFinal(
                interview_id=iv["id"],
                t=session.clock(),
                utterance_id=f"u{len(shown)}",
                language="en",
                text=answer_for(len(shown) - 1, msg),
                start=round(t0 + 0.2 * answer_seconds, 3),
                end=round(t0 + 0.9 * answer_seconds, 3),
                avg_logprob=-0.2,
            )
            # As from the transcriber: speech started, text, stopped, in the session's order.
            session.submit(AnalyzerResult(final))
            await cand.send({"type": "answer_done", "question_id": msg["question_id"]})
        if msg["type"] == "show_completion":
            await cand.next_message("ended")
        await cand.leave()
    return shown


async def finished_interview(api: AppClient, clock: ScriptedClock) -> dict[str, Any]:
    """A planned interview run to the end: strong first answer, vague second, then strong."""
    iv = await planned_interview(api, FAST_PLAN)

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    iv["shown"] = await run_interview(api, iv, lambda i, _q: VAGUE if i == 1 else STRONG, advance)
    return iv


async def _status(api: AppClient, iid: str) -> str:
    async with services_of(api).sessions() as session:
        row = await session.get(Interview, iid)
        assert row is not None
        return row.status


# -- scores -----------------------------------------------------------------------------


async def test_a_finished_interview_is_scored_with_evidence_and_stored_once(
    api: AppClient, clock: ScriptedClock
) -> None:
    iv = await finished_interview(api, clock)
    assert await _status(api, iv["id"]) == "finished"
    resp = await api.get(f"/api/interviews/{iv['id']}/score")
    assert resp.status == 200, await resp.text()
    score = await resp.json()
    assert score["scorer_version"] == "default-2"
    assert {c["competency_id"] for c in score["competencies"]} == {
        "logical_thinking",
        "code_quality",
        "collaboration",
    }
    scored = [c for c in score["competencies"] if c["status"] == "scored"]
    assert scored and score["total"] is not None
    quotes = [
        (a, q)
        for c in scored
        for a in c["answers"]
        for ev in a["indicators"]
        for q in ev["support"] + ev["against"]
    ]
    assert quotes, "scored competencies cite sentences"
    events = await (await api.get(f"/api/interviews/{iv['id']}/events")).json()
    finals = [e for e in events if e["type"] == "transcript_final"]
    spans = {e["question_id"]: e for e in events if e["type"] == "question_answered"}
    for answer, q in quotes:
        span = spans[answer["question_id"]]
        [final] = [
            f
            for f in finals
            if span["started"] - 1.5 <= (f["start"] + f["end"]) / 2 <= span["ended"] + 1.5
        ]
        assert q["text"] in final["text"]  # an exact quote of what was said ...
        assert final["start"] - 0.01 <= q["start"] <= q["end"] <= final["end"] + 0.01  # ... then
    # The same version never recomputes: the stored row comes back unchanged.
    clock.advance(3600)
    again = await (await api.get(f"/api/interviews/{iv['id']}/score")).json()
    assert again == score
    assert len(await (await api.get(f"/api/interviews/{iv['id']}/scores")).json()) == 1


async def test_a_running_interview_is_not_scored(api: AppClient) -> None:
    iv = await planned_interview(api, FAST_PLAN)
    resp = await api.get(f"/api/interviews/{iv['id']}/score")
    assert resp.status == 409
    assert (await resp.json())["error"] == "not_finished"


# -- report, ratings, decisions --------------------------------------------------------


async def test_report_shows_followups_ratings_beside_ai_and_focus_points(
    api: AppClient, clock: ScriptedClock, tmp_path: Path
) -> None:
    iv = await finished_interview(api, clock)
    score = await (await api.get(f"/api/interviews/{iv['id']}/score")).json()
    scored = next(c for c in score["competencies"] if c["score"] is not None)
    # A human disagrees by a lot (AI ≥ 0 vs human 1 → 0, or 5 → 100).
    human = 1 if scored["score"] >= 50 else 5
    resp = await api.post(
        f"/api/interviews/{iv['id']}/ratings",
        json={"competency_id": scored["competency_id"], "score": human, "note": "Disagree."},
    )
    assert resp.status == 201, await resp.text()
    rating = await resp.json()
    assert rating["rater"] == "admin@example.com" and rating["at"]

    for path in (f"/api/interviews/{iv['id']}/report", f"/api/interviews/{iv['id']}/report.json"):
        resp = await api.get(path)
        assert resp.status == 200, await resp.text()
    report = await resp.json()
    diff = next(
        d
        for d in report["report"]["rating_differences"]
        if d["competency_id"] == scored["competency_id"]
    )
    assert diff["ai"] == scored["score"] and diff["human"] in (0, 100)
    assert diff["highlighted"] is (abs(diff["ai"] - diff["human"]) >= 20)
    assert report["report"]["focus_points"], "low scores or gaps become focus points"
    assert report["ratings"][0]["note"] == "Disagree."
    assert [q["question_id"] for q in report["questions"]] == [
        q["question_id"] for q in iv["shown"]
    ]
    asked = [f for f in report["followups"] if f["outcome"] == "asked"]
    assert asked and all(f["reason"] for f in asked)
    assert report["report"]["status"]["status"] == "awaiting_review"
    assert report["score_versions"][0]["scorer_version"] == "default-2"

    page = await api.get(f"/report/{iv['id']}")
    assert page.status == 200 and "report.js" in await page.text()

    pdf = await api.get(f"/api/interviews/{iv['id']}/report.pdf")
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    data = await pdf.read()
    assert data.startswith(b"%PDF")
    assert_pdf_first_page_not_blank(data, tmp_path, "report-en")


def pdf_text(path: Path) -> str:
    """Text of page 1 (poppler's pdftotext)."""
    cmd = ["pdftotext", "-l", "1", str(path), "-"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def assert_pdf_first_page_not_blank(data: bytes, tmp_path: Path, name: str) -> Path:
    """Render page 1 with poppler and check it has ink; keep the PNG in test-artifacts/."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils is not installed")
    from PIL import Image

    src = tmp_path / f"{name}.pdf"
    src.write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(src), str(tmp_path / name)],
        check=True,
    )
    [png] = list(tmp_path.glob(f"{name}*.png"))
    ARTIFACTS.mkdir(exist_ok=True)
    kept = ARTIFACTS / f"{name}.png"
    shutil.copy(png, kept)
    gray = Image.open(png).convert("L")
    dark = int((np.asarray(gray) < 128).sum())
    assert dark > 500, f"page 1 looks blank ({dark} dark pixels)"
    return kept


async def test_ratings_are_checked_and_kept_per_reviewer(
    api: AppClient, clock: ScriptedClock
) -> None:
    iv = await finished_interview(api, clock)
    url = f"/api/interviews/{iv['id']}/ratings"
    bad = await api.post(url, json={"competency_id": "charisma", "score": 3})
    assert bad.status == 400 and "logical_thinking" in (await bad.json())["message"]
    assert (await api.post(url, json={"competency_id": "code_quality", "score": 6})).status == 400
    for value in (2, 4):
        clock.advance(60)
        assert (
            await api.post(url, json={"competency_id": "code_quality", "score": value})
        ).status == 201
    history = await (await api.get(url)).json()
    assert [r["score"] for r in history] == [2, 4]  # both kept, with times
    report = await (await api.get(f"/api/interviews/{iv['id']}/report.json")).json()
    assert [(r["competency_id"], r["value"]) for r in report["ratings"]] == [("code_quality", 4)]


async def test_only_a_recorded_human_decision_moves_or_rejects_a_candidate(
    api: AppClient, clock: ScriptedClock
) -> None:
    iv = await finished_interview(api, clock)
    # Scoring, reports and ratings never change the candidate's status.
    await api.get(f"/api/interviews/{iv['id']}/score")
    await api.get(f"/api/interviews/{iv['id']}/report.json")
    url = f"/api/interviews/{iv['id']}/decision"
    status = (await (await api.get(url)).json())["status"]
    assert status["status"] == "awaiting_review" and status["decision"] is None
    assert (await api.post(url, json={"decision": "fire"})).status == 400
    assert (await api.post(url, json={})).status == 400

    clock.advance(120)
    resp = await api.post(url, json={"decision": "reject", "note": "Not enough depth."})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["status"]["status"] == "rejected"
    decision = body["status"]["decision"]
    assert decision["person"] == "admin@example.com" and decision["note"] == "Not enough depth."
    assert decision["at"].startswith(clock.now.strftime("%Y-%m-%dT%H:%M"))
    resp = await api.post(url, json={"decision": "hold"})
    assert (await resp.json())["status"]["status"] == "on_hold"
    assert [d["decision"] for d in (await resp.json())["history"]] == ["reject", "hold"]
    async with services_of(api).sessions() as session:
        from sqlalchemy import select

        rows = (await session.scalars(select(HumanDecisionRow))).all()
    assert [(r.decision, r.person) for r in rows] == [
        ("reject", "admin@example.com"),
        ("hold", "admin@example.com"),
    ]
    assert await _status(api, iv["id"]) == "finished"  # the interview lifecycle is untouched


def test_no_server_code_names_the_rejected_status() -> None:
    """Rejected can only come from analysis/scoring/decisions.py via a HumanDecision."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "server").rglob("*.py")
        if '"rejected"' in p.read_text() or "'rejected'" in p.read_text()
    ]
    assert offenders == []


async def test_a_running_interview_cannot_be_decided(api: AppClient) -> None:
    iv = await planned_interview(api, FAST_PLAN)
    resp = await api.post(f"/api/interviews/{iv['id']}/decision", json={"decision": "reject"})
    assert resp.status == 409


# -- access control --------------------------------------------------------------------


async def test_every_endpoint_needs_sign_in_and_access(api: AppClient) -> None:
    iv = await planned_interview(api, FAST_PLAN)
    job_id = (await (await api.get(f"/api/interviews/{iv['id']}")).json())["job"]["id"]
    resp = await api.post(
        "/api/users",
        json={"email": "rec@example.com", "password": "a long password 1", "role": "recruiter"},
    )
    assert resp.status == 201
    i, j = iv["id"], job_id
    calls = [
        ("GET", f"/api/interviews/{i}/score", None),
        ("GET", f"/api/interviews/{i}/scores", None),
        ("GET", f"/api/interviews/{i}/report", None),
        ("GET", f"/api/interviews/{i}/report.json", None),
        ("GET", f"/api/interviews/{i}/report.pdf", None),
        ("GET", f"/report/{i}", None),
        ("GET", f"/api/interviews/{i}/ratings", None),
        ("POST", f"/api/interviews/{i}/ratings", {"competency_id": "code_quality", "score": 3}),
        ("GET", f"/api/interviews/{i}/decision", None),
        ("POST", f"/api/interviews/{i}/decision", {"decision": "reject"}),
        ("GET", f"/api/jobs/{j}/scoring", None),
        ("PUT", f"/api/jobs/{j}/scoring", {"threshold": 10}),
        ("POST", f"/api/jobs/{j}/calibrate", None),
        ("GET", f"/api/jobs/{j}/calibration", None),
        ("GET", f"/api/jobs/{j}/calibration.json", None),
        ("GET", f"/calibration/{j}", None),
    ]
    api.session.cookie_jar.clear()
    for method, path, body in calls:
        resp = await api.request(method, path, json=body)
        assert resp.status == 401, (method, path, resp.status)
    await sign_in(api, "rec@example.com", "a long password 1")
    for method, path, body in calls:
        resp = await api.request(method, path, json=body)
        assert resp.status == 403, (method, path, resp.status)
    async with services_of(api).sessions() as session:
        from sqlalchemy import func, select

        assert await session.scalar(select(func.count()).select_from(HumanDecisionRow)) == 0


# -- calibration -----------------------------------------------------------------------

SENTENCES = [
    "I found the root cause of the bug by testing two hypotheses with a reproduction script.",
    "I added 15 automated tests and kept the build green for 3 months.",
    "I reviewed the code with a teammate and we improved the design of the cache module.",
    "We usually fix bugs when they come up, I think it depends on the code.",
    "I would probably ask the team about the design and maybe read the documentation.",
    "As a result latency dropped by 40 percent and the error rate fell to 0.2 percent.",
    "I wrote a design note about the root cause so the team could unblock similar bugs.",
    "I helped a stuck teammate the same day by pairing on the failing tests for an hour.",
]


def synthetic_answer(i: int, k: int) -> str:
    """Answers of varying quality: interview i, question k."""
    n = 2 + (i * 3 + k) % 6
    picks = [SENTENCES[(i + k + j * (1 + i % 3)) % len(SENTENCES)] for j in range(n)]
    return " ".join(dict.fromkeys(picks))


async def logged_interview(
    api: AppClient, job_id: str, cand_id: str, i: int, avg_logprob: float = -0.1
) -> str:
    """A finished interview built from logged events: one answer per competency."""
    resp = await api.post("/api/interviews", json={"job_id": job_id, "candidate_id": cand_id})
    iid = (await resp.json())["id"]
    svc = services_of(api)
    questions = [
        ("logical_thinking", "Tell me about the hardest bug you have tracked down."),
        ("code_quality", "Tell me about a time you improved the quality of code."),
        ("collaboration", "Describe a time you helped a teammate who was stuck."),
    ]
    t = 5.0
    for k, (cid, text) in enumerate(questions):
        qid = f"q{k}"
        await log_answer(
            svc,
            iid,
            t=t,
            question_id=qid,
            competency_id=cid,
            question=text,
            said=synthetic_answer(i, k),
            utterance_id=f"{iid}-{k}",
            avg_logprob=avg_logprob,
        )
        if k == 0:
            await svc.events.append(
                VoiceDeliverySummarized(
                    interview_id=iid,
                    t=t + 41,
                    question_id=qid,
                    language="en",
                    start=t + 3,
                    end=t + 38,
                    unit="word",
                    units=90,
                    speaking_time=30,
                    speaking_rate=150,
                    pause_ratio=0.2,
                    fillers=2,
                )
            )
        t += 60
    await mark_finished(svc, iid, started_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    return str(iid)


async def test_calibration_needs_enough_ratings_then_adds_a_dated_version(
    api: AppClient, clock: ScriptedClock
) -> None:
    job = await scored_job(api)
    cand = await (await api.post("/api/candidates", json={"name": "Zhang Wei"})).json()
    iids = [await logged_interview(api, job["id"], cand["id"], i) for i in range(10)]
    report = await (await api.get(f"/api/interviews/{iids[0]}/report.json")).json()
    assert report["delivery"][0]["speaking_rate"] == 150
    assert report["delivery_used_in_score"] is False

    async def rate(iid: str) -> None:
        score = await (await api.get(f"/api/interviews/{iid}/score")).json()
        for c in score["competencies"]:
            if c["score"] is None:
                continue
            # The synthetic rater cares about specificity and story, on 1-5.
            f = c["features"]
            value = 1 + round(4 * min(1.0, 0.6 * f["specificity"] + 0.4 * f["story"]))
            resp = await api.post(
                f"/api/interviews/{iid}/ratings",
                json={"competency_id": c["competency_id"], "score": value},
            )
            assert resp.status == 201

    for iid in iids[:5]:
        await rate(iid)
    resp = await api.post(f"/api/jobs/{job['id']}/calibrate")
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "not_enough_ratings" and "at least 8" in body["message"]
    assert "it has 5" in body["message"]

    for iid in iids[5:]:
        await rate(iid)
    before = await (await api.get(f"/api/interviews/{iids[0]}/score")).json()
    clock.advance(86400)
    await sign_in(api)  # a day later the sign-in session has expired
    resp = await api.post(f"/api/jobs/{job['id']}/calibrate")
    assert resp.status == 201, await resp.text()
    result = await resp.json()
    version = result["version"]
    assert version["parent_id"] == "default-2" and version["job_id"] == job["id"]
    pooled = next(a for a in result["report"]["agreement"] if a["competency_id"] == "all")
    # Mixed synthetic answers: a few are set aside (off topic / about another competency).
    assert pooled["before"]["n"] == pooled["after"]["n"] >= 18
    assert {"pearson", "spearman"} <= set(pooled["before"])

    calib = await (await api.get(f"/api/jobs/{job['id']}/calibration.json")).json()
    assert calib["current_version"] == version["id"]
    assert calib["versions"][0]["report"]["interviews"] == 10
    assert (await api.get(f"/calibration/{job['id']}")).status == 200

    # A past score never changes: the new version adds a new, dated row that supersedes it.
    after = await (await api.get(f"/api/interviews/{iids[0]}/score")).json()
    assert after["scorer_version"] == version["id"] and after["supersedes"] == before["id"]
    rows = await (await api.get(f"/api/interviews/{iids[0]}/scores")).json()
    assert [r["scorer_version"] for r in rows] == ["default-2", version["id"]]
    assert rows[0] == before


async def test_job_scoring_options_drive_the_recommendation(
    api: AppClient, clock: ScriptedClock
) -> None:
    job = await scored_job(api)
    url = f"/api/jobs/{job['id']}/scoring"
    assert (await (await api.get(url)).json())["threshold"] == 70
    assert (await api.put(url, json={"threshold": 101})).status == 400
    resp = await api.put(url, json={"threshold": 1, "delivery_enabled": True})
    assert resp.status == 200
    cand = await (await api.post("/api/candidates", json={"name": "Wang Fang"})).json()
    iid = await logged_interview(api, job["id"], cand["id"], 2)
    score = await (await api.get(f"/api/interviews/{iid}/score")).json()
    assert score["delivery_enabled"] is True
    assert score["recommendation"]["kind"] in ("advance", "insufficient_evidence")
    status = (await (await api.get(f"/api/interviews/{iid}/decision")).json())["status"]
    assert status["status"] == "awaiting_review"  # a recommendation is not a decision


ZH_ANSWER = (
    "去年我们的支付服务上线后有百分之三的请求失败，我负责排查这个线上故障。"
    "我提出了两个假设，一个是缓存的并发问题，一个是数据库迁移的问题，并写了复现脚本逐一验证。"
    "最后确认是缓存的问题，我修复了代码并补充了十二个自动化测试，请队友做了代码评审。"
    "结果错误率在两天内从百分之三降到百分之零点一，我还写了设计文档帮助团队找到类似故障的根本原因。"
)


async def test_a_mandarin_report_prints_chinese_in_the_pdf(
    api: AppClient, clock: ScriptedClock, tmp_path: Path
) -> None:
    job = await scored_job(api, "软件工程师", "zh")
    cand = await (await api.post("/api/candidates", json={"name": "李雷"})).json()
    iid = (
        await (
            await api.post(
                "/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}
            )
        ).json()
    )["id"]
    svc = services_of(api)
    for k, (cid, text) in enumerate(
        [
            ("logical_thinking", "请讲一个你排查过的最难的 bug。你是怎么找到它的？"),
            ("code_quality", "请讲一次你改进了不是你写的代码质量的经历。"),
        ]
    ):
        await log_answer(
            svc,
            iid,
            t=5.0 + 60 * k,
            question_id=f"q{k}",
            competency_id=cid,
            question=text,
            said=ZH_ANSWER,
            language="zh",
            utterance_id=f"zh{k}",
        )
    await mark_finished(svc, iid)
    report = await (await api.get(f"/api/interviews/{iid}/report.json")).json()
    assert report["report"]["score"]["language"] == "zh"
    assert any(
        "得分" in f["text"] or "证据不足" in f["text"] for f in report["report"]["focus_points"]
    )
    pdf = await api.get(f"/api/interviews/{iid}/report.pdf")
    data = await pdf.read()
    from server.reports.pdf import find_cjk_font

    if find_cjk_font() is None:
        pytest.skip("no CJK font installed (scripts/install.sh installs fonts-wqy-microhei)")
    assert b"/FontFile2" in data  # the CJK TrueType font is embedded
    if shutil.which("pdftotext"):
        out = tmp_path / "zh.pdf"
        out.write_bytes(data)
        text = pdf_text(out)
        assert "面试报告" in text and "逻辑思维" in text
    assert_pdf_first_page_not_blank(data, tmp_path, "report-zh")
