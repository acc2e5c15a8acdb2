"""field encryption: data keys, candidate phone and search hashes, existing rows sealed

Revision ID: 0004_crypto
Revises: 0004_roles
Create Date: 2026-11-28 19:20:00
"""

import logging

import sqlalchemy as sa
from alembic import context, op

revision = "0004_crypto"
down_revision = "0004_roles"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # Sealed values outgrow VARCHAR(255/400). SQLite does not enforce lengths, and
    # recreating the referenced candidates table there would trip its foreign keys.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("candidates", "name", existing_type=sa.String(length=255), type_=sa.Text())
        op.alter_column("candidates", "email", existing_type=sa.String(length=255), type_=sa.Text())
        op.alter_column(
            "consents", "user_agent", existing_type=sa.String(length=400), type_=sa.Text()
        )
    op.add_column("candidates", sa.Column("phone", sa.Text(), nullable=False, server_default=""))
    op.add_column("candidates", sa.Column("email_hmac", sa.String(length=64), nullable=True))
    op.add_column("candidates", sa.Column("phone_hmac", sa.String(length=64), nullable=True))
    op.create_index("ix_candidates_email_hmac", "candidates", ["email_hmac"])
    op.create_index("ix_candidates_phone_hmac", "candidates", ["phone_hmac"])

    # Seal what was stored in plaintext before (the app passes its key ring in).
    ring = context.config.attributes.get("keyring")
    if ring is None:
        log.warning(
            "personal data stored before this version is still plaintext: "
            "run `python run.py encrypt-existing`"
        )
        return
    from server.encryption.existing import encrypt_existing

    encrypt_existing(op.get_bind(), ring)


def downgrade() -> None:
    # Decrypt first: the data keys go with the data_keys table.
    bind = op.get_bind()
    ring = context.config.attributes.get("keyring")
    if ring is not None:
        from server.encryption.existing import decrypt_all

        decrypt_all(bind, ring)
    elif bind.execute(sa.text("SELECT count(*) FROM data_keys")).scalar():
        raise RuntimeError(
            "stepping below 0004_crypto decrypts the personal data, which needs the master key: "
            "downgrade through server.storage.db with the key ring, or keep this version"
        )
    op.drop_index("ix_candidates_phone_hmac", table_name="candidates")
    op.drop_index("ix_candidates_email_hmac", table_name="candidates")
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch table copy of candidates would
    # trip the foreign keys pointing at it.
    for column in ("phone_hmac", "email_hmac", "phone"):
        op.execute(f"ALTER TABLE candidates DROP COLUMN {column}")
    op.drop_table("data_keys")
