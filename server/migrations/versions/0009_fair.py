"""fairness: voluntary self-identification (gender, age band), kept apart and encrypted

Revision ID: 0009_fair
Revises: 0008_asr
Create Date: 2026-11-28 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_fair"
down_revision = "0008_asr"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_identifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("interview_id", sa.String(length=32), nullable=False),
        sa.Column("candidate_id", sa.String(length=32), nullable=False),
        sa.Column("consent_version", sa.String(length=40), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["interview_id"], ["interviews.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("interview_id"),
    )
    op.create_index(
        "ix_self_identifications_interview_id", "self_identifications", ["interview_id"]
    )
    op.create_index(
        "ix_self_identifications_candidate_id", "self_identifications", ["candidate_id"]
    )


def downgrade() -> None:
    # Dropping the table drops its indexes. Checked first: a downgrade refused further down
    # the chain (0004_crypto without the key) may have run this step already on SQLite.
    if "self_identifications" in sa.inspect(op.get_bind()).get_table_names():
        op.drop_table("self_identifications")
