"""A vendor's product (roadmap step 4) and an order's line made of one: the unit price is the product's at
the moment the order was made, so that a later change of the product never changes the order."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import InvalidSku
from bot.domain.money import Money, money_sum

# A SKU is typed in chat (``2x gateau-choc``): letters, digits, dashes, dots and underscores, no space.
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SyncState(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


def checked_sku(text: str) -> str:
    sku = text.strip()
    if not SKU.fullmatch(sku):
        raise InvalidSku(sku=text)
    return sku


@dataclass(slots=True)
class Product:
    id: uuid.UUID
    vendor_id: uuid.UUID
    sku: str
    name: str
    unit_price: Money
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    vat_included: bool = True
    active: bool = True
    # The provider's ids: iCount's inventory item, Stripe's Product and its current Price.
    icount_item_id: str | None = None
    stripe_product_id: str | None = None
    stripe_price_id: str | None = None
    sync_state: SyncState = SyncState.PENDING
    sync_error: str | None = None
    sync_attempts: int = 0
    next_sync_at: datetime | None = None
    synced_at: datetime | None = None

    def changed(self, now: datetime) -> None:
        """Every change is synced to the provider again, by the products job."""
        self.updated_at = now
        self.sync_state = SyncState.PENDING
        self.sync_error = None
        self.sync_attempts = 0
        self.next_sync_at = now


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: uuid.UUID
    position: int
    sku: str
    name: str
    quantity: int
    unit_price: Money
    vat_included: bool

    @property
    def total(self) -> Money:
        return self.unit_price.times(self.quantity)

    @classmethod
    def of(cls, product: Product, quantity: int, position: int) -> OrderLine:
        return cls(
            product.id,
            position,
            product.sku,
            product.name,
            quantity,
            product.unit_price,
            product.vat_included,
        )


def lines_total(lines: list[OrderLine], currency: str) -> Money:
    """The order's price: the sum of its lines."""
    return money_sum([line.total for line in lines], currency)
