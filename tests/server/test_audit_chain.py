"""The audit trail: complete (who, role, address, agent), chained, verifiable, exportable.

Tampering is done the way an attacker with the database file would: raw SQL, outside the app.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from media.crypto import MasterKey
from server.audit import CSV_COLUMNS, Actor, AuditRecord, AuditTrail, entry_hash
from server.encryption.keyring import KeyRing
from server.storage.db import make_engine, migrate, sessionmaker
from tests.server.helpers import ADMIN_EMAIL, new_interview, services_of, sign_in
from tests.server.test_erasure import Client

AGENT = "Mozilla/5.0 (audit-test)"


async def entries(api: Client, **query: str) -> list[dict[str, Any]]:
    resp = await api.get("/api/audit", params={"limit": "1000", **query})
    assert resp.status == 200, await resp.text()
    return list(await resp.json())


async def recruiter(api: Client) -> dict[str, str]:
    """A recruiter's bearer header (the client's cookie stays the admin's)."""
    await api.post(
        "/api/users",
        json={"email": "rec@example.com", "password": "recruiter password 1", "role": "recruiter"},
    )
    token = await sign_in(api, "rec@example.com", "recruiter password 1")
    await sign_in(api)
    return {"Authorization": f"Bearer {token}"}


def raw_sql(db: Path, statement: str) -> None:
    """Change the database behind the app's back."""
    conn = sqlite3.connect(db)
    try:
        conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


async def test_entries_carry_user_role_address_and_agent(admin: Client) -> None:
    iv = await new_interview(admin)
    assert (await admin.get(f"/api/interviews/{iv['id']}", headers={"User-Agent": AGENT})).ok
    assert (await admin.get(f"/api/interviews/{iv['id']}/events")).ok
    bad = await admin.post("/api/login", json={"email": ADMIN_EMAIL, "password": "wrong one"})
    assert bad.status == 401
    nobody = await admin.post("/api/login", json={"email": "x@example.com", "password": "nope"})
    assert nobody.status == 401
    log = await entries(admin)
    view = next(e for e in log if e["action"] == "view_interview")
    assert view["target"] == iv["id"] and view["role"] == "admin"
    assert view["client"] == "127.0.0.1" and view["user_agent"] == AGENT
    assert view["user_email"] == ADMIN_EMAIL and len(view["hash"]) == 64
    assert any(e["action"] == "view_transcript" for e in log)
    failed = [e for e in log if e["action"] == "login_failed"]
    assert len(failed) == 2 and all(e["client"] == "127.0.0.1" for e in failed)
    assert all("x@example.com" not in str(e) for e in log), "attempted addresses are not kept"
    assert any(e["action"] == "login" for e in log)


async def test_refused_access_is_recorded_from_any_route(admin: Client) -> None:
    iv = await new_interview(admin)
    as_rec = await recruiter(admin)
    assert (await admin.get(f"/api/interviews/{iv['id']}", headers=as_rec)).status == 403
    assert (await admin.get("/api/audit", headers=as_rec)).status == 403
    assert (await admin.get("/api/audit/verify", headers=as_rec)).status == 403
    assert (await admin.get("/audit", headers=as_rec)).status == 403
    refused = [e for e in await entries(admin) if e["action"] == "access_refused"]
    assert len(refused) == 4 and all(e["role"] == "recruiter" for e in refused)
    assert f"interview.view {iv['id']}" in [e["target"] for e in refused]
    page = await admin.get("/audit")
    assert page.status == 200 and "audit.js" in await page.text()


async def test_observing_and_injected_questions_are_audited(admin: Client) -> None:
    iv = await new_interview(admin)
    obs = await admin.ws_connect(f"/ws/observer/{iv['id']}")
    assert (await obs.receive_json())["type"] == "history"
    await obs.send_json({"type": "inject_question", "text": "What would you change?"})
    await obs.send_json({"type": "ping"})
    while (await obs.receive_json())["type"] != "pong":
        pass
    await obs.close()
    async with asyncio.timeout(10):
        while True:
            actions = [e["action"] for e in await entries(admin) if e["target"] == iv["id"]]
            if "observe_stop" in actions:
                break
            await asyncio.sleep(0.05)
    assert actions.index("observe_stop") < actions.index("inject_question")  # newest first
    assert actions.index("inject_question") < actions.index("observe_start")


async def test_verify_finds_the_row_edited_with_raw_sql(admin: Client) -> None:
    svc = services_of(admin)
    for _ in range(3):
        await new_interview(admin)
    ok = await (await admin.get("/api/audit/verify")).json()
    assert ok["ok"] is True and ok["entries"] >= 4
    log = await entries(admin, action="create_interview")
    victim = log[1]["id"]
    db = svc.settings.data_dir / "candor.db"
    raw_sql(db, f"UPDATE audit_log SET target = 'someone-else' WHERE id = {victim}")
    broken = await (await admin.get("/api/audit/verify")).json()
    assert broken == {"ok": False, "first_broken": victim, "entries": broken["entries"]}
    # Recomputing the edited row's own hash does not help: the next row still points back.
    row = sqlite3.connect(db).execute(f"SELECT * FROM audit_log WHERE id = {victim}").fetchone()
    assert row is not None
    cols = [c[1] for c in sqlite3.connect(db).execute("PRAGMA table_info(audit_log)")]
    values = dict(zip(cols, row, strict=True))
    forged = entry_hash(
        AuditRecord(
            id=victim,
            at=datetime.fromisoformat(values["at"]),
            user_id=values["user_id"],
            role=values["role"],
            action=values["action"],
            target="someone-else",
            client=values["client"],
            user_agent=values["user_agent"],
            detail=values["detail"],
        ),
        values["prev_hash"],
    )
    raw_sql(db, f"UPDATE audit_log SET hash = '{forged}' WHERE id = {victim}")
    again = await (await admin.get("/api/audit/verify")).json()
    assert again["ok"] is False and again["first_broken"] > victim


async def test_verify_finds_deleted_rows_in_the_middle_and_at_the_end(admin: Client) -> None:
    svc = services_of(admin)
    for _ in range(3):
        await new_interview(admin)
    db = svc.settings.data_dir / "candor.db"
    ids = sorted(e["id"] for e in await entries(admin))
    raw_sql(db, f"DELETE FROM audit_log WHERE id = {ids[1]}")
    result = await (await admin.get("/api/audit/verify")).json()
    assert result["ok"] is False and result["first_broken"] == ids[2]
    raw_sql(db, f"DELETE FROM audit_log WHERE id >= {ids[1]}")
    result = await (await admin.get("/api/audit/verify")).json()
    assert result["ok"] is False and result["first_broken"] == ids[1]


async def test_csv_export_with_filters(admin: Client) -> None:
    iv = await new_interview(admin)
    await admin.get(f"/api/interviews/{iv['id']}", headers={"User-Agent": "=HYPERLINK(1)"})
    resp = await admin.get("/api/audit.csv", params={"action": "view_interview"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r[5] for r in rows[1:]] == ["view_interview"]
    assert rows[1][8] == "'=HYPERLINK(1)", "a spreadsheet must not run it as a formula"
    mine = await admin.get("/api/audit.csv", params={"user": ADMIN_EMAIL, "action": "login"})
    assert len(list(csv.reader(io.StringIO(await mine.text())))) == 2
    today = datetime.now(UTC).date()
    old = await admin.get("/api/audit.csv", params={"to": str(today - timedelta(days=1))})
    assert len(list(csv.reader(io.StringIO(await old.text())))) == 1  # the header only
    now = await entries(admin, **{"from": str(today), "to": str(today)})
    assert now and all(e["at"].startswith(str(today)) for e in now)
    assert (await admin.get("/api/audit", params={"from": "yesterday"})).status == 400
    assert (await admin.get("/api/audit", params={"limit": "abc"})).status == 400
    assert any(e["action"] == "export_audit" for e in await entries(admin))


async def _race(url: str, writers: int = 3, each: int = 25) -> AuditTrail:
    """Several trails on separate engines (as separate processes would be) append at once."""
    first = make_engine(url)
    await migrate(first, url)
    engines = [first] + [make_engine(url) for _ in range(writers - 1)]
    ring = KeyRing(MasterKey(os.urandom(32)))
    trails = [AuditTrail(sessionmaker(e, ring), lambda: datetime.now(UTC)) for e in engines]
    try:
        await asyncio.gather(
            *(
                trail.append(Actor(user_id=None, role="system"), "race", f"{n}-{i}")
                for n, trail in enumerate(trails)
                for i in range(each)
            )
        )
        result = await trails[0].verify()
        assert result.ok and result.entries == writers * each, result
    finally:
        for engine in engines:
            await engine.dispose()
    return trails[0]


async def test_concurrent_appends_from_several_engines_keep_one_chain_sqlite(
    tmp_path: Path,
) -> None:
    await _race(f"sqlite+aiosqlite:///{tmp_path / 'race.db'}")


@pytest.mark.postgres
async def test_concurrent_appends_from_several_engines_keep_one_chain_postgres(
    pg_url: str,
) -> None:
    await _race(pg_url)


async def test_the_migration_chains_entries_written_before_the_chain(tmp_path: Path) -> None:
    from alembic import command

    from server.storage.db import alembic_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    cfg = alembic_config(url)

    def upgrade_to(rev: str) -> Any:
        def run(sync_conn: object) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, rev)

        return run

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to("0003"))
            for n in range(3):
                await conn.exec_driver_sql(
                    "INSERT INTO audit_log (at, user_id, action, target) VALUES (?, ?, ?, ?)",
                    (f"2026-11-0{n + 1} 10:00:00.000000", None, "login", ""),
                )
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to("head"))
        ring = KeyRing(MasterKey(os.urandom(32)))
        trail = AuditTrail(sessionmaker(engine, ring), lambda: datetime.now(UTC))
        assert (await trail.verify()).entries == 3
        await trail.append(Actor(role="system"), "after_upgrade")
        result = await trail.verify()
        assert result.ok and result.entries == 4
    finally:
        await engine.dispose()
