"""The payment provider port: the neutral types every provider maps to, what every provider does
(``PaymentProvider``: payment links), and one Protocol per capability some providers have (refunds,
invoices, payment confirmation, client sync, hosted checkout, a connection test, card guarantees and
saved-card charges). Services ask the port which capability a provider has (``isinstance`` on these
runtime-checkable Protocols); they never import a provider package.

Shaped for Stripe (payment links, webhooks signed with a secret, refunds by payment intent) and for
iCount (pay pages from ``paypage/generate_sale``, IPNs confirmed through the API, documents as
invoices, card guarantees with J5 pre-authorisations and saved-card charges).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.domain.money import Money
from bot.domain.refund import RefundStatus
from bot.payments.cards import (  # re-exported: the port is one import for every capability
    PURPOSE_GUARANTEE as PURPOSE_GUARANTEE,
    PURPOSE_PAYMENT as PURPOSE_PAYMENT,
    PURPOSE_SAVED_CARD as PURPOSE_SAVED_CARD,
    CardGuarantee as CardGuarantee,
    CardHold as CardHold,
    ChargeAttempt as ChargeAttempt,
    ChargeStatus as ChargeStatus,
    HoldCheck as HoldCheck,
    HoldState as HoldState,
    SavedCard as SavedCard,
    SavedCardCharge as SavedCardCharge,
    SavedCardRequest as SavedCardRequest,
)
from bot.payments.catalogue import (  # re-exported too
    ProductCatalogue as ProductCatalogue,
    ProductIds as ProductIds,
    ProductSnapshot as ProductSnapshot,
)
from bot.payments.clients import (  # re-exported too
    ClientProfile as ClientProfile,
    ClientUpdates as ClientUpdates,
)


@dataclass(frozen=True, slots=True)
class LineItem:
    """One line of an order made of products, as a provider shows it: the product's SKU and name, the
    quantity and the unit price the order froze, and the provider's ids of the product when it has them
    (none: the provider makes an ad-hoc line)."""

    sku: str
    name: str
    quantity: int
    unit_price: Money
    vat_included: bool = True
    icount_item_id: str | None = None
    stripe_price_id: str | None = None

    @property
    def total(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """Everything a provider needs to make a payment page for one transaction."""

    transaction_id: uuid.UUID
    vendor_id: uuid.UUID
    order_id: uuid.UUID
    amount: Money
    description: str
    vendor_name: str
    # None for an Instagram customer whose number is not known (their name then says who they are).
    customer_phone: str | None
    locale: str
    success_url: str
    cancel_url: str
    customer_name: str | None = None
    provider_client_id: str | None = None
    # A guarantee: the page authorises a hold on the card, captured (or released) later.
    hold: bool = False
    # The page offers "save my card for next time"; the card is kept only when the customer ticks it.
    offer_save_card: bool = False
    # Typed by the vendor on their own device from what the customer reads out (a phone payment).
    by_phone: bool = False
    # The order's lines, when the request pays the whole price of an order made of products (empty for a
    # deposit or a balance: one line for the amount, as for an order without lines).
    lines: tuple[LineItem, ...] = ()

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
            "purpose": PURPOSE_GUARANTEE if self.hold else PURPOSE_PAYMENT,
        }

    @property
    def needs_card_customer(self) -> bool:
        """The page may keep the card: the provider wants its customer before it is made."""
        return self.hold or self.offer_save_card


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
    # A guarantee's hold was authorised on the card (nothing is paid yet).
    HELD = "held"
    # A hold was captured (all or part of it): that part is paid, the rest released.
    CAPTURED = "captured"
    # A hold was let go at the provider (cancelled, or lapsed) without being captured.
    RELEASED = "released"


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
    # The card the customer agreed to save while paying or authorising (with their consent only).
    saved_card: SavedCard | None = None
    # HELD: when the provider lets the hold go by itself; card_on_file: the provider keeps the card
    # but holds no money (an iCount account without J5 pre-approvals).
    hold_lapses_at: datetime | None = None
    card_on_file: bool = False
    # The address the customer typed on the provider's page (an iCount IPN's customer_email), unchecked.
    customer_email: str | None = None


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


class PaymentProvider(Protocol):
    """What every provider does: a payment page per request, and stopping it."""

    name: str

    async def create_link(self, request: LinkRequest) -> PaymentLink:
        """Creates (or, for the same idempotency key, finds again) the payment page."""
        ...

    async def deactivate_link(self, provider_link_id: str) -> None:
        """Stops the page from taking money; doing it twice is harmless."""
        ...

    async def close(self) -> None: ...


# -- refunds -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaidPayment:
    """A payment as a provider needs it to refund or invoice it."""

    transaction_id: uuid.UUID
    vendor_id: uuid.UUID
    # The provider's reference of the payment (a Stripe payment intent, an iCount confirmation code, or
    # an iCount "doctype:docnum"); None for cash taken at the register.
    reference: str | None
    amount: Money
    paid_on: date
    # What refunds gave back of it before.
    refunded: Money
    # Its invoice, when one was issued and is not cancelled.
    invoice: Document | None = None
    cash: bool = False


@dataclass(frozen=True, slots=True)
class RefundAttempt:
    """What a provider answered to one refund: succeeded, failed, or unknown (no answer: it may have
    been made). ``invoice_cancelled``: the payment's invoice was cancelled with it."""

    status: RefundStatus
    reference: str | None = None
    reason: str | None = None
    invoice_cancelled: bool = False


@runtime_checkable
class Refunds(Protocol):
    async def refund_payment(self, payment: PaidPayment, amount: Money, key: str) -> RefundAttempt:
        """Gives ``amount`` of the payment back, once: ``key`` is the refund's own (an idempotency key
        where the provider has them); a provider without them is never asked twice blindly."""
        ...

    async def check_refund(
        self, payment: PaidPayment, amount: Money, key: str, asked_at: datetime, now: datetime
    ) -> RefundAttempt:
        """What became of a refund asked at ``asked_at`` without an answer: made, not made, or still
        unknown. Never refunds twice."""
        ...


# -- invoices ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceOrder:
    """The document to issue for one payment."""

    payment: PaidPayment
    doctype: str
    client_id: str | None
    client_name: str
    description: str
    lang: str
    # The order's lines, when the payment covers the whole price of an order made of products.
    lines: tuple[LineItem, ...] = ()


@runtime_checkable
class Invoicing(Protocol):
    async def issue_invoice(self, order: InvoiceOrder) -> Document:
        """The payment's document: the one the provider already has for it, else a new one, made once
        even when asked again (a retry after a timeout)."""
        ...

    async def cancel_invoice(self, document: Document, reason: str) -> None: ...


# -- customers at the provider -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientDetails:
    custom_id: str
    name: str
    phone: str


@runtime_checkable
class ClientSync(Protocol):
    # iCount wants its client before any link; Stripe only before a page that may keep the card.
    clients_for_every_link: bool

    async def ensure_client(self, client: ClientDetails) -> str:
        """The provider's id of our customer; an existing one (same custom id) is found again."""
        ...


# -- callbacks confirmed through the API ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackNotice:
    """A provider's callback about one request (an iCount IPN), kept as the inbox stores it. ``key`` is
    one per request and payment: the provider's repeats collide on it."""

    transaction_id: uuid.UUID
    fields: dict[str, str]
    key: str | None

    def payload(self) -> str:
        data = {"transaction_id": str(self.transaction_id), "fields": self.fields, "key": self.key}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def load(cls, payload: str, key: str | None = None) -> CallbackNotice:
        """``key``: the inbox row's, for notices stored before the payload carried it."""
        data = json.loads(payload)
        fields = {str(k): str(v) for k, v in data["fields"].items()}
        return cls(uuid.UUID(data["transaction_id"]), fields, data.get("key") or key)


@dataclass(frozen=True, slots=True)
class ConfirmedPayment:
    """A payment the provider's own API shows, for ``amount``. ``other_references``: other names of the
    same payment (its document); ``documents``: the (doctype, number) issued for it. None of them may
    already count for another request."""

    amount: Money
    reference: str
    other_references: tuple[str, ...] = ()
    documents: tuple[tuple[str, str], ...] = ()
    saved_card: SavedCard | None = None
    # A guarantee's callback: the card was authorised for ``amount`` (a hold, or only kept on file).
    held: bool = False
    hold_lapses_at: datetime | None = None
    card_on_file: bool = False


@runtime_checkable
class PaymentConfirmation(Protocol):
    def accepts_callback(self, secret: str) -> bool:
        """Whether ``secret`` (in the callback's address) is one this provider gave out."""
        ...

    async def confirm_payment(
        self, notice: CallbackNotice, currency: str, around: date
    ) -> ConfirmedPayment | None:
        """The payment a callback claims, as the provider's API shows it (None: it does not, or it was
        refunded)."""
        ...


# -- checkout pages, connection test -------------------------------------------------------------------


@runtime_checkable
class HostedCheckout(Protocol):
    async def checkout_url(self, request: LinkRequest) -> str:
        """Where our link sends the customer now (a fresh provider page, reused for a while)."""
        ...


@dataclass(frozen=True, slots=True)
class AccountInfo:
    name: str | None
    account_id: str | None


@runtime_checkable
class ConnectionCheck(Protocol):
    async def check_connection(self) -> AccountInfo:
        """The vendor's account as the provider sees it with the stored credentials."""
        ...


# -- card guarantees and saved cards (roadmap steps 8 to 10): the types and Protocols are in cards.py


@runtime_checkable
class HoldConfirmation(Protocol):
    async def confirm_hold(
        self, notice: CallbackNotice, held: Money, around: date
    ) -> ConfirmedPayment | None:
        """A guarantee's callback (an iCount IPN), as the provider's API shows it: the card authorised
        for ``held`` (``held=True``; ``card_on_file`` when the account keeps the card but cannot hold
        money), with the card saved for the capture. None: the API does not show it."""
        ...
