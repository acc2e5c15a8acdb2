"""interviews.reconnect_deadline: when a paused interview counts as abandoned

Revision ID: 0004_session
Revises: 0004_roles
Create Date: 2026-11-28 19:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_session"
down_revision = "0004_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reconnect_deadline", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_column("reconnect_deadline")
