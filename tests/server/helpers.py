"""Helpers for tests that run the real app in-process."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from config.settings import Settings

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
