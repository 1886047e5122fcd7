"""rejected inbox events

An inbox event that can never succeed (its processing failed in a way trying again cannot cure, or it
could not be stored as it came) is kept as rejected, with when and why, instead of being retried.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 00:00:05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None
supabase_version = "20261203000005"


def upgrade() -> None:
    op.add_column("inbound_events", sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("rejected_at")
