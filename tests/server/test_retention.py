"""Retention: old interviews are erased with their recordings; the audit trail says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.retention import purge_expired
from server.services import SERVICES
from server.storage.models import Interview
from tests.server.helpers import AppClient, consent, new_interview


async def test_interviews_past_retention_are_erased_and_recent_ones_kept(admin: AppClient) -> None:
    svc = admin.app[SERVICES]
    old, recent = await new_interview(admin), await new_interview(admin)
    for iv in (old, recent):
        await consent(admin, iv["invite_token"])
        assert (await admin.post(f"/api/interviews/{iv['id']}/end")).status == 200
    folder = svc.settings.recordings_dir / old["id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "segment-001.cnd").write_bytes(b"ciphertext")
    now = datetime.now(UTC)
    async with svc.sessions() as session, session.begin():
        row = await session.get(Interview, old["id"])
        assert row is not None
        row.ended_at = now - timedelta(days=svc.settings.retention_days + 1)
    assert await purge_expired(svc, now) == 1
    assert (await admin.get(f"/api/interviews/{old['id']}")).status == 404
    assert not folder.exists()
    assert (await admin.get(f"/api/interviews/{recent['id']}/events")).status == 200
    assert await purge_expired(svc, now) == 0
    audit = await (await admin.get("/api/audit")).json()
    assert any(a["action"] == "retention_purge" for a in audit)
    assert any(a["action"] == "end_interview" for a in audit)
