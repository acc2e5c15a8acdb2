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
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(length=255), type_=sa.Text())
        batch_op.alter_column("email", existing_type=sa.String(length=255), type_=sa.Text())
        batch_op.add_column(sa.Column("phone", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("email_hmac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("phone_hmac", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_candidates_email_hmac"), ["email_hmac"])
        batch_op.create_index(batch_op.f("ix_candidates_phone_hmac"), ["phone_hmac"])
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.alter_column("user_agent", existing_type=sa.String(length=400), type_=sa.Text())

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
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.alter_column("user_agent", existing_type=sa.Text(), type_=sa.String(length=400))
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_candidates_phone_hmac"))
        batch_op.drop_index(batch_op.f("ix_candidates_email_hmac"))
        batch_op.drop_column("phone_hmac")
        batch_op.drop_column("email_hmac")
        batch_op.drop_column("phone")
        batch_op.alter_column("email", existing_type=sa.Text(), type_=sa.String(length=255))
        batch_op.alter_column("name", existing_type=sa.Text(), type_=sa.String(length=255))
    op.drop_table("data_keys")
