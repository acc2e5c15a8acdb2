"""Analytics API: funnel, time saved, satisfaction, agreement by scorer version, fairness by
self-identified group, CSV export of every table."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.self_identification import CONSENT_VERSION
from server.services import SERVICES
from server.storage.models import Interview, Invite, SurveyResponseRow
from tests.server.test_interviewer_channels import ScriptedClock
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


@dataclass
class FairSeed:
    """A job whose candidates self-identified: who is in which group, and their scores."""

    job_id: str
    iids: list[str]
    scores: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, str]] = field(default_factory=dict)


async def invite_token(api: Client, iid: str) -> str:  # noqa: F811
    """The candidate's link to an interview (signed for its live invite, as it was sent)."""
    svc = api.app[SERVICES]
    async with svc.sessions() as session:
        invite = await session.scalar(select(Invite).where(Invite.interview_id == iid))
    assert invite is not None
    return svc.invites.issue(invite.id, iid, svc.invite_ttl, datetime.now(UTC))


async def self_identify(api: Client, iid: str, gender: str, age_band: str) -> None:  # noqa: F811
    """The candidate of ``iid`` fills in the form through their own invite link."""
    token = await invite_token(api, iid)
    body = {"consent": True, "consent_version": CONSENT_VERSION, "gender": gender,
            "age_band": age_band}
    resp = await api.post(f"/api/join/{token}/self-id", json=body)
    assert resp.status == 201, await resp.text()


async def seed_fairness(api: Client, count: int = 24, rate: bool = False) -> FairSeed:  # noqa: F811
    """Scored interviews, then groups chosen from the scores so that two gender groups have at
    least five compared recommendations (one clearly below four fifths of the other), one
    group is too small to show, and some prefer not to say; plus survey answers, and with
    ``rate`` a human rating of every scored competency."""
    job = await (
        await api.post(
            "/api/jobs",
            json={"title": "Platform engineer", "language": "en",
                  "template": "software_engineer"},
        )
    ).json()
    cand = await (await api.post("/api/candidates", json={"name": "Lin Yu"})).json()
    svc = api.app[SERVICES]
    iids: list[str] = []
    for i in range(count):
        iid = await logged_interview(api, job["id"], cand["id"], i, -0.1 if i % 2 else -0.6)
        async with svc.sessions() as session, session.begin():
            row = await session.get(Interview, iid)
            assert row is not None and row.started_at is not None
            row.ended_at = row.started_at + timedelta(minutes=12 + i % 5)
        iids.append(iid)
    scores = {
        iid: await (await api.get(f"/api/interviews/{iid}/score")).json() for iid in iids
    }
    for n, (iid, score) in enumerate(scores.items() if rate else ()):
        for c in score["competencies"]:
            if c["score"] is not None:
                value = max(1, min(5, 1 + round(c["score"] / 25) + (n % 3 == 0)))
                resp = await api.post(
                    f"/api/interviews/{iid}/ratings",
                    json={"competency_id": c["competency_id"], "score": value},
                )
                assert resp.status == 201
    kinds = {iid: s["recommendation"]["kind"] for iid, s in scores.items()}
    advance = [i for i in iids if kinds[i] == "advance"]
    below = [i for i in iids if kinds[i] == "no_recommendation"]
    unsure = [i for i in iids if kinds[i] == "insufficient_evidence"]
    assert len(advance) >= 5 and len(below) >= 5 and unsure, kinds
    female = advance[:4] + below[:1]  # 4 of 5: rate 0.8
    male = advance[4:5] + below[1:5] + unsure[:1]  # 1 of 5: rate 0.2, ratio 0.25
    rest = [i for i in iids if i not in female and i not in male]
    plan = {i: ("female", "25_34" if k % 2 else "35_44") for k, i in enumerate(female)}
    plan.update({i: ("male", "25_34" if k % 2 else "35_44") for k, i in enumerate(male)})
    plan.update({rest[0]: ("another", "under_25"), rest[1]: ("prefer_not_to_say", "25_34")})
    out = FairSeed(job["id"], iids, scores)
    for iid, (gender, age) in plan.items():
        await self_identify(api, iid, gender, age)
        out.groups[iid] = {"gender": gender, "age_band": age}
    async with svc.sessions() as session, session.begin():
        for rating in (5, 4, 4, 2):
            session.add(SurveyResponseRow(job_id=job["id"], rating=rating))
    return out


def expected_group(seed: FairSeed, attribute: str, group: str) -> dict[str, Any]:
    """The figures of one group computed straight from the scores the API gave."""
    members = [i for i, g in seed.groups.items() if g[attribute] == group]
    kinds = [seed.scores[i]["recommendation"]["kind"] for i in members]
    compared = sum(k in ("advance", "no_recommendation") for k in kinds)
    answers = [
        a for i in members for c in seed.scores[i]["competencies"] for a in c["answers"]
    ]
    per_question = {
        (i, a["question_id"]): a["asr_confidence"]
        for i in members
        for c in seed.scores[i]["competencies"]
        for a in c["answers"]
    }
    aside = [a for a in answers if a["status"] == "insufficient_evidence"]
    return {
        "n": len(members),
        "compared": compared,
        "recommended": kinds.count("advance"),
        "rate": round(kinds.count("advance") / compared, 4) if compared else None,
        "asr_confidence": round(sum(per_question.values()) / len(per_question), 4),
        "set_aside_share": round(len(aside) / len(answers), 4),
    }


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
    assert data["fairness"]["collected"] is False and data["fairness"]["responses"] == 0
    assert all(g["suppressed"] for a in data["fairness"]["attributes"] for g in a["groups"])

    assert [s["count"] for s in data["pipeline"]] == [0] * 7  # no applications yet
    org = await (await api.get("/api/analytics")).json()
    assert {s["stage"]: s["count"] for s in org["funnel"]}["invited"] == len(iids)

    # The pipeline funnel: three applications, two invited, one moved back to screened.
    ids = []
    for k in range(3):
        resp = await api.post(
            f"/api/jobs/{job_id}/candidates", json={"name": f"P{k}", "email": f"p{k}@example.org"}
        )
        assert resp.status == 201, await resp.text()
        ids.append((await resp.json())["candidate_id"])
    for stage, who in (("invited", ids[:2]), ("screened", ids[1:2])):
        resp = await api.post(
            f"/api/jobs/{job_id}/moves", json={"candidate_ids": who, "stage": stage}
        )
        assert resp.status == 200, await resp.text()
    data = await (await api.get(f"/api/jobs/{job_id}/analytics")).json()
    pipeline = {s["stage"]: s for s in data["pipeline"]}
    assert pipeline["screened"]["count"] == 3 and pipeline["invited"]["count"] == 2
    assert pipeline["invited"]["conversion"] == 0.6667
    assert pipeline["interview_started"]["count"] == 0
    resp = await api.get(f"/api/jobs/{job_id}/analytics?format=csv&table=pipeline")
    lines = (await resp.text()).splitlines()
    assert lines[0] == "stage,applications,conversion" and lines[2] == "invited,2,0.6667"

    resp = await api.get(f"/api/jobs/{job_id}/analytics?format=csv&table=funnel")
    assert resp.status == 200 and resp.content_type == "text/csv"
    lines = (await resp.text()).splitlines()
    assert lines[0] == "stage,count,conversion" and lines[1].startswith(f"invited,{len(iids)}")
    resp = await api.get(f"/api/jobs/{job_id}/analytics?format=csv&table=nope")
    assert resp.status == 400


async def test_fairness_shows_impact_ratios_confidence_and_set_asides_per_group(
    api: Client,  # noqa: F811
) -> None:
    seed_data = await seed_fairness(api)
    data = await (await api.get(f"/api/jobs/{seed_data.job_id}/analytics")).json()
    fairness = data["fairness"]
    assert fairness["collected"] is True and fairness["min_group"] == 5
    assert fairness["responses"] == len(seed_data.groups)
    by_attr = {a["attribute"]: a for a in fairness["attributes"]}
    gender = {g["group"]: g for g in by_attr["gender"]["groups"]}
    assert by_attr["gender"]["not_disclosed"] == 1
    for name in ("female", "male"):
        want = expected_group(seed_data, "gender", name)
        got = {k: gender[name][k] for k in want}
        assert got == want, name
    assert gender["female"]["rate"] == 0.8 and gender["female"]["impact_ratio"] == 1.0
    assert gender["male"]["rate"] == 0.2 and gender["male"]["impact_ratio"] == 0.25
    assert gender["male"]["flagged"] and not gender["female"]["flagged"]
    # one person said "another": suppressed like a group nobody chose
    assert gender["another"]["suppressed"] and gender["another"]["n"] is None
    ages = {g["group"]: g for g in by_attr["age_band"]["groups"]}
    for name in ("25_34", "35_44"):
        want = expected_group(seed_data, "age_band", name)
        assert {k: ages[name][k] for k in want} == want, name
    assert ages["under_25"]["suppressed"] and ages["55_plus"]["suppressed"]

    resp = await api.get(f"/api/jobs/{seed_data.job_id}/analytics?format=csv&table=fairness")
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    male = next(r for r in rows if r["attribute"] == "gender" and r["group"] == "male")
    assert male["impact_ratio"] == "0.25" and male["flagged"] == "True"
    another = next(r for r in rows if r["group"] == "another")
    assert another["n"] == "" and another["suppressed"] == "True"

    sat = data["satisfaction"]
    assert sat["overall"]["responses"] == 4 and sat["overall"]["mean"] == 3.75
    assert sat["by_job"][0]["title"] == "Platform engineer"
    resp = await api.get(f"/api/jobs/{seed_data.job_id}/analytics?format=csv&table=satisfaction")
    last = list(csv.reader(io.StringIO(await resp.text())))[-1]
    assert last == ["all", "", "4", "3.75", "0", "1", "0", "2", "1"]
    org = await (await api.get("/api/analytics")).json()
    assert org["fairness"]["responses"] == len(seed_data.groups)


async def test_time_saved_compares_interview_minutes_with_review_sittings(
    api: Client, clock: ScriptedClock  # noqa: F811
) -> None:
    job_id, iids = await seed(api, interviews=2)  # rated through the API: no opening
    svc = api.app[SERVICES]
    async with svc.sessions() as session, session.begin():
        for iid in iids:
            row = await session.get(Interview, iid)
            assert row is not None and row.started_at is not None
            row.ended_at = row.started_at + timedelta(minutes=20)
    iid = iids[1]
    score = await (await api.get(f"/api/interviews/{iid}/score")).json()
    competency = next(c["competency_id"] for c in score["competencies"] if c["score"] is not None)
    clock.advance(60)
    assert (await api.get(f"/api/interviews/{iid}?page=review")).status == 200
    clock.advance(6 * 60)
    resp = await api.post(
        f"/api/interviews/{iid}/ratings", json={"competency_id": competency, "score": 4}
    )
    assert resp.status == 201
    clock.advance(2 * 60)
    resp = await api.post(f"/api/interviews/{iid}/decision", json={"decision": "hold"})
    assert resp.status in (200, 201), await resp.text()
    clock.advance(30 * 60)
    assert (await api.get(f"/api/interviews/{iid}")).status == 200  # not the review page

    time = (await (await api.get(f"/api/jobs/{job_id}/analytics")).json())["time_saved"]
    assert time["interviews"] == 2 and time["ai_interview_minutes"] == 40.0
    assert time["mean_interview_minutes"] == 20.0
    assert time["human_review_minutes"] == 8.0 and time["human_measured_interviews"] == 1
    assert time["unmeasured_reviews"] == 2  # the seed's API ratings, one per interview
    assert time["minutes_saved_per_interview"] == 12.0
    resp = await api.get(f"/api/jobs/{job_id}/analytics?format=csv&table=time")
    rows = dict(csv.reader(io.StringIO(await resp.text())))
    assert rows["human_review_minutes"] == "8.0" and rows["minutes_saved_per_interview"] == "12.0"
