"""The workflow's tables on PostgreSQL: migration up, down and up; import, invite, board."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from server.app import create_app
from server.services import SERVICES
from server.storage.db import alembic_config
from server.storage.models import Application, Candidate, OutboxRow
from server.workflow.service import WORKFLOW
from tests.server.helpers import make_settings, sign_in

pytestmark = pytest.mark.postgres


async def test_import_invite_and_board_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    app = create_app(make_settings(tmp_path, database_url=pg_url, workflow_poll_seconds=3600))
    async with TestClient(TestServer(app)) as client:
        await sign_in(client)
        job = await (await client.post("/api/jobs", json={"title": "Analyst"})).json()
        data = "name,email,phone\n张伟,zw@example.com,13800138000\n".encode("gbk")
        resp = await client.post(
            f"/api/jobs/{job['id']}/candidates/import",
            data=data,
            headers={"Content-Type": "text/csv"},
        )
        assert (await resp.json())["imported"] == 1
        board = await (await client.get(f"/api/jobs/{job['id']}/pipeline")).json()
        cid = board["stages"]["screened"][0]["candidate_id"]
        resp = await client.post(
            f"/api/jobs/{job['id']}/invitations", json={"candidate_ids": [cid]}
        )
        assert (await resp.json())["results"][0]["status"] == "invited"
        await app[WORKFLOW].tick()
        async with app[SERVICES].sessions() as session:
            row = await session.scalar(select(OutboxRow))
        assert row is not None and row.status == "pending" and "not configured" in row.last_error
        board = await (await client.get(f"/api/jobs/{job['id']}/pipeline")).json()
        assert board["counts"]["invited"] == 1

    def down_and_up() -> None:
        cfg = alembic_config(pg_url)
        command.downgrade(cfg, "0007_integrations")
        command.upgrade(cfg, "head")

    await asyncio.to_thread(down_and_up)  # Alembic's standalone mode runs its own loop


async def test_partner_orders_at_once_and_the_outbox_depth_on_postgresql(
    tmp_path: Path, pg_url: str
) -> None:
    app = create_app(make_settings(tmp_path, database_url=pg_url, workflow_poll_seconds=3600))
    async with TestClient(TestServer(app)) as client:
        await sign_in(client)
        await app[WORKFLOW].aclose()  # passes run here (no SMTP: the email stays pending)
        job = await (
            await client.post(
                "/api/jobs", json={"title": "Engineer", "template": "software_engineer"}
            )
        ).json()
        key = (
            await (
                await client.post(
                    "/api/keys",
                    json={"name": "ats", "scopes": ["interviews:write"], "job_ids": [job["id"]]},
                )
            ).json()
        )["key"]
        client.session.cookie_jar.clear()
        order = {
            "partner_test_id": job["id"],
            "candidate": {"first_name": "Wei", "email": "wei@example.com"},
            "application_id": "gh-1",
        }
        auth = {"Authorization": f"Bearer {key}"}
        answers = await asyncio.gather(
            *(client.post("/api/partner/send_test", json=order, headers=auth) for _ in range(3))
        )
        assert sorted(a.status for a in answers) == [200, 200, 201]
        async with app[SERVICES].sessions() as session:
            apps = (await session.scalars(select(Application))).all()
            people = (await session.scalars(select(Candidate.id))).all()
            mails = (await session.scalars(select(OutboxRow.template))).all()
        assert [a.stage for a in apps] == ["invited"] and len(people) == 1
        assert list(mails) == ["invite"]
        metrics = await client.get("/metrics")
        families = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(await metrics.text())
            for s in f.samples
        }
        assert families[("candor_outbox_depth", (("outbox", "email"), ("state", "pending")))] == 1
