"""invoice numbers per vendor

Document numbers are per iCount company: two vendors with their own accounts both have an invrec 1001.
A document is unique per vendor, not across the whole bot.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 00:00:06
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
supabase_version = "20261121000007"


def upgrade() -> None:
    with op.batch_alter_table("invoices") as table:
        table.drop_constraint("uq_invoices_provider_doctype_docnum", type_="unique")
        table.create_unique_constraint(
            "uq_invoices_vendor_id_provider_doctype_docnum", ["vendor_id", "provider", "doctype", "docnum"]
        )


def downgrade() -> None:
    with op.batch_alter_table("invoices") as table:
        table.drop_constraint("uq_invoices_vendor_id_provider_doctype_docnum", type_="unique")
        table.create_unique_constraint(
            "uq_invoices_provider_doctype_docnum", ["provider", "doctype", "docnum"]
        )
