"""Migration 0005_workflow steps down and up again on SQLite (PostgreSQL: test_postgres_flow)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from server.storage.db import alembic_config


def test_the_workflow_migration_goes_down_and_up_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "candor.db"
    cfg = alembic_config(f"sqlite+aiosqlite:///{db}")
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "0007_integrations")
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(candidates)")}
    assert "applications" not in tables and "outbox" not in tables and "language" not in columns
    command.upgrade(cfg, "head")
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"applications", "stage_changes", "outbox", "message_templates"} <= tables
