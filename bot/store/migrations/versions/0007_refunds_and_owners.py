"""refunds and owners

Each refund is a row of its own (amount, provider reference, status, who asked); a payment keeps the sum
of its refunds and may be ``partially_refunded``. A vendor may name the Supabase auth user who owns it,
and may have each accepted order's payment request sent at once (``request_on_accept``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:00:01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
supabase_version = "20261202000001"

_STATUSES = ("pending", "paid", "failed", "cancelled", "expired", "refunded")
OLD_STATUS = sa.Enum(*_STATUSES, name="payment_transaction_status", create_constraint=True)
NEW_STATUS = sa.Enum(
    *_STATUSES[:-1],
    "partially_refunded",
    "refunded",
    name="payment_transaction_status",
    create_constraint=True,
)


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    if postgres:
        # Allowed in a transaction since PostgreSQL 12; the value is only used after this migration commits.
        op.execute(
            "ALTER TYPE payment_transaction_status "
            "ADD VALUE IF NOT EXISTS 'partially_refunded' BEFORE 'refunded'"
        )
    # SQLite keeps the enum as a CHECK constraint: the table is rebuilt with the new one.
    with op.batch_alter_table("payment_transactions", recreate="never" if postgres else "always") as table:
        if not postgres:
            table.alter_column(
                "status", existing_type=OLD_STATUS, type_=NEW_STATUS, existing_nullable=False,
                existing_server_default=sa.text("'pending'"),
            )  # fmt: skip
        table.add_column(
            sa.Column(
                "refunded_amount", sa.Numeric(precision=10, scale=2), server_default="0", nullable=False
            )
        )
        table.create_check_constraint(
            "payment_transactions_refunded_amount", "refunded_amount >= 0 AND refunded_amount <= montant"
        )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("amount > 0", name="refunds_amount"),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'unknown')", name="refunds_status"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["payment_transactions.id"],
            name=op.f("fk_refunds_transaction_id_payment_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_refunds_vendor_id_vendors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    op.create_index(op.f("ix_refunds_transaction_id"), "refunds", ["transaction_id"], unique=False)
    op.create_index(op.f("ix_refunds_status"), "refunds", ["status"], unique=False)
    with op.batch_alter_table("vendors") as table:
        table.add_column(sa.Column("owner_user_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("payment_settings") as table:
        table.add_column(
            sa.Column("request_on_accept", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    if postgres:
        op.execute("ALTER TABLE refunds ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    with op.batch_alter_table("payment_settings") as table:
        table.drop_column("request_on_accept")
    with op.batch_alter_table("vendors") as table:
        table.drop_column("owner_user_id")
    op.drop_index(op.f("ix_refunds_status"), table_name="refunds")
    op.drop_index(op.f("ix_refunds_transaction_id"), table_name="refunds")
    op.drop_table("refunds")
    with op.batch_alter_table("payment_transactions", recreate="never" if postgres else "always") as table:
        table.drop_constraint("payment_transactions_refunded_amount", type_="check")
        table.drop_column("refunded_amount")
        if not postgres:
            table.alter_column(
                "status", existing_type=NEW_STATUS, type_=OLD_STATUS, existing_nullable=False,
                existing_server_default=sa.text("'pending'"),
            )  # fmt: skip
    # PostgreSQL cannot drop an enum value: 'partially_refunded' stays in the type, unused.
