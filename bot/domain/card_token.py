"""A card the customer agreed to save (the roadmap's ``card_tokens``): the provider's token and what may
be shown of it. Card numbers and security codes never enter the system (DESIGN.md §3)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConsentSource(StrEnum):
    """How the customer agreed: the box they ticked on the provider's page, from a link or while the
    vendor typed their card on a phone payment."""

    CHECKOUT = "checkout"
    PHONE = "phone"
    # Kept only to capture a guarantee (no consent to reuse it): forgotten when the guarantee ends.
    GUARANTEE = "guarantee"


@dataclass(slots=True)
class CardToken:
    id: uuid.UUID
    vendor_id: uuid.UUID
    customer_id: uuid.UUID
    provider: str
    token: str
    consent_at: datetime
    consent_source: ConsentSource
    created_at: datetime
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    provider_customer_id: str | None = None
    # Forgotten: never charged again; deleted at the provider once that call succeeds.
    forgotten_at: datetime | None = None
    deleted_at_provider: datetime | None = None

    @property
    def usable(self) -> bool:
        """May be charged for a new payment: kept with consent to reuse, and not forgotten."""
        return self.forgotten_at is None and self.consent_source is not ConsentSource.GUARANTEE

    def expired(self, now: datetime) -> bool:
        """Past the end of its expiry month."""
        if self.exp_year is None or self.exp_month is None:
            return False
        return (now.year, now.month) > (self.exp_year, self.exp_month)

    @property
    def expiry(self) -> str | None:
        if self.exp_year is None or self.exp_month is None:
            return None
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"

    @property
    def label(self) -> str:
        """ "Visa •••• 4242 (12/28)": all a person is ever shown of a card."""
        brand = (self.brand or "card").capitalize()
        last4 = f" •••• {self.last4}" if self.last4 else ""
        expiry = f" ({self.expiry})" if self.expiry else ""
        return f"{brand}{last4}{expiry}"
