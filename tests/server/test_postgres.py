"""The same storage code against the local PostgreSQL server (migrations, API, event log)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from analysis.events import TranscriptFinal
from server.app import create_app
from server.services import SERVICES
from tests.server.helpers import consent, make_settings, new_interview, sign_in

pytestmark = pytest.mark.postgres




async def test_migrations_api_and_event_log_work_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    settings = make_settings(tmp_path, database_url=pg_url)
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client)
        iv = await new_interview(client)
        await consent(client, iv["invite_token"])
        assert (await client.get(f"/i/{iv['invite_token']}")).status == 200
        svc = app[SERVICES]
        final = TranscriptFinal(interview_id=iv["id"], utterance_id="u-1", text="hello", t=1.0)
        assert await svc.events.append(final) is True
        assert await svc.events.append(final) is False  # a redelivered final is stored once
        events = await (await client.get(f"/api/interviews/{iv['id']}/events")).json()
        assert [e["type"] for e in events] == ["consent_recorded", "transcript_final"]
        listed = await (await client.get("/api/interviews")).json()
        assert [i["id"] for i in listed] == [iv["id"]]
    # A second start on the same database finds the schema up to date and the admin present.
    app2 = create_app(settings)  # the same master key: personal data is encrypted with it
    async with TestClient(TestServer(app2)) as client2:
        await sign_in(client2)
        assert len(await (await client2.get("/api/interviews")).json()) == 1
