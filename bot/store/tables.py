"""The schema, as SQLAlchemy Core tables. Source tables keep the source's French names and columns
(``commandes``, ``payment_transactions``) so an existing Supabase app can read them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)

from bot.domain.card_token import ConsentSource
from bot.domain.email import EmailStatus
from bot.domain.guarantee import GuaranteeMode
from bot.domain.order import OrderStatus
from bot.domain.outgoing import OutboxStatus
from bot.domain.push import PushKind, PushStatus
from bot.domain.refund import RefundStatus
from bot.domain.reminders import ReminderStatus
from bot.domain.transaction import TransactionStatus, TransactionType
from bot.store.types import ExactDecimal, JSONDocument, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Integer keys that autoincrement on both databases (SQLite needs INTEGER PRIMARY KEY).
SerialId = BigInteger().with_variant(Integer(), "sqlite")


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", UTCDateTime(), nullable=False, server_default=func.now()),
        Column("updated_at", UTCDateTime(), nullable=False, server_default=func.now()),
    ]


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


ORDER_STATUSES = [status.value for status in OrderStatus]
GUARANTEE_MODES = [mode.value for mode in GuaranteeMode]
CONSENT_SOURCES = [source.value for source in ConsentSource]
PROVIDERS = ["stripe", "icount", "sandbox"]

vendors = Table(
    "vendors",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("name", Text(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("locale", String(8), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("phone_number_id", String(64), nullable=True, unique=True),
    # The last order number given; incremented under the row lock so numbers have no gaps.
    Column("last_order_number", Integer(), nullable=False, server_default=text("0")),
    Column("reminder_schedule", Text(), nullable=False),
    Column("reminder_quiet_hours", Text(), nullable=True),
    Column("reminders_enabled", Boolean(), nullable=False, server_default=text("true")),
    Column("reminder_repeat_every", Text(), nullable=True),
    Column("reminder_repeat_count", Integer(), nullable=False, server_default=text("0")),
    Column("whatsapp_templates", JSONDocument, nullable=False),
    # Per-vendor wording of messages: {"<kind>": {"<locale>": "<Jinja2 text>"}}.
    Column("message_overrides", JSONDocument, nullable=False, server_default=text("'{}'")),
    # The Supabase auth user who owns the vendor: copied to commandes.user_id and
    # payment_transactions.user_id, which the Supabase-only read policies check against auth.uid().
    Column("owner_user_id", Uuid(), nullable=True),
    *_timestamps(),
)

vendor_admins = Table(
    "vendor_admins",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("phone", String(20), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False, server_default=func.now()),
    # Opens WhatsApp's 24-hour window for messages to this admin.
    Column("last_inbound_at", UTCDateTime(), nullable=True),
    UniqueConstraint("vendor_id", "phone"),
)

payment_settings = Table(
    "payment_settings",
    metadata,
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True),
    Column("provider", String(16), nullable=False),
    # Provider credentials, encrypted with SECRET_KEY (Fernet); never stored in clear.
    Column("credentials", Text(), nullable=True),
    Column("deposit_mode", String(16), nullable=False),
    Column("deposit_percent", ExactDecimal(5, 2), nullable=False),
    Column("deposit_fixed", ExactDecimal(10, 2), nullable=True),
    Column("confirmation_rule", String(16), nullable=False),
    Column("hold_minutes", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False, server_default=func.now()),
    CheckConstraint(_in("provider", PROVIDERS), name="payment_settings_provider"),
    CheckConstraint(
        _in("deposit_mode", ["none", "full", "fixed", "percent"]),
        name="payment_settings_deposit_mode",
    ),
    CheckConstraint(
        _in("confirmation_rule", ["immediate", "paid_only"]),
        name="payment_settings_confirmation_rule",
    ),
    CheckConstraint(
        "deposit_percent > 0 AND deposit_percent <= 100", name="payment_settings_deposit_percent"
    ),
    # The document issued after each iCount payment: invrec (VAT-registered) or receipt (exempt).
    Column("invoice_doctype", String(16), nullable=False, server_default=text("'invrec'")),
    CheckConstraint(_in("invoice_doctype", ["invrec", "receipt"]), name="payment_settings_invoice_doctype"),
    # On: an order accepted with a price gets its payment request at once, sized by deposit_mode.
    Column("request_on_accept", Boolean(), nullable=False, server_default=text("false")),
    # Card guarantees (roadmap step 3): off / optional / required, the default hold (a fixed amount, else
    # a percent of the price), when an unused hold is released, and whether pages offer to save the card.
    Column("guarantee_mode", String(16), nullable=False, server_default=text("'off'")),
    Column("guarantee_fixed", ExactDecimal(10, 2), nullable=True),
    Column("guarantee_percent", ExactDecimal(5, 2), nullable=False, server_default=text("100")),
    Column("guarantee_release_days", Integer(), nullable=False, server_default=text("7")),
    Column("saved_cards", Boolean(), nullable=False, server_default=text("false")),
    CheckConstraint(_in("guarantee_mode", GUARANTEE_MODES), name="payment_settings_guarantee_mode"),
    CheckConstraint(
        "guarantee_release_days >= 1 AND guarantee_release_days <= 30",
        name="payment_settings_guarantee_release_days",
    ),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    # Their WhatsApp number; optional for an Instagram customer (the vendor may add it later).
    Column("phone", String(20), nullable=True),
    Column("name", Text(), nullable=True),
    Column("locale", String(8), nullable=True),
    Column("provider_client_id", String(64), nullable=True),
    Column("opted_out", Boolean(), nullable=False, server_default=text("false")),
    # Opens WhatsApp's 24-hour customer service window.
    Column("last_inbound_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    Column("email", String(254), nullable=True),
    # Synced to the provider's clients (iCount's client/create_or_update) after each change: pending,
    # synced or failed with the reason; None when the vendor's provider keeps no clients.
    Column("client_sync_state", String(16), nullable=True),
    Column("client_sync_error", Text(), nullable=True),
    Column("client_synced_at", UTCDateTime(), nullable=True),
    # The channel they first wrote on and their id there (the Instagram-scoped id; none on WhatsApp, where
    # the phone is the address), their Instagram username, and their last message on that channel (its own
    # 24-hour window; last_inbound_at stays WhatsApp's).
    Column("channel", String(16), nullable=False, server_default=text("'whatsapp'")),
    Column("address", String(64), nullable=True),
    Column("handle", String(64), nullable=True),
    Column("channel_inbound_at", UTCDateTime(), nullable=True),
    UniqueConstraint("vendor_id", "phone"),
    # An index rather than a constraint: SQLite adds one without rebuilding the table.
    Index("uq_customers_vendor_id_channel_address", "vendor_id", "channel", "address", unique=True),
)

commandes = Table(
    "commandes",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer(), nullable=False),
    Column("customer_id", Uuid(), ForeignKey("customers.id"), nullable=False),
    Column("user_id", Uuid(), nullable=True),
    Column("label", Text(), nullable=False, server_default=text("''")),
    Column("price", ExactDecimal(10, 2), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("payment_type", String(20), nullable=True),
    # Off: no reminder for this order's requests, whatever the vendor's policy (`rappels 12 off`).
    Column("reminders_enabled", Boolean(), nullable=False, server_default=text("true")),
    *_timestamps(),
    UniqueConstraint("vendor_id", "number"),
    CheckConstraint(
        "(status = 'paid' AND payment_type IS NOT NULL) OR status <> 'paid'",
        name="check_payment_logic",
    ),
    CheckConstraint(_in("status", ORDER_STATUSES), name="commandes_status"),
    CheckConstraint("price IS NULL OR price >= 0", name="commandes_price"),
    Index(None, "vendor_id", "status"),
)

payment_links = Table(
    "payment_links",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("provider_link_id", String(255), nullable=False),
    Column("url", Text(), nullable=False),
    Column("amount", ExactDecimal(10, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active", Boolean(), nullable=False, server_default=text("true")),
    *_timestamps(),
    UniqueConstraint("provider", "provider_link_id"),
)

payment_transactions = Table(
    "payment_transactions",
    metadata,
    # The source's columns, in the source's order.
    Column("id", Uuid(), primary_key=True),
    Column("commande_id", Uuid(), ForeignKey("commandes.id"), nullable=False, index=True),
    Column("user_id", Uuid(), nullable=True),
    Column("montant", ExactDecimal(10, 2), nullable=False),
    Column("devise", String(3), nullable=False, server_default=text("'EUR'")),
    Column(
        "type",
        Enum(
            *[t.value for t in TransactionType],
            name="payment_transaction_type",
            create_constraint=True,
        ),
        nullable=False,
    ),
    Column("label", Text(), nullable=False),
    Column("payment_method", String(50), nullable=True),
    Column("payment_link_id", Uuid(), ForeignKey("payment_links.id"), nullable=True),
    Column(
        "status",
        Enum(
            *[s.value for s in TransactionStatus],
            name="payment_transaction_status",
            create_constraint=True,
        ),
        nullable=False,
        server_default=text("'pending'"),
    ),
    Column("paid_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    # Ours.
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(16), nullable=True),
    Column("provider_reference", String(255), nullable=True),
    Column("is_guarantee", Boolean(), nullable=False, server_default=text("false")),
    Column("failure_reason", Text(), nullable=True),
    # The sum of its succeeded refunds, kept with the row under the order's lock (see refunds).
    Column("refunded_amount", ExactDecimal(10, 2), nullable=False, server_default=text("0")),
    # A guarantee (is_guarantee): held, captured of it, when the provider lets it go, when we release it,
    # when the vendor was warned; card_on_file: the card is kept but no money is held (iCount without J5).
    Column("held_amount", ExactDecimal(10, 2), nullable=True),
    Column("captured_amount", ExactDecimal(10, 2), nullable=True),
    Column("hold_lapses_at", UTCDateTime(), nullable=True),
    Column("release_at", UTCDateTime(), nullable=True),
    Column("lapse_warned_at", UTCDateTime(), nullable=True),
    Column("card_on_file", Boolean(), nullable=False, server_default=text("false")),
    # A payment made by capturing a guarantee, or by charging a saved card.
    Column("guarantee_id", Uuid(), ForeignKey("payment_transactions.id"), nullable=True),
    Column("card_token_id", Uuid(), ForeignKey("card_tokens.id"), nullable=True),
    CheckConstraint("montant > 0", name="payment_transactions_montant"),
    CheckConstraint(
        "refunded_amount >= 0 AND refunded_amount <= montant", name="payment_transactions_refunded_amount"
    ),
    CheckConstraint(
        "captured_amount IS NULL OR (captured_amount > 0 AND captured_amount <= held_amount)",
        name="payment_transactions_captured_amount",
    ),
    Index(None, "vendor_id", "status"),
    Index(None, "is_guarantee", "status"),
    # The payment reports: a vendor's money by the day it came in.
    Index(None, "vendor_id", "paid_at"),
)

card_tokens = Table(
    "card_tokens",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", Uuid(), ForeignKey("customers.id"), nullable=False, index=True),
    Column("provider", String(16), nullable=False),
    # The provider's token (a Stripe PaymentMethod id, an iCount cc_token_id): never a card number.
    Column("token", String(255), nullable=False),
    Column("provider_customer_id", String(255), nullable=True),
    Column("brand", String(32), nullable=True),
    Column("last4", String(4), nullable=True),
    Column("exp_month", Integer(), nullable=True),
    Column("exp_year", Integer(), nullable=True),
    Column("consent_at", UTCDateTime(), nullable=False),
    Column("consent_source", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, server_default=func.now()),
    Column("forgotten_at", UTCDateTime(), nullable=True),
    Column("deleted_at_provider", UTCDateTime(), nullable=True),
    UniqueConstraint("vendor_id", "provider", "token"),
    CheckConstraint(_in("consent_source", CONSENT_SOURCES), name="card_tokens_consent_source"),
    CheckConstraint("last4 IS NULL OR length(last4) = 4", name="card_tokens_last4"),
)

phone_links = Table(
    "phone_links",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("transaction_id", Uuid(), ForeignKey("payment_transactions.id"), nullable=False),
    # Only the hash of the one-time token is kept: the link itself is shown once, to the vendor.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("save_card", Boolean(), nullable=False, server_default=text("false")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

REFUND_STATUSES = [status.value for status in RefundStatus]

refunds = Table(
    "refunds",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("transaction_id", Uuid(), ForeignKey("payment_transactions.id"), nullable=False, index=True),
    Column("amount", ExactDecimal(10, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    # pending while the provider is asked; unknown when it did not answer (checked before any other).
    Column("status", String(16), nullable=False),
    # None for cash given back at the register.
    Column("provider", String(16), nullable=True),
    Column("provider_reference", String(255), nullable=True),
    # The admin's phone, "cli", or the provider for a refund made in its own dashboard.
    Column("requested_by", String(64), nullable=False),
    Column("failure_reason", Text(), nullable=True),
    *_timestamps(),
    CheckConstraint("amount > 0", name="refunds_amount"),
    CheckConstraint(_in("status", REFUND_STATUSES), name="refunds_status"),
    Index(None, "status"),
)

inbound_events = Table(
    "inbound_events",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    # The provider's id for the event (wamid, wamid:status, Stripe event id, ...): redeliveries collide.
    Column("event_key", String(255), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False, server_default=func.now()),
    Column("processed_at", UTCDateTime(), nullable=True),
    Column("attempts", Integer(), nullable=False, server_default=text("0")),
    Column("last_error", Text(), nullable=True),
    # A processor's lease: the background task and the recovery pass never handle one event at once.
    Column("locked_until", UTCDateTime(), nullable=True),
    # Set (with processed_at, the reason in last_error) on an event that can never succeed: it failed in a
    # way trying again cannot cure, or could not be stored as it came (a copy is kept instead).
    Column("rejected_at", UTCDateTime(), nullable=True),
    UniqueConstraint("source", "event_key"),
    Index(None, "processed_at"),
)

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", Uuid(), ForeignKey("customers.id"), nullable=True),
    # The recipient's address on ``channel``: a WhatsApp number, or an Instagram-scoped id.
    Column("to_phone", String(64), nullable=False),
    Column("channel", String(16), nullable=False, server_default=text("'whatsapp'")),
    Column("kind", String(40), nullable=False),
    Column("locale", String(8), nullable=False),
    # What to send: free text or interactive content, and the parameters of the approved template
    # to fall back on outside the 24-hour window.
    Column("payload", JSONDocument, nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer(), nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime(), nullable=False, server_default=func.now()),
    Column("wamid", String(128), nullable=True, unique=True),
    Column("last_error", Text(), nullable=True),
    Column("transaction_id", Uuid(), ForeignKey("payment_transactions.id"), nullable=True),
    # Makes "queue this message once" safe to repeat (e.g. one receipt per transaction).
    Column("dedupe_key", String(200), nullable=True, unique=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    # "auto": free text inside the 24-hour window, else the approved template; "template": always it.
    Column("send_mode", String(16), nullable=False, server_default=text("'auto'")),
    # A vendor note sent as part of another's digest ("5 payments received: ..."): that message's id.
    Column("coalesced_into", SerialId, nullable=True),
    *_timestamps(),
    CheckConstraint(
        _in("status", [status.value for status in OutboxStatus]),
        name="outbox_messages_status",
    ),
    Index(None, "status", "next_attempt_at"),
)


# Customers' emails (payment confirmations, invoice links): written in the transaction of the change that
# caused them, sent by the email sender, as outbox_messages are by the WhatsApp one.
email_outbox = Table(
    "email_outbox",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", Uuid(), ForeignKey("customers.id"), nullable=False),
    Column("transaction_id", Uuid(), ForeignKey("payment_transactions.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("to_address", String(254), nullable=False),
    Column("locale", String(8), nullable=False),
    # The email as it will be sent, and the facts it was rendered from (rendered again with the invoice
    # link when the invoice arrives before it is sent).
    Column("subject", Text(), nullable=False),
    Column("text_body", Text(), nullable=False),
    Column("html_body", Text(), nullable=False),
    Column("payload", JSONDocument, nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer(), nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime(), nullable=False, server_default=func.now()),
    # A claim's end: a row still "sending" after it was claimed by a sender that died, and is taken again.
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("message_id", String(255), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    CheckConstraint(_in("status", [status.value for status in EmailStatus]), name="email_outbox_status"),
    # One email of each kind per payment, whatever the redeliveries and retries.
    UniqueConstraint("kind", "transaction_id"),
    Index(None, "status", "next_attempt_at"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("transaction_id", Uuid(), ForeignKey("payment_transactions.id"), nullable=False),
    Column("sequence", Integer(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("outbox_message_id", SerialId, ForeignKey("outbox_messages.id"), nullable=True),
    *_timestamps(),
    UniqueConstraint("transaction_id", "sequence"),
    CheckConstraint(_in("status", [status.value for status in ReminderStatus]), name="reminders_status"),
    Index(None, "status", "due_at"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    # The admin's phone: one pending step per flow and order ("subject") for each admin, so a step on
    # one order never overwrites another's, whichever process handles them.
    Column("phone", String(20), nullable=False),
    Column("flow", String(40), nullable=False),
    Column("subject", String(40), nullable=False, server_default=text("''")),
    Column("state", JSONDocument, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    # Raised at each write, from the admin's highest: the newest step, and a compare-and-set on take.
    Column("version", Integer(), nullable=False, server_default=text("0")),
    *_timestamps(),
    UniqueConstraint("vendor_id", "phone", "flow", "subject"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    # One document per payment: a retried issue finds the row (and iCount's sanity_string the document).
    Column("transaction_id", Uuid(), ForeignKey("payment_transactions.id"), nullable=False, unique=True),
    Column("provider", String(16), nullable=False),
    Column("doctype", String(16), nullable=False),
    Column("docnum", String(64), nullable=False),
    Column("url", Text(), nullable=True),
    Column("amount", ExactDecimal(10, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'issued'")),
    *_timestamps(),
    # Document numbers are per iCount company, so per vendor: two vendors may both have invrec 1001.
    UniqueConstraint("vendor_id", "provider", "doctype", "docnum"),
    CheckConstraint(_in("status", ["issued", "cancelled"]), name="invoices_status"),
)

# The dashboard (/admin): sign-in codes and one-time links (hashed), lockouts, server-side sessions (only
# the hash of the cookie's token), and the audit log of settings changes (keys, never a secret's value).
admin_codes = Table(
    "admin_codes",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("phone", String(20), nullable=False, index=True),
    # "code": 6 digits sent by WhatsApp; "link": a one-time sign-in link (bot admin link).
    Column("kind", String(8), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    CheckConstraint(_in("kind", ["code", "link"]), name="admin_codes_kind"),
)

admin_lockouts = Table(
    "admin_lockouts",
    metadata,
    Column("phone", String(20), primary_key=True),
    Column("failures", Integer(), nullable=False, server_default=text("0")),
    Column("locked_until", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("phone", String(20), nullable=False, index=True),
    # The vendor the admin works on (an admin of several picks one); None until picked.
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    # Who: an admin's phone, or "cli".
    Column("actor", String(64), nullable=False),
    Column("setting", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "vendor_id", "created_at"),
)


# The catalogue and the books (issue 16): products synced to the provider, an order's lines.

PRODUCT_SYNC_STATES = ["pending", "synced", "failed"]

products = Table(
    "products",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("name", Text(), nullable=False),
    Column("description", Text(), nullable=True),
    Column("unit_price", ExactDecimal(10, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("vat_included", Boolean(), nullable=False, server_default=text("true")),
    # Disabled, never deleted: past orders' lines keep pointing at it.
    Column("active", Boolean(), nullable=False, server_default=text("true")),
    # The provider's ids: iCount's inventory item, Stripe's Product and its current Price.
    Column("icount_item_id", String(64), nullable=True),
    Column("stripe_product_id", String(255), nullable=True),
    Column("stripe_price_id", String(255), nullable=True),
    # Synced to the vendor's provider by the products job, outside any transaction: pending after each
    # change, synced, or failed with the provider's reason (and tried again at next_sync_at).
    Column("sync_state", String(16), nullable=False, server_default=text("'pending'")),
    Column("sync_error", Text(), nullable=True),
    Column("sync_attempts", Integer(), nullable=False, server_default=text("0")),
    Column("next_sync_at", UTCDateTime(), nullable=True),
    Column("synced_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    UniqueConstraint("vendor_id", "sku"),
    CheckConstraint("unit_price >= 0", name="products_unit_price"),
    CheckConstraint(_in("sync_state", PRODUCT_SYNC_STATES), name="products_sync_state"),
    Index(None, "sync_state", "next_sync_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("commande_id", Uuid(), ForeignKey("commandes.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("product_id", Uuid(), ForeignKey("products.id"), nullable=False),
    Column("position", Integer(), nullable=False),
    # The product as it was when the order was made: its later changes do not change the order.
    Column("sku", String(64), nullable=False),
    Column("name", Text(), nullable=False),
    Column("quantity", Integer(), nullable=False),
    Column("unit_price", ExactDecimal(10, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("vat_included", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("commande_id", "position"),
    CheckConstraint("quantity > 0", name="order_lines_quantity"),
    CheckConstraint("unit_price >= 0", name="order_lines_unit_price"),
)


# Web Push to the vendor's dashboard (issue 17): the server's VAPID key pair (made once; the private key
# sealed with SECRET_KEY), each admin's browser subscriptions, their choice of what to be notified of, and
# the notifications queued in the transaction of the change they are about, sent by the push sender.

web_push_keys = Table(
    "web_push_keys",
    metadata,
    # One row: the key pair every subscription was made with.
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("public_key", String(100), nullable=False),
    Column("sealed_private_key", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint("id = 1", name="web_push_keys_single"),
)

push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    # The vendor admin (a phone on one vendor) this browser notifies; gone with them.
    Column(
        "admin_id", Uuid(), ForeignKey("vendor_admins.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("endpoint", String(2048), nullable=False, unique=True),
    # The browser's P-256 public key and auth secret (base64url), which every payload is encrypted to.
    Column("p256dh", String(128), nullable=False),
    Column("auth", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_success_at", UTCDateTime(), nullable=True),
    Column("last_failure_at", UTCDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
)

push_preferences = Table(
    "push_preferences",
    metadata,
    Column("admin_id", Uuid(), ForeignKey("vendor_admins.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("enabled", Boolean(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint(_in("kind", [kind.value for kind in PushKind]), name="push_preferences_kind"),
)

push_outbox = Table(
    "push_outbox",
    metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("vendor_id", Uuid(), ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False),
    # One row per subscription: a gone subscription takes its notifications with it.
    Column(
        "subscription_id", Uuid(), ForeignKey("push_subscriptions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("kind", String(32), nullable=False),
    # {"title", "body", "url"}: what the service worker shows, encrypted only when sent.
    Column("payload", JSONDocument, nullable=False),
    # Once per event and subscription (a redelivered payment notifies once).
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer(), nullable=False, server_default=text("0")),
    # Also the claim: a sender takes a row by moving this forward, so a dead sender's row comes back.
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    *_timestamps(),
    CheckConstraint(_in("status", [status.value for status in PushStatus]), name="push_outbox_status"),
    Index(None, "status", "next_attempt_at"),
)

# WhatsApp's pace shared by every process on Postgres: a token bucket per (number, recipient) in the
# app's clock, and the next free slot per business number in the database's clock.
send_pacing = Table(
    "send_pacing",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("tokens", Float(), nullable=False, server_default=text("0")),
    Column("stamp", UTCDateTime(), nullable=True),
    Column("next_slot_at", UTCDateTime(), nullable=True),
    Column("paused_until", UTCDateTime(), nullable=True),
)
