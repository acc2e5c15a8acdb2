"""Voluntary self-identification: its own consent, sealed at rest, withdrawable, erased with
the person, and never seen by the scorer, reviewers, raters, reports or exports."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, text

from server.app import create_app
from server.encryption.keyring import is_sealed
from server.rights import RIGHTS_LINKS
from server.self_identification import CONSENT_VERSION
from server.services import SERVICES
from server.storage.models import DataKey, SelfIdentificationRow
from tests.server.helpers import make_settings, sign_in
from tests.server.test_analytics_api import invite_token, self_identify
from tests.server.test_reports import api, clock, logged_interview  # noqa: F401

Client = TestClient[web.Request, web.Application]
ROOT = Path(__file__).resolve().parents[2]
# What must never appear where reviewers, raters, the scorer or exports look.
NEEDLES = ("self_id", "self-id", "gender", "age_band", "female", "45_54", "性别", "年龄")


async def interview(api: Client, i: int = 2, name: str = "Zhou Min") -> tuple[str, str, str]:  # noqa: F811
    """(job id, candidate id, interview id) of a finished, logged interview."""
    job = await (
        await api.post(
            "/api/jobs",
            json={"title": "Engineer", "language": "en", "template": "software_engineer"},
        )
    ).json()
    cand = await (await api.post("/api/candidates", json={"name": name})).json()
    return job["id"], cand["id"], await logged_interview(api, job["id"], cand["id"], i)


def pdf_words(path: Path) -> str:
    """Text of every page (poppler's pdftotext)."""
    cmd = ["pdftotext", str(path), "-"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


async def rows(api: Client) -> int:  # noqa: F811
    async with api.app[SERVICES].sessions() as session:
        count = select(func.count()).select_from(SelfIdentificationRow)
        return int(await session.scalar(count) or 0)


async def test_the_form_needs_its_own_consent_and_known_answers(api: Client) -> None:  # noqa: F811
    _job, _cid, iid = await interview(api)
    token = await invite_token(api, iid)
    url = f"/api/join/{token}/self-id"
    base = {"consent_version": CONSENT_VERSION, "gender": "female", "age_band": "45_54"}
    resp = await api.post(url, json={**base, "consent": False})
    assert resp.status == 400 and (await resp.json())["code"] == "self_identification_consent"
    resp = await api.post(url, json={**base, "consent": True, "gender": "x"})
    assert resp.status == 400
    resp = await api.post(url, json={**base, "consent": True, "consent_version": "old"})
    assert resp.status == 400
    resp = await api.post("/api/join/not-a-token/self-id", json={**base, "consent": True})
    assert resp.status == 401
    assert await rows(api) == 0
    # "prefer not to say" is the default of each question
    resp = await api.post(url, json={"consent": True, "consent_version": CONSENT_VERSION})
    assert resp.status == 201
    resp = await api.post(url, json={**base, "consent": True})  # a second answer replaces it
    assert resp.status == 201 and await rows(api) == 1
    async with api.app[SERVICES].sessions() as session:
        row = await session.scalar(select(SelfIdentificationRow))
        assert row is not None and row.data == {"gender": "female", "age_band": "45_54"}
        raw = (await session.execute(text("SELECT data FROM self_identifications"))).scalar()
    stored = str(raw)
    assert is_sealed(stored.strip('"')) and "female" not in stored and "45_54" not in stored
    audit = await (await api.get("/api/audit?action=self_identification_given")).text()
    assert "female" not in audit and "45_54" not in audit


async def test_reviewers_reports_exports_and_the_scorer_never_see_it(
    api: Client, tmp_path: Path  # noqa: F811
) -> None:
    job_id, cid, iid = await interview(api)
    await self_identify(api, iid, "female", "45_54")
    cand2 = await (await api.post("/api/candidates", json={"name": "Zhou Min"})).json()
    twin = await logged_interview(api, job_id, cand2["id"], 2)  # same answers, no form
    score = await (await api.get(f"/api/interviews/{iid}/score")).json()
    twin_score = await (await api.get(f"/api/interviews/{twin}/score")).json()
    for key in ("id", "interview_id", "created_at"):
        score.pop(key), twin_score.pop(key)
    assert score == twin_score  # the scorer's result does not depend on it

    for rating in ({"competency_id": "logical_thinking", "score": 4},):
        assert (await api.post(f"/api/interviews/{iid}/ratings", json=rating)).status == 201
    seen: dict[str, str] = {}
    for path in (
        f"/api/interviews/{iid}?page=review",
        f"/api/interviews/{iid}/events",
        f"/api/interviews/{iid}/score",
        f"/api/interviews/{iid}/scores",
        f"/api/interviews/{iid}/report.json",
        f"/api/interviews/{iid}/ratings",
        f"/api/interviews/{iid}/decision",
        f"/api/interviews/{iid}/feedback",
        "/api/interviews",
        f"/api/candidates/{cid}",
        f"/api/jobs/{job_id}/results.json",
        f"/api/jobs/{job_id}/results.csv",
        "/api/webhooks",
    ):
        resp = await api.get(path)
        seen[path] = (await resp.text()).lower()
    resp = await api.get(f"/api/interviews/{iid}/report.pdf")
    assert resp.status == 200
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(await resp.read())
    seen["report.pdf"] = (await asyncio.to_thread(pdf_words, pdf)).lower()
    assert "logical" in seen["report.pdf"] or "逻辑" in seen["report.pdf"]
    found = [(p, n) for p, body in seen.items() for n in NEEDLES if n in body]
    assert not found, found
    # the analytics hold it only in aggregate: counts, never a person's answer
    data = await (await api.get(f"/api/jobs/{job_id}/analytics")).json()
    assert data["fairness"]["responses"] == 1
    assert iid not in str(data["fairness"]) and cid not in str(data["fairness"])
    assert all(g["suppressed"] for a in data["fairness"]["attributes"] for g in a["groups"])


def test_only_the_analytics_and_the_persons_own_pages_read_it() -> None:
    allowed = {
        "server/self_identification.py",
        "server/routes/self_identification.py",
        "server/storage/models.py",
        "server/encryption/fields.py",
        "server/reports/analytics.py",  # aggregates only
        "server/rights.py",  # the person's own self-service data
        "server/migrations/versions/0009_fair.py",
    }
    pattern = re.compile(r"self_identification|SelfIdentification|groups_for_analytics")
    users = {
        str(p.relative_to(ROOT))
        for folder in ("server", "analysis", "media", "config")
        for p in (ROOT / folder).rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    }
    users.discard("server/app.py")  # registers the routes
    assert users <= allowed, users - allowed
    scorer = [p for p in (ROOT / "analysis").rglob("*.py") if pattern.search(p.read_text())]
    assert not scorer


async def test_the_person_sees_and_withdraws_it_and_erasure_takes_it(
    api: Client,  # noqa: F811
) -> None:
    job_id, cid, iid = await interview(api)
    await self_identify(api, iid, "female", "45_54")
    svc = api.app[SERVICES]
    rights = api.app[RIGHTS_LINKS].issue(cid, svc.now())
    mine: dict[str, Any] = await (await api.get(f"/api/my/{rights}")).json()
    given = mine["interviews"][0]["self_identification"]
    assert given["gender"] == "female" and given["age_band"] == "45_54"
    assert given["consent_version"] == CONSENT_VERSION

    # withdrawn on the page after the interview (the interview link) ...
    token = await invite_token(api, iid)
    resp = await api.delete(f"/api/join/{token}/self-id")
    assert (await resp.json())["removed"] == 1 and await rows(api) == 0
    # ... or on the self-service page (every interview of the person)
    await self_identify(api, iid, "male", "25_34")
    second = await logged_interview(api, job_id, cid, 3)
    await self_identify(api, second, "male", "25_34")
    resp = await api.delete(f"/api/my/{rights}/self-id")
    assert (await resp.json())["removed"] == 2 and await rows(api) == 0
    mine = await (await api.get(f"/api/my/{rights}")).json()
    assert [i["self_identification"] for i in mine["interviews"]] == [None, None]

    # erasing the person deletes the rows and the interview keys that sealed them
    await self_identify(api, iid, "female", "45_54")
    assert (await api.delete(f"/api/candidates/{cid}")).status == 200
    assert await rows(api) == 0
    async with svc.sessions() as session:
        keys = (await session.scalars(select(DataKey.id))).all()
    assert f"interview:{iid}" not in keys and f"candidate:{cid}" not in keys
    assert (await api.delete(f"/api/my/{rights}/self-id")).status == 410


@pytest.mark.postgres
async def test_given_counted_withdrawn_and_erased_on_postgresql(
    tmp_path: Path,
    pg_url: str,
) -> None:
    app = create_app(make_settings(tmp_path, database_url=pg_url))
    async with TestClient(TestServer(app)) as pg:
        await sign_in(pg)
        job_id, cid, iid = await interview(pg)
        await self_identify(pg, iid, "female", "45_54")
        async with pg.app[SERVICES].sessions() as session:
            raw = (await session.execute(text("SELECT data::text FROM self_identifications")))
            stored = str(raw.scalar())
        assert "enc1:" in stored and "female" not in stored
        data = await (await pg.get(f"/api/jobs/{job_id}/analytics")).json()
        assert data["fairness"]["responses"] == 0  # counted once the interview is scored
        assert (await pg.get(f"/api/interviews/{iid}/score")).status == 200
        data = await (await pg.get(f"/api/jobs/{job_id}/analytics")).json()
        assert data["fairness"]["responses"] == 1
        token = await invite_token(pg, iid)
        assert (await (await pg.delete(f"/api/join/{token}/self-id")).json())["removed"] == 1
        await self_identify(pg, iid, "male", "under_25")
        assert (await pg.delete(f"/api/candidates/{cid}")).status == 200
        assert await rows(pg) == 0
