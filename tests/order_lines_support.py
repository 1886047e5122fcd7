"""Products put straight in the store for tests of orders made of them (the products service and its
sync are tested elsewhere): a SKU, a name, a price and the provider's ids already known."""

from __future__ import annotations

import uuid
from decimal import Decimal

from bot.domain.money import Money
from bot.domain.product import Product, SyncState
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW


async def add_product(
    uow_factory: UnitOfWorkFactory,
    vendor_id: uuid.UUID,
    sku: str,
    name: str,
    price: str,
    currency: str = "EUR",
    *,
    active: bool = True,
    icount_item_id: str | None = None,
    stripe_price_id: str | None = None,
) -> Product:
    product = Product(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        sku=sku,
        name=name,
        unit_price=Money(Decimal(price), currency),
        created_at=NOW,
        updated_at=NOW,
        active=active,
        icount_item_id=icount_item_id,
        stripe_price_id=stripe_price_id,
        sync_state=SyncState.SYNCED if icount_item_id or stripe_price_id else SyncState.PENDING,
    )
    async with uow_factory() as uow:
        await uow.products.add(product)
        await uow.commit()
    return product
