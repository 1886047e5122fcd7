"""An email to a customer, as the payment use cases queue it in the email outbox, and the rules of its
retries. Pure: the rendering is done by the services, the sending by bot/channels/email."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any


class EmailStatus(StrEnum):
    """Waiting (or waiting again after a failure), claimed by a sender, accepted by the SMTP server, or
    given up with its reason."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class EmailKind(StrEnum):
    # The payment confirmation, with the invoice link when the invoice came in time.
    PAYMENT_RECEIPT = "payment_receipt"
    # The invoice link alone: only when the confirmation had already gone without it.
    INVOICE_ISSUED = "invoice_issued"


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """What the payment flows need to know of email: it is on (SMTP_URL set), and how long a payment's
    confirmation waits for its invoice, so that the customer gets one email with both."""

    invoice_wait: timedelta = timedelta(minutes=5)


# Providers whose payments get an invoice soon after (iCount's document by the invoice pass, Stripe's
# invoice_creation by webhook): their confirmation waits up to ``invoice_wait`` for its link.
INVOICING_PROVIDERS = frozenset({"icount", "stripe"})


def expects_invoice(provider: str | None) -> bool:
    return provider in INVOICING_PROVIDERS


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One email, rendered: the row is what the sender sends. ``facts`` are what it was rendered from
    (kept to render it again when its invoice arrives before it is sent)."""

    vendor_id: uuid.UUID
    customer_id: uuid.UUID
    transaction_id: uuid.UUID
    kind: EmailKind
    to_address: str
    locale: str
    from_name: str
    subject: str
    text_body: str
    html_body: str
    facts: dict[str, Any] = field(default_factory=dict)


MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
# A claim not recorded within this time is the claim of a sender that died: the row is taken again.
# Far longer than one send can take (each SMTP step has a timeout well under a minute).
LEASE = timedelta(minutes=5)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes after the attempt that failed, up to an hour: about four hours in all before
    ``MAX_ATTEMPTS`` gives up."""
    doublings = min(max(0, attempts - 1), 16)
    return min(FIRST_RETRY * (1 << doublings), MAX_RETRY)
