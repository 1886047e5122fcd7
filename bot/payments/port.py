"""The payment provider port: neutral types every provider maps to, and what some providers can do.

Shaped for Stripe (payment links, webhooks signed with a secret, refunds by payment intent) and for
iCount (pay pages from ``paypage/generate_sale``, IPNs confirmed through the API, documents as
invoices, card guarantees with J5 pre-authorisations and saved-card charges).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Flag, StrEnum, auto
from typing import Protocol, runtime_checkable

from bot.domain.money import Money


class Capability(Flag):
    NONE = 0
    REFUND = auto()
    PARTIAL_REFUND = auto()
    INVOICE = auto()
    CARD_GUARANTEE = auto()
    SAVED_CARD_CHARGE = auto()
    LINK_DEACTIVATION = auto()


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """Everything a provider needs to make a payment page for one transaction."""

    transaction_id: uuid.UUID
    vendor_id: uuid.UUID
    order_id: uuid.UUID
    amount: Money
    description: str
    vendor_name: str
    customer_phone: str
    locale: str
    success_url: str
    cancel_url: str
    customer_name: str | None = None
    provider_client_id: str | None = None

    @property
    def idempotency_key(self) -> str:
        """Derived from the transaction: a retry or a recovery never makes a second link."""
        return f"payment-link-{self.transaction_id}"

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "transaction_id": str(self.transaction_id),
            "order_id": str(self.order_id),
            "vendor_id": str(self.vendor_id),
        }


@dataclass(frozen=True, slots=True)
class PaymentLink:
    provider: str
    provider_link_id: str
    url: str


class PaymentEventKind(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"
    EXPIRED = "expired"
    # The provider made the payment's invoice (Stripe's invoice_creation).
    INVOICED = "invoiced"


@dataclass(frozen=True, slots=True)
class Document:
    """An invoice or receipt a provider issued for a payment: its type, number and page."""

    doctype: str
    number: str
    url: str | None


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A provider's news about one payment, in neutral terms.

    ``reference`` identifies the payment itself (a Stripe payment intent, an iCount confirmation code):
    two notices with the same reference are the same payment told twice; a different reference on an
    already paid request is a second payment."""

    provider: str
    event_id: str
    kind: PaymentEventKind
    occurred_at: datetime
    transaction_id: uuid.UUID | None = None
    provider_link_id: str | None = None
    reference: str | None = None
    amount: Money | None = None
    method: str | None = None
    refunded_amount: Money | None = None
    detail: str | None = None
    # Set when the event was signed with one vendor's own secret: it may only touch that vendor's requests.
    vendor_id: uuid.UUID | None = None
    # The provider's page can take no more money (a Stripe link used its one checkout session).
    link_exhausted: bool = False
    document: Document | None = None


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider_refund_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """What a verified webhook means: zero or more payment events (unknown types mean none)."""

    event_type: str
    events: list[PaymentEvent] = field(default_factory=list)


class ProviderError(Exception):
    """A provider call failed. ``transient`` errors (timeouts, 5xx, rate limits) may be retried."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@runtime_checkable
class RefundLookup(Protocol):
    """A provider that can say whether a refund asked with ``idempotency_key`` was made (Stripe keeps
    idempotency keys 24 hours only: past them, asking again could refund twice)."""

    async def find_refund(self, reference: str, idempotency_key: str) -> RefundResult | None: ...


class PaymentProvider(Protocol):
    name: str
    capabilities: Capability

    async def create_link(self, request: LinkRequest) -> PaymentLink:
        """Creates (or, for the same idempotency key, finds again) the payment page."""
        ...

    async def deactivate_link(self, provider_link_id: str) -> None:
        """Stops the page from taking money; doing it twice is harmless."""
        ...

    async def refund(self, reference: str, amount: Money, idempotency_key: str) -> RefundResult:
        """Gives ``amount`` of the payment ``reference`` back."""
        ...

    async def close(self) -> None: ...
