"""icount invoices

iCount documents issued for payments (one per payment transaction), and the kind of document a vendor
issues (``invrec`` for a VAT-registered business, ``receipt`` for an exempt one).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 00:00:04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
supabase_version = "20261121000005"


def upgrade() -> None:
    with op.batch_alter_table("payment_settings") as table:
        table.add_column(
            sa.Column(
                "invoice_doctype", sa.String(length=16), server_default=sa.text("'invrec'"), nullable=False
            )
        )
        table.create_check_constraint(
            "payment_settings_invoice_doctype", "invoice_doctype IN ('invrec', 'receipt')"
        )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("doctype", sa.String(length=16), nullable=False),
        sa.Column("docnum", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'issued'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('issued', 'cancelled')", name="invoices_status"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["payment_transactions.id"],
            name=op.f("fk_invoices_transaction_id_payment_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_invoices_vendor_id_vendors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_invoices_transaction_id")),
        sa.UniqueConstraint(
            "provider", "doctype", "docnum", name=op.f("uq_invoices_provider_doctype_docnum")
        ),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE invoices ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_table("invoices")
    with op.batch_alter_table("payment_settings") as table:
        table.drop_constraint("payment_settings_invoice_doctype", type_="check")
        table.drop_column("invoice_doctype")
