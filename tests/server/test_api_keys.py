"""API keys: shown once, stored hashed, scoped to actions and jobs, revocable, every use audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.services import SERVICES
from server.storage.models import ApiKey, AuditEntry
from tests.server.helpers import AppClient


async def make_key(client: AppClient, **body: Any) -> dict[str, Any]:
    """Create a key as the signed-in admin."""
    resp = await client.post("/api/keys", json={"name": "HRMS", **body})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


def bearer(key: str) -> dict[str, str]:
    """The Authorization header of ``key``."""
    return {"Authorization": f"Bearer {key}"}


async def new_job(client: AppClient, title: str = "Engineer") -> str:
    """A job created by the signed-in admin."""
    resp = await client.post("/api/jobs", json={"title": title})
    assert resp.status == 201
    return str((await resp.json())["id"])


async def audit_rows(client: AppClient, action: str) -> list[AuditEntry]:
    """Audit entries with ``action``."""
    svc = client.app[SERVICES]
    async with svc.sessions() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def test_a_key_is_shown_once_and_stored_only_as_a_keyed_hash(admin: AppClient) -> None:
    made = await make_key(admin, scopes=["results:read"])
    assert made["key"].startswith("cnd_") and len(made["key"]) > 40
    listed = await (await admin.get("/api/keys")).json()
    assert [k["id"] for k in listed] == [made["id"]]
    assert "key" not in listed[0] and listed[0]["prefix"] == made["key"][:8]
    assert listed[0]["last_used_at"] is None
    svc = admin.app[SERVICES]
    async with svc.sessions() as session:
        row = await session.get(ApiKey, made["id"])
    assert row is not None and made["key"] not in row.key_hash
    assert row.key_hash == svc.key_hasher.digest(made["key"])


async def test_a_results_only_key_cannot_create_interviews(admin: AppClient) -> None:
    job = await new_job(admin)
    cand = await (await admin.post("/api/candidates", json={"name": "Li Lei"})).json()
    key = (await make_key(admin, scopes=["results:read"]))["key"]
    admin.session.cookie_jar.clear()
    resp = await admin.post("/api/candidates", json={"name": "Wang"}, headers=bearer(key))
    assert resp.status == 403
    body = await resp.json()
    assert body["code"] == "forbidden" and "scope" in body["message"]
    resp = await admin.post(
        "/api/interviews", json={"job_id": job, "candidate_id": cand["id"]}, headers=bearer(key)
    )
    assert resp.status == 403
    refused = await audit_rows(admin, "access_refused")
    made = await audit_rows(admin, "create_api_key")
    key_id = made[0].target
    assert [r.user_id for r in refused] == [key_id, key_id]
    # what it may do works, and the use is audited and shown as last used
    assert (await admin.get("/api/jobs", headers=bearer(key))).status == 200
    assert len(await audit_rows(admin, "api_key_used")) == 3


async def test_a_key_restricted_to_a_job_sees_only_that_job(admin: AppClient) -> None:
    mine, other = await new_job(admin, "Mine"), await new_job(admin, "Other")
    key = (await make_key(admin, scopes=["interviews:write"], job_ids=[mine]))["key"]
    admin.session.cookie_jar.clear()
    cand = await admin.post("/api/candidates", json={"name": "Li Lei"}, headers=bearer(key))
    assert cand.status == 201
    cid = (await cand.json())["id"]
    ok = await admin.post(
        "/api/interviews", json={"job_id": mine, "candidate_id": cid}, headers=bearer(key)
    )
    assert ok.status == 201, await ok.text()
    refused = await admin.post(
        "/api/interviews", json={"job_id": other, "candidate_id": cid}, headers=bearer(key)
    )
    assert refused.status == 403
    assert "restricted" in (await refused.json())["message"]
    jobs = await (await admin.get("/api/jobs", headers=bearer(key))).json()
    assert [j["id"] for j in jobs] == [mine]
    interviews = await (await admin.get("/api/interviews", headers=bearer(key))).json()
    assert [i["job_id"] for i in interviews] == [mine]
    # keys never manage keys, whatever their scopes
    assert (await admin.get("/api/keys", headers=bearer(key))).status == 403


async def test_wrong_revoked_and_expired_keys_get_the_same_401(admin: AppClient) -> None:
    svc = admin.app[SERVICES]
    good = await make_key(admin, scopes=["results:read"])
    revoked = await make_key(admin, scopes=["results:read"])
    expired = await make_key(
        admin, scopes=["results:read"], expires_at=(svc.now() - timedelta(minutes=1)).isoformat()
    )
    assert (await admin.delete(f"/api/keys/{revoked['id']}")).status == 200
    admin.session.cookie_jar.clear()
    answers = []
    for key in (good["key"] + "x", revoked["key"], expired["key"], "cnd_", "cnd_nonsense"):
        resp = await admin.get("/api/jobs", headers=bearer(key))
        answers.append((resp.status, await resp.json()))
    assert len({str(a) for a in answers}) == 1, answers
    assert answers[0][0] == 401
    assert (await admin.get("/api/jobs", headers=bearer(good["key"]))).status == 200


async def test_only_admins_manage_keys_and_bad_input_is_explained(admin: AppClient) -> None:
    resp = await admin.post("/api/keys", json={"name": "x", "scopes": ["everything"]})
    assert resp.status == 400 and "scopes" in (await resp.json())["message"]
    resp = await admin.post(
        "/api/keys", json={"name": "x", "scopes": ["results:read"], "job_ids": ["nope"]}
    )
    assert resp.status == 404
    assert (await admin.delete("/api/keys/nope")).status == 404
