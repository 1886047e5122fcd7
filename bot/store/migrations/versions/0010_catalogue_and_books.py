"""the catalogue and the books

Products (synced to the vendor's provider by a job: iCount's inventory, Stripe's Products and Prices),
the lines of an order built from products, the customer's email and their sync to the provider's
clients, and an index for the payment reports (by vendor and the day money came in).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:00:04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
supabase_version = "20261202000005"


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vat_included", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("icount_item_id", sa.String(length=64), nullable=True),
        sa.Column("stripe_product_id", sa.String(length=255), nullable=True),
        sa.Column("stripe_price_id", sa.String(length=255), nullable=True),
        sa.Column("sync_state", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("sync_error", sa.Text(), nullable=True),
        sa.Column("sync_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("unit_price >= 0", name="products_unit_price"),
        sa.CheckConstraint("sync_state IN ('pending', 'synced', 'failed')", name="products_sync_state"),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_products_vendor_id_vendors"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("vendor_id", "sku", name=op.f("uq_products_vendor_id_sku")),
    )
    op.create_index(
        op.f("ix_products_sync_state_next_sync_at"), "products", ["sync_state", "next_sync_at"], unique=False
    )
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("commande_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vat_included", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name="order_lines_quantity"),
        sa.CheckConstraint("unit_price >= 0", name="order_lines_unit_price"),
        sa.ForeignKeyConstraint(
            ["commande_id"],
            ["commandes.id"],
            name=op.f("fk_order_lines_commande_id_commandes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_lines_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
        sa.UniqueConstraint("commande_id", "position", name=op.f("uq_order_lines_commande_id_position")),
    )
    op.create_index(op.f("ix_order_lines_commande_id"), "order_lines", ["commande_id"], unique=False)
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("client_sync_state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("client_sync_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("client_synced_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        op.f("ix_payment_transactions_vendor_id_paid_at"),
        "payment_transactions",
        ["vendor_id", "paid_at"],
        unique=False,
    )
    if postgres:
        for table in ("products", "order_lines"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_transactions_vendor_id_paid_at"), table_name="payment_transactions")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("client_synced_at")
        batch.drop_column("client_sync_error")
        batch.drop_column("client_sync_state")
        batch.drop_column("email")
    op.drop_index(op.f("ix_order_lines_commande_id"), table_name="order_lines")
    op.drop_table("order_lines")
    op.drop_index(op.f("ix_products_sync_state_next_sync_at"), table_name="products")
    op.drop_table("products")
