"""order reminders switch

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 00:00:05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
supabase_version = "20261121000006"


def upgrade() -> None:
    # `rappels 12 off` stops an order's reminders for good, requests made later included.
    with op.batch_alter_table("commandes") as table:
        table.add_column(
            sa.Column("reminders_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("commandes") as table:
        table.drop_column("reminders_enabled")
