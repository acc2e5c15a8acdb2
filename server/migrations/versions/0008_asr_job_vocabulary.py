"""asr: per-job transcription vocabulary (names, products, jargon)

Revision ID: 0008_asr
Revises: 0005_workflow
Create Date: 2026-11-28 20:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_asr"
down_revision = "0005_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("vocabulary", sa.JSON(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN: a batch table copy of `jobs` trips the foreign keys that point at it
    # on SQLite (SQLite >= 3.35 drops columns in place).
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("jobs")}
    if "vocabulary" in columns:
        op.drop_column("jobs", "vocabulary")
