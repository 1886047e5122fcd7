"""whatsapp conversations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 00:00:02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
supabase_version = "20261121000003"

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("vendors") as table:
        table.add_column(sa.Column("message_overrides", JSON, server_default=sa.text("'{}'"), nullable=False))
    with op.batch_alter_table("vendor_admins") as table:
        table.add_column(sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox_messages") as table:
        table.add_column(
            sa.Column("send_mode", sa.String(length=16), server_default=sa.text("'auto'"), nullable=False)
        )
    with op.batch_alter_table("inbound_events") as table:
        table.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as table:
        table.drop_column("locked_until")
    with op.batch_alter_table("outbox_messages") as table:
        table.drop_column("send_mode")
    with op.batch_alter_table("vendor_admins") as table:
        table.drop_column("last_inbound_at")
    with op.batch_alter_table("vendors") as table:
        table.drop_column("message_overrides")
