"""roles scoped to jobs: job members, candidate creator

Revision ID: 0004_roles
Revises: 0003
Create Date: 2026-11-28 19:00:00.000000

Data migration: every job's creator becomes its owner; every candidate gets the creator of
their first interview; the creator of an interview on someone else's job keeps access to that
interview through an ``interview_access`` row (shares already there keep working as they are).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_roles"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_members",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "user_id"),
    )
    with op.batch_alter_table("job_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_members_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.String(length=32), nullable=True))

    op.execute(
        "INSERT INTO job_members (job_id, user_id, role, added_by, added_at) "
        "SELECT id, created_by, 'owner', created_by, created_at FROM jobs "
        "WHERE created_by IS NOT NULL AND created_by IN (SELECT id FROM users)"
    )
    op.execute(
        "UPDATE candidates SET created_by = (SELECT i.created_by FROM interviews i "
        "WHERE i.candidate_id = candidates.id AND i.created_by IS NOT NULL "
        "ORDER BY i.created_at LIMIT 1)"
    )
    op.execute(
        "INSERT INTO interview_access (interview_id, user_id) "
        "SELECT i.id, i.created_by FROM interviews i "
        "WHERE i.created_by IS NOT NULL AND i.created_by IN (SELECT id FROM users) "
        "AND NOT EXISTS (SELECT 1 FROM job_members m "
        "  WHERE m.job_id = i.job_id AND m.user_id = i.created_by) "
        "AND NOT EXISTS (SELECT 1 FROM interview_access a "
        "  WHERE a.interview_id = i.id AND a.user_id = i.created_by)"
    )


def downgrade() -> None:
    # Not a batch (table copy): SQLite refuses to drop ``candidates`` while interviews point
    # at it; SQLite 3.35+ and PostgreSQL both drop a plain column in place.
    op.execute("ALTER TABLE candidates DROP COLUMN created_by")
    with op.batch_alter_table("job_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_members_user_id"))
    op.drop_table("job_members")
