"""The port's product catalogue capability (roadmap step 4): a vendor's product written to the provider's
own catalogue (an iCount inventory item, a Stripe Product with its Price). Re-exported by ``port``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.domain.money import Money


@dataclass(frozen=True, slots=True)
class ProductSnapshot:
    """A product as the provider gets it, with the provider ids known so far (None: not made there yet)."""

    product_id: uuid.UUID
    vendor_id: uuid.UUID
    sku: str
    name: str
    description: str | None
    unit_price: Money
    vat_included: bool
    active: bool
    icount_item_id: str | None = None
    stripe_product_id: str | None = None
    stripe_price_id: str | None = None


@dataclass(frozen=True, slots=True)
class ProductIds:
    """The provider's ids of a product after a sync: the ones it does not use stay as they were."""

    icount_item_id: str | None = None
    stripe_product_id: str | None = None
    stripe_price_id: str | None = None


@runtime_checkable
class ProductCatalogue(Protocol):
    async def sync_product(self, product: ProductSnapshot) -> ProductIds:
        """Makes the provider's copy of ``product`` what it is now (created the first time, updated after,
        never made twice when asked again after a lost answer) and returns its ids there. A disabled
        product is kept at the provider, marked inactive where the provider can say so."""
        ...
