"""The port's card capabilities (roadmap steps 8 to 10): holds a guarantee puts on a card, captured or
released, and charges of a card the customer saved, with no customer there. Re-exported by ``port``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.domain.money import Money

# What a provider-side object was made for (its metadata "purpose"): a payment, a hold, a saved-card charge.
PURPOSE_PAYMENT = "payment"
PURPOSE_GUARANTEE = "guarantee"
PURPOSE_SAVED_CARD = "saved_card"


@dataclass(frozen=True, slots=True)
class SavedCard:
    """A card the customer agreed to save, as the provider keeps it: its token (a Stripe PaymentMethod,
    an iCount ``cc_token_id``) and what may be shown of it. Never a card number or a security code."""

    token: str
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    # The provider's customer the card belongs to (a Stripe Customer), when it has one.
    provider_customer_id: str | None = None


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # No answer: it may have been made. Looked up (never asked again blindly) before any retry.
    UNKNOWN = "unknown"
    # The card's bank wants the customer there (3-D Secure): they get a normal link instead.
    AUTHENTICATION_REQUIRED = "authentication_required"


@dataclass(frozen=True, slots=True)
class ChargeAttempt:
    """What a provider answered to a capture or a saved-card charge: its payment reference when made."""

    status: ChargeStatus
    reference: str | None = None
    reason: str | None = None
    amount: Money | None = None


@dataclass(frozen=True, slots=True)
class CardHold:
    """A guarantee as a provider needs it to capture, release or look up its hold."""

    transaction_id: uuid.UUID
    vendor_id: uuid.UUID
    held: Money
    # The provider's reference of the hold (a Stripe PaymentIntent; an iCount J5 confirmation code),
    # None while no webhook told it; ``provider_link_id`` finds it then (a Stripe Checkout Session).
    reference: str | None
    provider_link_id: str | None
    created_at: datetime
    lapses_at: datetime | None = None
    # iCount captures a J5 pre-approval by charging the card's token.
    token: str | None = None
    provider_client_id: str | None = None
    card_on_file: bool = False
    # Payment references the bot already counts (other payments of the customer): a lookup never takes
    # one of them for this hold's capture.
    known_references: frozenset[str] = frozenset()


class HoldState(StrEnum):
    REQUESTED = "requested"
    HELD = "held"
    CAPTURED = "captured"
    RELEASED = "released"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class HoldCheck:
    """A hold as the provider shows it now (the reconciliation of a webhook that never came)."""

    state: HoldState
    reference: str | None = None
    held: Money | None = None
    captured: Money | None = None
    lapses_at: datetime | None = None
    saved_card: SavedCard | None = None


@runtime_checkable
class CardGuarantee(Protocol):
    # How long the provider keeps an authorisation: guarantee_release_days never goes past it.
    hold_window: timedelta

    async def capture_hold(self, hold: CardHold, amount: Money, key: str) -> ChargeAttempt:
        """Charges ``amount`` (at most what is held) of the hold, once for ``key``; the rest is
        released by the capture itself."""
        ...

    async def release_hold(self, hold: CardHold) -> None:
        """Lets the hold go; doing it again, or on a hold already gone, is harmless."""
        ...

    async def check_hold(self, hold: CardHold) -> HoldCheck:
        """The hold as the provider shows it now."""
        ...


@dataclass(frozen=True, slots=True)
class SavedCardRequest:
    """One charge of a saved card with no link (off-session), for one transaction."""

    transaction_id: uuid.UUID
    vendor_id: uuid.UUID
    order_id: uuid.UUID
    card: SavedCard
    amount: Money
    description: str
    asked_at: datetime
    provider_client_id: str | None = None
    # Payment references the bot already counts (other payments of the customer): a lookup of this
    # charge never takes one of them for it (a provider without idempotency matches by sum and day).
    known_references: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """Derived from the transaction: asked again, the same charge is found, never a second one."""
        return f"saved-card-{self.transaction_id}"

    @property
    def metadata(self) -> dict[str, str]:
        return {
            "transaction_id": str(self.transaction_id),
            "order_id": str(self.order_id),
            "vendor_id": str(self.vendor_id),
            "purpose": PURPOSE_SAVED_CARD,
        }


@runtime_checkable
class SavedCardCharge(Protocol):
    # Whether a guarantee's page asks the customer to keep their card for later payments (so that
    # ``card_details`` tells their consent). False: a guarantee's card serves that guarantee only.
    guarantee_pages_ask_consent: bool

    async def charge_saved_card(self, charge: SavedCardRequest) -> ChargeAttempt:
        """Charges the saved card with no customer there. A provider without idempotency looks the
        charge up first when asked again (``find_saved_card_charge``): never two charges."""
        ...

    async def find_saved_card_charge(self, charge: SavedCardRequest) -> ChargeAttempt:
        """What became of a charge that got no answer: made (its reference), not made (FAILED), or
        still unknown."""
        ...

    async def forget_card(self, card: SavedCard) -> None:
        """Deletes the card at the provider; a card already gone is not an error."""
        ...

    async def card_details(self, card: SavedCard) -> SavedCard | None:
        """The card a payment or a hold left (an event names only its token), with its brand, last 4
        digits and expiry, if the provider keeps it with the customer's consent (Stripe: attached to
        the customer with ``allow_redisplay=always``, the box they ticked). None: not to be kept."""
        ...
