"""The workflow's tables on PostgreSQL: migration up, down and up; import, invite, board."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from sqlalchemy import select

from server.app import create_app
from server.services import SERVICES
from server.storage.db import alembic_config
from server.storage.models import OutboxRow
from server.workflow.service import WORKFLOW
from tests.server.helpers import make_settings, sign_in
from tests.server.test_postgres import pg_url

pytestmark = pytest.mark.postgres
__all__ = ["pg_url"]


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
