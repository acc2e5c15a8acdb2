"""asr: per-job transcription vocabulary (names, products, jargon)

Revision ID: 0008_asr
Revises: 0007_integrations
Create Date: 2026-11-28 20:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_asr"
down_revision = "0007_integrations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("vocabulary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("vocabulary")
