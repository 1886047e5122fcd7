"""reminder repeat

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 00:00:03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
supabase_version = "20261121000004"


def upgrade() -> None:
    # After the scheduled offsets, one more reminder every ``repeat_every`` (e.g. "2d"), up to a count.
    with op.batch_alter_table("vendors") as table:
        table.add_column(sa.Column("reminder_repeat_every", sa.Text(), nullable=True))
        table.add_column(
            sa.Column("reminder_repeat_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("vendors") as table:
        table.drop_column("reminder_repeat_count")
        table.drop_column("reminder_repeat_every")
