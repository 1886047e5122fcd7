"""several processes on one database

An admin's pending chat steps are kept one per flow and order (``subject``), with a version for
compare-and-set, so a step handled by one process never overwrites another's. Outbox messages record the
digest they were sent in (``coalesced_into``). WhatsApp's pace (per business number, per recipient) is
kept in ``send_pacing``, shared by every sender.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 00:00:04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None
supabase_version = "20261203000004"


# Every process keeps what it read of a vendor for a while; a change to a vendor or its payment settings,
# whoever makes it, tells them all (NOTIFY vendor_changed, '<vendor id>'). An order's number taken from
# the vendor's counter is not a change of its settings.
VENDOR_CHANGED = (
    "CREATE OR REPLACE FUNCTION notify_vendor_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "IF TG_TABLE_NAME = 'vendors' THEN "
    "PERFORM pg_notify('vendor_changed', COALESCE(NEW.id, OLD.id)::text); "
    "ELSE "
    "PERFORM pg_notify('vendor_changed', COALESCE(NEW.vendor_id, OLD.vendor_id)::text); "
    "END IF; "
    "RETURN NULL; "
    "END $$",
    "CREATE TRIGGER vendors_changed AFTER UPDATE ON vendors FOR EACH ROW "
    "WHEN (to_jsonb(OLD) - 'last_order_number' - 'updated_at' "
    "IS DISTINCT FROM to_jsonb(NEW) - 'last_order_number' - 'updated_at') "
    "EXECUTE FUNCTION notify_vendor_changed()",
    "CREATE TRIGGER payment_settings_changed AFTER INSERT OR UPDATE OR DELETE ON payment_settings "
    "FOR EACH ROW EXECUTE FUNCTION notify_vendor_changed()",
)


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("subject", sa.String(length=40), server_default=sa.text("''"), nullable=False)
        )
        batch.add_column(sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch.drop_constraint(op.f("uq_conversations_vendor_id_phone"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_conversations_vendor_id_phone_flow_subject"), ["vendor_id", "phone", "flow", "subject"]
        )
    op.add_column(
        "outbox_messages",
        sa.Column("coalesced_into", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
    )
    op.create_table(
        "send_pacing",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("stamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_slot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_pacing")),
    )
    if postgres:
        op.execute("ALTER TABLE send_pacing ENABLE ROW LEVEL SECURITY")
        for statement in VENDOR_CHANGED:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS vendors_changed ON vendors")
        op.execute("DROP TRIGGER IF EXISTS payment_settings_changed ON payment_settings")
        op.execute("DROP FUNCTION IF EXISTS notify_vendor_changed()")
    op.drop_table("send_pacing")
    op.drop_column("outbox_messages", "coalesced_into")
    # The older schema holds one step per admin: the newest is kept.
    op.execute(
        "DELETE FROM conversations WHERE EXISTS (SELECT 1 FROM conversations newer "
        "WHERE newer.vendor_id = conversations.vendor_id AND newer.phone = conversations.phone "
        "AND (newer.version > conversations.version "
        "OR (newer.version = conversations.version AND newer.id > conversations.id)))"
    )
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint(op.f("uq_conversations_vendor_id_phone_flow_subject"), type_="unique")
        batch.create_unique_constraint(op.f("uq_conversations_vendor_id_phone"), ["vendor_id", "phone"])
        batch.drop_column("version")
        batch.drop_column("subject")
