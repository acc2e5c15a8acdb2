"""audit chain, candidate tombstones, legal holds, erasure requests

Revision ID: 0004_rights
Revises: 0005_session
Create Date: 2026-11-28 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_rights"
down_revision = "0005_session"
branch_labels = None
depends_on = None

_AUDIT_COLUMNS = (
    ("role", 20),
    ("client", 64),
    ("user_agent", 400),
    ("detail", 400),
    ("prev_hash", 64),
    ("hash", 64),
)


def upgrade() -> None:
    for name, length in _AUDIT_COLUMNS:  # ADD COLUMN in place on SQLite and PostgreSQL
        op.add_column(
            "audit_log",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "candidate_tombstones",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "legal_holds",
        sa.Column("interview_id", sa.String(length=32), nullable=False),
        sa.Column("set_by", sa.String(length=32), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(["interview_id"], ["interviews.id"]),
        sa.PrimaryKeyConstraint("interview_id"),
    )
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_erasure_requests_subject_id", "erasure_requests", ["subject_id"], unique=False
    )
    _chain_existing_entries()


def _chain_existing_entries() -> None:
    """Entries written before the chain existed are chained in id order, once."""
    from server.audit import AuditRecord, entry_hash

    bind = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("user_id", sa.String),
        sa.column("action", sa.String),
        sa.column("target", sa.String),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    prev, last_id = "", 0
    rows = bind.execute(
        sa.select(audit.c.id, audit.c.at, audit.c.user_id, audit.c.action, audit.c.target).order_by(
            audit.c.id
        )
    ).all()
    for row in rows:
        record = AuditRecord(
            id=row.id,
            at=row.at,
            user_id=row.user_id,
            role="",
            action=row.action,
            target=row.target or "",
            client="",
            user_agent="",
            detail="",
        )
        digest = entry_hash(record, prev)
        bind.execute(audit.update().where(audit.c.id == row.id).values(prev_hash=prev, hash=digest))
        prev, last_id = digest, row.id
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer),
        sa.column("last_id", sa.Integer),
        sa.column("last_hash", sa.String),
    )
    bind.execute(head.insert().values(id=1, last_id=last_id, last_hash=prev))


def downgrade() -> None:
    # Written to survive a step down that an earlier revision interrupted half-way (on SQLite
    # some of this may already be gone): each object is dropped only if it is still there.
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    op.execute("DROP INDEX IF EXISTS ix_erasure_requests_subject_id")
    for table in ("erasure_requests", "legal_holds", "candidate_tombstones", "audit_head"):
        if table in tables:
            op.drop_table(table)
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL), not a batch table copy: one statement each.
    columns = {c["name"] for c in inspector.get_columns("audit_log")}
    for name, _length in reversed(_AUDIT_COLUMNS):
        if name in columns:
            op.execute(f"ALTER TABLE audit_log DROP COLUMN {name}")
