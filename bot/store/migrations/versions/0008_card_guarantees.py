"""card guarantees, saved cards and phone payments

A guarantee is a ``payment_transactions`` row with ``is_guarantee``: held, then captured, released or
lapsed (new statuses ``held``, ``captured``, ``released``); a capture or a saved-card charge is a payment
of its own, pointing at where it came from. ``card_tokens`` keeps the cards customers agreed to save (the
provider's token and what may be shown, never a card number); ``phone_links`` the one-time links a vendor
opens to type a card read out on the phone. Vendors choose their guarantee policy.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
supabase_version = "20261202000003"

_STATUSES = ("pending", "paid", "failed", "cancelled", "expired", "partially_refunded", "refunded")
_ADDED = ("held", "captured", "released")
OLD_STATUS = sa.Enum(*_STATUSES, name="payment_transaction_status", create_constraint=True)
NEW_STATUS = sa.Enum(*_STATUSES, *_ADDED, name="payment_transaction_status", create_constraint=True)


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    if postgres:
        for value in _ADDED:
            # Allowed in a transaction since PostgreSQL 12; the values are only used after this commits.
            op.execute(f"ALTER TYPE payment_transaction_status ADD VALUE IF NOT EXISTS '{value}'")
    op.create_table(
        "card_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=255), nullable=False),
        sa.Column("provider_customer_id", sa.String(length=255), nullable=True),
        sa.Column("brand", sa.String(length=32), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at_provider", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "consent_source IN ('checkout', 'phone', 'guarantee')", name="card_tokens_consent_source"
        ),
        sa.CheckConstraint("last4 IS NULL OR length(last4) = 4", name="card_tokens_last4"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_card_tokens_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_card_tokens_vendor_id_vendors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_tokens")),
        sa.UniqueConstraint(
            "vendor_id", "provider", "token", name=op.f("uq_card_tokens_vendor_id_provider_token")
        ),
    )
    op.create_index(op.f("ix_card_tokens_customer_id"), "card_tokens", ["customer_id"], unique=False)
    with op.batch_alter_table("payment_transactions", recreate="never" if postgres else "always") as table:
        if not postgres:
            table.alter_column(
                "status", existing_type=OLD_STATUS, type_=NEW_STATUS, existing_nullable=False,
                existing_server_default=sa.text("'pending'"),
            )  # fmt: skip
        table.add_column(sa.Column("held_amount", sa.Numeric(precision=10, scale=2), nullable=True))
        table.add_column(sa.Column("captured_amount", sa.Numeric(precision=10, scale=2), nullable=True))
        table.add_column(sa.Column("hold_lapses_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("release_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("lapse_warned_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(
            sa.Column("card_on_file", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        table.add_column(sa.Column("guarantee_id", sa.Uuid(), nullable=True))
        table.add_column(sa.Column("card_token_id", sa.Uuid(), nullable=True))
        table.create_foreign_key(
            op.f("fk_payment_transactions_guarantee_id_payment_transactions"),
            "payment_transactions", ["guarantee_id"], ["id"],
        )  # fmt: skip
        table.create_foreign_key(
            op.f("fk_payment_transactions_card_token_id_card_tokens"),
            "card_tokens",
            ["card_token_id"],
            ["id"],
        )
        table.create_check_constraint(
            "payment_transactions_captured_amount",
            "captured_amount IS NULL OR (captured_amount > 0 AND captured_amount <= held_amount)",
        )
        table.create_index(
            op.f("ix_payment_transactions_is_guarantee_status"), ["is_guarantee", "status"], unique=False
        )
    op.create_table(
        "phone_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("save_card", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["payment_transactions.id"],
            name=op.f("fk_phone_links_transaction_id_payment_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_phone_links_vendor_id_vendors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_phone_links_token_hash")),
    )
    with op.batch_alter_table("payment_settings") as table:
        table.add_column(
            sa.Column("guarantee_mode", sa.String(length=16), server_default=sa.text("'off'"), nullable=False)
        )
        table.add_column(sa.Column("guarantee_fixed", sa.Numeric(precision=10, scale=2), nullable=True))
        table.add_column(
            sa.Column(
                "guarantee_percent",
                sa.Numeric(precision=5, scale=2),
                server_default=sa.text("100"),
                nullable=False,
            )
        )
        table.add_column(
            sa.Column("guarantee_release_days", sa.Integer(), server_default=sa.text("7"), nullable=False)
        )
        table.add_column(
            sa.Column("saved_cards", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        table.create_check_constraint(
            "payment_settings_guarantee_mode", "guarantee_mode IN ('off', 'optional', 'required')"
        )
        table.create_check_constraint(
            "payment_settings_guarantee_release_days",
            "guarantee_release_days >= 1 AND guarantee_release_days <= 30",
        )
    if postgres:
        op.execute("ALTER TABLE card_tokens ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE phone_links ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    with op.batch_alter_table("payment_settings") as table:
        table.drop_constraint("payment_settings_guarantee_release_days", type_="check")
        table.drop_constraint("payment_settings_guarantee_mode", type_="check")
        for column in ("saved_cards", "guarantee_release_days", "guarantee_percent", "guarantee_fixed"):
            table.drop_column(column)
        table.drop_column("guarantee_mode")
    op.drop_table("phone_links")
    with op.batch_alter_table("payment_transactions", recreate="never" if postgres else "always") as table:
        table.drop_index(op.f("ix_payment_transactions_is_guarantee_status"))
        table.drop_constraint("payment_transactions_captured_amount", type_="check")
        table.drop_constraint(op.f("fk_payment_transactions_card_token_id_card_tokens"), type_="foreignkey")
        table.drop_constraint(
            op.f("fk_payment_transactions_guarantee_id_payment_transactions"), type_="foreignkey"
        )
        for column in (
            "card_token_id", "guarantee_id", "card_on_file", "lapse_warned_at", "release_at",
            "hold_lapses_at", "captured_amount", "held_amount",
        ):  # fmt: skip
            table.drop_column(column)
        if not postgres:
            table.alter_column(
                "status", existing_type=NEW_STATUS, type_=OLD_STATUS, existing_nullable=False,
                existing_server_default=sa.text("'pending'"),
            )  # fmt: skip
    op.drop_index(op.f("ix_card_tokens_customer_id"), table_name="card_tokens")
    op.drop_table("card_tokens")
    # PostgreSQL cannot drop an enum value: 'held', 'captured' and 'released' stay in the type, unused.
