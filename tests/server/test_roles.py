"""Roles scoped to jobs: what lists show, job members, candidates, live commands, migration."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from media.crypto import MasterKey
from server.app import create_app
from server.encryption.keyring import KeyRing
from server.services import SERVICES
from server.storage.db import alembic_config, make_engine
from server.storage.models import AuditEntry, Candidate, InterviewAccess, JobMember
from tests.pg import postgres_database
from tests.server.helpers import make_settings
from tests.server.roles_world import Client, World, add_user, call, seed, seed_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Client, World]]:
    app = create_app(make_settings(tmp_path))
    async with TestClient(TestServer(app)) as client:
        yield client, await seed_world(client)


async def test_lists_show_only_the_users_jobs_and_interviews(
    world: tuple[Client, World],
) -> None:
    client, w = world
    assert w.other is not None
    _, jobs = await call(client, w.tokens["recruiter"], "GET", "/api/jobs")
    assert [(j["id"], j["my_role"]) for j in jobs] == [(w.own["recruiter"].job, "owner")]
    _, jobs = await call(client, w.tokens["hiring_manager"], "GET", "/api/jobs")
    assert [(j["id"], j["my_role"]) for j in jobs] == [(w.own["hiring_manager"].job, "member")]
    _, jobs = await call(client, w.tokens["admin"], "GET", "/api/jobs")
    assert w.other.job in {j["id"] for j in jobs} and len(jobs) == 5
    for role in ("recruiter", "hiring_manager", "interviewer"):
        _, interviews = await call(client, w.tokens[role], "GET", "/api/interviews")
        assert [i["id"] for i in interviews] == [w.own[role].interview], role
    _, interviews = await call(client, w.tokens["admin"], "GET", "/api/interviews")
    assert len(interviews) == 5


async def test_a_recruiter_cannot_attach_someone_elses_candidate(
    world: tuple[Client, World],
) -> None:
    client, w = world
    assert w.other is not None
    body = {"job_id": w.own["recruiter"].job, "candidate_id": w.other.candidate}
    status, data = await call(client, w.tokens["recruiter"], "POST", "/api/interviews", body)
    assert status == 403 and "candidate" in data["message"]
    # Once the recruiter is a member of the other job, its candidates are theirs to attach.
    member = {"user_id": w.users["recruiter"], "role": "member"}
    status, _ = await call(
        client, w.tokens["stranger"], "POST", f"/api/jobs/{w.other.job}/members", member
    )
    assert status == 201
    status, _ = await call(client, w.tokens["recruiter"], "POST", "/api/interviews", body)
    assert status == 201


async def test_owners_manage_members_and_members_work_on_the_job(
    world: tuple[Client, World],
) -> None:
    client, w = world
    owner, job = w.tokens["recruiter"], w.own["recruiter"].job
    colleague_id, colleague = await add_user(
        client, w.tokens["admin"], "colleague@example.com", "recruiter"
    )
    members = f"/api/jobs/{job}/members"
    assert (await call(client, colleague, "GET", members))[0] == 403
    status, added = await call(client, owner, "POST", members, {"email": "Colleague@example.com"})
    assert status == 201 and added["role"] == "member" and added["user_role"] == "recruiter"
    _, listed = await call(client, colleague, "GET", members)
    assert [(m["email"], m["role"]) for m in listed] == [
        ("recruiter@example.com", "owner"),
        ("colleague@example.com", "member"),
    ]
    # A member works on the job: sees it, schedules interviews, but does not manage members.
    _, jobs = await call(client, colleague, "GET", "/api/jobs")
    assert [j["id"] for j in jobs] == [job]
    mine = await seed(client, colleague, job)
    _, seen = await call(client, owner, "GET", "/api/interviews")
    assert mine.interview in {i["id"] for i in seen}
    status, _ = await call(client, colleague, "POST", members, {"user_id": w.users["spare"]})
    assert status == 403
    # Interviewers are assigned to interviews, not jobs; the last owner cannot leave.
    status, data = await call(client, owner, "POST", members, {"email": "interviewer@example.com"})
    assert status == 400 and "interviewer" in data["message"]
    status, data = await call(client, owner, "DELETE", f"{members}/{w.users['recruiter']}")
    assert status == 409 and data["error"] == "last_owner"
    # Removed, the colleague loses the job and its interviews at once.
    assert (await call(client, owner, "DELETE", f"{members}/{colleague_id}"))[0] == 200
    assert (await call(client, colleague, "GET", f"/api/interviews/{mine.interview}"))[0] == 403
    assert (await call(client, colleague, "GET", "/api/jobs"))[1] == []


async def test_live_commands_follow_the_role(world: tuple[Client, World]) -> None:
    client, w = world
    svc = client.app[SERVICES]
    for role, may_ask in (("interviewer", False), ("hiring_manager", False), ("recruiter", True)):
        iid = w.own[role].interview
        ws = await client.ws_connect(f"/ws/observer/{iid}", headers=w.auth(role))
        assert (await ws.receive_json())["type"] == "history"
        assert (await ws.receive_json())["type"] == "view"
        await ws.send_json({"type": "inject_question", "text": "Why this job?"})
        await ws.send_json({"type": "add_observer_note", "text": "Clear answer."})
        await ws.send_json({"type": "ping"})
        answers = []
        while (msg := await ws.receive_json())["type"] != "pong":
            answers.append(msg)
        codes = [a.get("code") for a in answers]
        assert ("forbidden" in codes) is not may_ask, (role, answers)
        assert codes.count("forbidden") <= 1, (role, answers)  # notes are allowed for all three
        await ws.close()
    async with svc.sessions() as session:
        rows = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "access_refused"))
        ).all()
    assert sorted(r.user_id or "" for r in rows) == sorted(
        [w.users["interviewer"], w.users["hiring_manager"]]
    )
    assert all(r.target.startswith("interview.ask ") for r in rows)


# -- the data migration ----------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    async with postgres_database() as url:
        yield url


RING = KeyRing(MasterKey(os.urandom(32)))


async def _upgrade(conn: AsyncConnection, url: str, revision: str) -> None:
    cfg = alembic_config(url)

    def run(sync_conn: object) -> None:
        cfg.attributes["connection"] = sync_conn
        cfg.attributes["keyring"] = RING  # as the app migrates: personal data (de)crypted
        command.upgrade(cfg, revision)

    await conn.run_sync(run)


async def _downgrade(conn: AsyncConnection, url: str, revision: str) -> None:
    cfg = alembic_config(url)

    def run(sync_conn: object) -> None:
        cfg.attributes["connection"] = sync_conn
        cfg.attributes["keyring"] = RING  # as the app migrates: personal data (de)crypted
        command.downgrade(cfg, revision)

    await conn.run_sync(run)


async def test_migration_keeps_everyones_access(db_url: str) -> None:
    engine = make_engine(db_url)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await _upgrade(conn, db_url, "0003")
        for uid in ("alice", "bob", "carol"):
            await conn.execute(
                text(
                    "INSERT INTO users (id, email, name, password_hash, role, created_at) "
                    "VALUES (:id, :email, '', 'x', 'recruiter', :at)"
                ),
                {"id": uid, "email": f"{uid}@example.com", "at": now},
            )
        await conn.execute(
            text(
                "INSERT INTO jobs (id, title, language, created_by, created_at) "
                "VALUES ('job1', 'Engineer', 'en', 'alice', :at)"
            ),
            {"at": now},
        )
        await conn.execute(
            text(
                "INSERT INTO candidates (id, name, email, created_at) "
                "VALUES ('c1', 'Li Lei', '', :at)"
            ),
            {"at": now},
        )
        # Bob scheduled an interview on Alice's job (allowed before roles); Carol was shared it.
        await conn.execute(
            text(
                "INSERT INTO interviews (id, job_id, candidate_id, status, created_by, created_at) "
                "VALUES ('i1', 'job1', 'c1', 'scheduled', 'bob', :at)"
            ),
            {"at": now},
        )
        await conn.execute(
            text("INSERT INTO interview_access (interview_id, user_id) VALUES ('i1', 'carol')")
        )
    async with engine.begin() as conn:
        await _upgrade(conn, db_url, "head")
    from server.storage.db import sessionmaker

    async with sessionmaker(engine, RING)() as session:
        members = (await session.scalars(select(JobMember))).all()
        assert [(m.job_id, m.user_id, m.role) for m in members] == [("job1", "alice", "owner")]
        access = (await session.scalars(select(InterviewAccess))).all()
        assert sorted(a.user_id for a in access) == ["bob", "carol"]
        candidate = await session.get(Candidate, "c1")
        assert candidate is not None and candidate.created_by == "bob"
    # The migration steps back down and up again.
    async with engine.begin() as conn:
        await _downgrade(conn, db_url, "0003")
    async with engine.begin() as conn:
        await _upgrade(conn, db_url, "head")
    async with sessionmaker(engine, RING)() as session:
        assert len((await session.scalars(select(JobMember))).all()) == 1
    await engine.dispose()


async def test_pages_learn_what_the_user_may_do(world: tuple[Client, World]) -> None:
    client, w = world
    _, me = await call(client, w.tokens["hiring_manager"], "GET", "/api/me")
    assert me["role"] == "hiring_manager" and "interview.decide" in me["can"]
    assert "interview.export" not in me["can"] and "job.edit" not in me["can"]
    iid = w.own["interviewer"].interview
    _, info = await call(client, w.tokens["interviewer"], "GET", f"/api/interviews/{iid}")
    assert info["can"] == [
        "interview.view",
        "interview.observe",
        "interview.rate",
        "interview.note",
    ]
    status, refused = await call(
        client, w.tokens["interviewer"], "GET", f"/api/interviews/{iid}/report.pdf"
    )
    assert status == 403
    assert refused["message"] == (
        "Your role (interviewer) may not do this (interview.export); ask an administrator."
    )
    _, me = await call(client, w.tokens["auditor"], "GET", "/api/me")
    assert me["can"] == ["audit.read", "compliance.read"]
