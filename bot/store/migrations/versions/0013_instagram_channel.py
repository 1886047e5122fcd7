"""customers on Instagram

A customer has a channel and an address on it: WhatsApp (the phone, as before) or Instagram Direct (the
Instagram-scoped id, the username when known, and the last message there, which opens Instagram's own
24-hour window); an Instagram customer's phone is optional. Outbox messages carry their channel, and
their recipient may be an Instagram-scoped id.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 00:00:03
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None
supabase_version = "20261203000003"


NOT_NULL_PHONE = re.compile(r"(\bphone VARCHAR\(20\)) NOT NULL")


def _sqlite_phone_nullable(nullable: bool) -> None:
    """SQLite cannot drop a NOT NULL, and rebuilding ``customers`` would trip the foreign keys of every
    order pointing at it. Dropping or adding back a NOT NULL changes nothing on disk, so the table's
    definition is edited in place, as SQLite documents for this case (lang_altertable, "otheralter")."""
    connection = op.get_bind()
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    sql = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'customers'"
    ).scalar_one()
    if nullable:
        changed = NOT_NULL_PHONE.sub(r"\1", sql, count=1)
    else:
        changed = sql.replace("phone VARCHAR(20),", "phone VARCHAR(20) NOT NULL,", 1)
    if changed == sql:
        raise RuntimeError("customers.phone is not declared as this migration expects")
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    connection.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'customers'", (changed,)
    )
    connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    connection.exec_driver_sql("PRAGMA writable_schema = OFF")


def _new_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("channel", sa.String(length=16), server_default=sa.text("'whatsapp'"), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("handle", sa.String(length=64), nullable=True),
        sa.Column("channel_inbound_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    if postgres:
        op.alter_column("customers", "phone", existing_type=sa.String(length=20), nullable=True)
        # Instagram-scoped ids can be longer than a phone number.
        op.alter_column(
            "outbox_messages", "to_phone", existing_type=sa.String(length=20), type_=sa.String(length=64)
        )
    else:
        _sqlite_phone_nullable(True)  # and SQLite does not enforce VARCHAR lengths
    for column in _new_columns():
        op.add_column("customers", column)
    op.create_index(
        op.f("uq_customers_vendor_id_channel_address"),
        "customers",
        ["vendor_id", "channel", "address"],
        unique=True,
    )
    op.add_column(
        "outbox_messages",
        sa.Column("channel", sa.String(length=16), server_default=sa.text("'whatsapp'"), nullable=False),
    )


def downgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    # Instagram's messages have no place in the older schema; its customers without a phone neither.
    op.execute("DELETE FROM outbox_messages WHERE channel <> 'whatsapp'")
    left = op.get_bind().exec_driver_sql("SELECT count(*) FROM customers WHERE phone IS NULL").scalar_one()
    if left:
        raise RuntimeError(f"{left} Instagram customers have no phone: give them one or remove them first")
    op.drop_column("outbox_messages", "channel")
    op.drop_index(op.f("uq_customers_vendor_id_channel_address"), table_name="customers")
    for column in reversed(_new_columns()):
        op.drop_column("customers", column.name)
    if postgres:
        op.alter_column(
            "outbox_messages", "to_phone", existing_type=sa.String(length=64), type_=sa.String(length=20)
        )
        op.alter_column("customers", "phone", existing_type=sa.String(length=20), nullable=False)
    else:
        _sqlite_phone_nullable(False)
