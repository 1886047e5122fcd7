"""web push to the vendor

The server's VAPID key pair (made once, its private key sealed with SECRET_KEY), each vendor admin's
browser push subscriptions, what each admin chose to be notified of, and the push outbox: notifications
written in the transaction of the change they are about, sent by the push sender.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 00:00:02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None
supabase_version = "20261203000002"

TABLES = ("web_push_keys", "push_subscriptions", "push_preferences", "push_outbox")


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    op.create_table(
        "web_push_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("public_key", sa.String(length=100), nullable=False),
        sa.Column("sealed_private_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="web_push_keys_single"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_push_keys")),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("admin_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("p256dh", sa.String(length=128), nullable=False),
        sa.Column("auth", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["vendor_admins.id"],
            name=op.f("fk_push_subscriptions_admin_id_vendor_admins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_index(op.f("ix_push_subscriptions_admin_id"), "push_subscriptions", ["admin_id"], unique=False)
    op.create_table(
        "push_preferences",
        sa.Column("admin_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('payment_received', 'guarantee', 'request_failed', 'customer_message')",
            name="push_preferences_kind",
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["vendor_admins.id"],
            name=op.f("fk_push_preferences_admin_id_vendor_admins"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("admin_id", "kind", name=op.f("pk_push_preferences")),
    )
    op.create_table(
        "push_outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="push_outbox_status"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["push_subscriptions.id"],
            name=op.f("fk_push_outbox_subscription_id_push_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_push_outbox_vendor_id_vendors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_push_outbox_dedupe_key")),
    )
    op.create_index(
        op.f("ix_push_outbox_status_next_attempt_at"),
        "push_outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )
    if postgres:
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_index(op.f("ix_push_outbox_status_next_attempt_at"), table_name="push_outbox")
    op.drop_table("push_outbox")
    op.drop_table("push_preferences")
    op.drop_index(op.f("ix_push_subscriptions_admin_id"), table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_table("web_push_keys")
