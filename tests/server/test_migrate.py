"""`run.py migrate` once, under a lock; serve migrates only when CANDOR_AUTO_MIGRATE is on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

import run
from server.app import create_app
from server.storage.db import (
    SchemaNotCurrent,
    head_revision,
    make_engine,
    migrate,
    schema_revision,
)
from tests.server.helpers import make_settings, sign_in


async def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await schema_revision(conn)
    finally:
        await engine.dispose()


async def _migrate_with_own_engine(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine, url)
    finally:
        await engine.dispose()


async def test_serve_without_auto_migrate_refuses_an_old_schema(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auto_migrate=False)
    client = TestClient(TestServer(create_app(settings)))
    with pytest.raises(SchemaNotCurrent, match=r"run\.py migrate"):
        await client.start_server()
    await client.close()


async def test_run_py_migrate_then_serve_without_migrating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path, auto_migrate=False)
    monkeypatch.setenv("CANDOR_DATA_DIR", str(settings.data_dir))
    assert await asyncio.to_thread(run.main, ["migrate"]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    assert await _revision(settings.db_url) == head_revision()
    async with TestClient(TestServer(create_app(settings))) as client:
        await sign_in(client)
        assert (await client.get("/readyz")).status == 200


async def test_concurrent_migrations_on_sqlite_run_once(tmp_path: Path) -> None:
    url = make_settings(tmp_path).db_url
    (tmp_path / "data").mkdir()
    await asyncio.gather(*(_migrate_with_own_engine(url) for _ in range(3)))
    assert await _revision(url) == head_revision()




@pytest.mark.postgres
async def test_concurrent_migrations_on_postgresql_take_turns(pg_url: str) -> None:
    # without the advisory lock, two processes creating the same tables at once fail
    await asyncio.gather(*(_migrate_with_own_engine(pg_url) for _ in range(3)))
    assert await _revision(pg_url) == head_revision()
