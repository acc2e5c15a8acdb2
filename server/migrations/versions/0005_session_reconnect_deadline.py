"""interviews.reconnect_deadline: when a paused interview counts as abandoned

Revision ID: 0004_session
Revises: 0004_signin
Create Date: 2026-11-28 19:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_session"
down_revision = "0004_signin"
branch_labels = None
depends_on = None


def _has_column() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns("interviews")
    return any(c["name"] == "reconnect_deadline" for c in columns)


def upgrade() -> None:
    if _has_column():
        return
    op.add_column(
        "interviews", sa.Column("reconnect_deadline", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    # Not a batch (table copy): SQLite refuses to drop ``interviews`` while rows point at it;
    # a plain DROP COLUMN works on SQLite 3.35+ and PostgreSQL. SQLite commits DDL at once,
    # so a later step of the same downgrade failing (0004_crypto without the key) leaves the
    # column gone while the version stays: a retry must find nothing to do.
    if _has_column():
        op.drop_column("interviews", "reconnect_deadline")
