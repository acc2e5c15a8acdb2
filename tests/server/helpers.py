"""Helpers for tests that run the real app in-process."""

from __future__ import annotations

import base64
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from analysis.events import QuestionAnswered, QuestionShown, TranscriptFinal
from config.settings import Settings
from server.services import SERVICES, Services
from server.storage.models import Interview

AppClient = TestClient[web.Request, web.Application]
"""A test client bound to the real app (what the `client` and `admin` fixtures give)."""

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for one test: its own data folder, fixed admin password and keys."""
    base: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "master_key": base64.b64encode(os.urandom(32)).decode(),
        "secret_key": base64.b64encode(os.urandom(32)).decode(),
        "facial_analysis": "off",
        "asr": {"enabled": False},
        "models_dir": Path(__file__).resolve().parents[2] / "models",
    }
    base.update(overrides)
    return Settings(**base)


async def sign_in(
    client: AppClient, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> str:
    """Sign in (the client keeps the cookie and sends its CSRF token); returns the bearer token."""
    resp = await client.post("/api/login", json={"email": email, "password": password})
    assert resp.status == 200, await resp.text()
    token = str((await resp.json())["token"])
    csrf = await client.get("/api/csrf")
    assert csrf.status == 200, await csrf.text()
    client.session.headers["X-CSRF-Token"] = (await csrf.json())["token"]
    return token


async def scored_job(
    client: AppClient, title: str = "Backend engineer", language: str = "en"
) -> dict[str, Any]:
    """A job with the software-engineer competency model, so interviews can be scored."""
    resp = await client.post(
        "/api/jobs",
        json={"title": title, "language": language, "template": "software_engineer"},
    )
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def new_interview(client: AppClient, language: str = "en") -> dict[str, Any]:
    """Create a job, a candidate and an interview as the signed-in user."""
    job = await (
        await client.post("/api/jobs", json={"title": "Engineer", "language": language})
    ).json()
    cand = await (await client.post("/api/candidates", json={"name": "Li Lei"})).json()
    resp = await client.post(
        "/api/interviews", json={"job_id": job["id"], "candidate_id": cand["id"]}
    )
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def consent(client: AppClient, token: str, ai: bool = True) -> None:
    """Agree to the current notice as the candidate."""
    notice = await (await client.get(f"/api/join/{token}")).json()
    resp = await client.post(
        f"/api/join/{token}/consent",
        json={"recording": True, "ai_analysis": ai, "notice_version": notice["notice_version"]},
    )
    assert resp.status == 200, await resp.text()


def services_of(client: AppClient) -> Services:
    """The running app's services."""
    app = client.app
    assert app is not None
    return app[SERVICES]


async def log_answer(
    svc: Services,
    iid: str,
    *,
    t: float,
    question_id: str,
    competency_id: str,
    question: str,
    said: str,
    language: str = "en",
    utterance_id: str | None = None,
    avg_logprob: float = 0.0,
) -> None:
    """What the room logs for one answered main question shown at ``t``: the question, the
    candidate's final transcript (spoken from t+3 to t+38) and the answer (t+1 to t+39)."""
    await svc.events.append(
        QuestionShown(interview_id=iid, t=t, question_id=question_id, text=question)
    )
    await svc.events.append(
        TranscriptFinal(
            interview_id=iid,
            t=t + 40,
            utterance_id=utterance_id or f"{iid}-{question_id}",
            text=said,
            language=language,
            start=t + 3,
            end=t + 38,
            avg_logprob=avg_logprob,
        )
    )
    await svc.events.append(
        QuestionAnswered(
            interview_id=iid,
            t=t + 41,
            question_id=question_id,
            kind="main",
            competency_id=competency_id,
            transcript=said,
            started=t + 1,
            ended=t + 39,
        )
    )


async def log_one_answer(svc: Services, iid: str, said: str) -> None:
    """One answered question logged at t=5: q0, logical thinking, the hardest bug."""
    await log_answer(
        svc,
        iid,
        t=5,
        question_id="q0",
        competency_id="logical_thinking",
        question="Tell me about the hardest bug you have tracked down.",
        said=said,
        avg_logprob=-0.1,
    )


async def mark_finished(
    svc: Services,
    iid: str,
    *,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> None:
    """Set the interview's status to finished (and its start and end times, where given)."""
    async with svc.sessions() as session, session.begin():
        row = await session.get(Interview, iid)
        assert row is not None
        row.status = "finished"
        if started_at is not None:
            row.started_at = started_at
        if ended_at is not None:
            row.ended_at = ended_at
