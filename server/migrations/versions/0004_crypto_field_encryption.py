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
    # Sealed values stay sealed: decrypting them back would need the key ring here.
    op.drop_index("ix_candidates_phone_hmac", table_name="candidates")
    op.drop_index("ix_candidates_email_hmac", table_name="candidates")
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_column("phone_hmac")
        batch_op.drop_column("email_hmac")
        batch_op.drop_column("phone")
    op.drop_table("data_keys")
