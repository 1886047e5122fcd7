"""Orders made of products, through the services, on SQLite and a real Postgres: the lines at the
products' prices of the moment, the price their sum, clear refusals that write nothing, and the lines a
provider is shown only for a payment of the whole price."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.domain.errors import PriceWithItems, ProductDisabled, ProductNotFound
from bot.domain.money import Money
from bot.domain.product import Product
from bot.services import orders as order_service
from bot.services.order_lines import provider_lines
from bot.store.tables import commandes, order_lines
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW
from tests.payment_support import CUSTOMER, vendor_with_order


def eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


async def product(uow_factory: UnitOfWorkFactory, sku: str, name: str, price: str, **ids: str) -> Product:
    async with uow_factory() as uow:
        vendor = (await uow.vendors.all())[0]
        made = Product(uuid.uuid4(), vendor.id, sku, name, eur(price), NOW, NOW, **ids)
        await uow.products.add(made)
        await uow.commit()
    return made


async def counts(uow_factory: UnitOfWorkFactory) -> tuple[int, int]:
    async with uow_factory() as uow:
        orders = (await uow.connection.execute(select(func.count()).select_from(commandes))).scalar_one()
        lines = (await uow.connection.execute(select(func.count()).select_from(order_lines))).scalar_one()
    return int(orders), int(lines)


async def test_an_order_of_two_products_is_priced_at_their_sum_with_the_prices_of_the_moment(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await vendor_with_order(uow_factory)
    cake = await product(uow_factory, "gateau-choc", "Gâteau chocolat", "32.50", stripe_price_id="price_1")
    await product(uow_factory, "livraison", "Livraison", "8.00")
    created = await order_service.create_order_with_lines(
        uow_factory, None, f"+{CUSTOMER}", None, "", True, NOW, items=[("GATEAU-CHOC", 2), ("Livraison", 1)]
    )
    assert created.order.price == eur("73.00")
    assert created.order.label == "2× Gâteau chocolat, 1× Livraison"
    assert [(line.sku, line.quantity, line.total) for line in created.lines] == [
        ("gateau-choc", 2, eur("65.00")),
        ("livraison", 1, eur("8.00")),
    ]
    async with uow_factory() as uow:
        shown = await provider_lines(uow, created.order, eur("73.00"))
        assert [(item.sku, item.quantity, item.stripe_price_id) for item in shown] == [
            ("gateau-choc", 2, "price_1"),
            ("livraison", 1, None),
        ]
        assert await provider_lines(uow, created.order, eur("20.00")) == (), "a deposit is one line"
        cake.unit_price = eur("40.00")
        await uow.products.update(cake)
        await uow.commit()
    view = await order_service.show_order(uow_factory, None, created.order.number)
    assert view.order.price == eur("73.00") and view.lines[0].unit_price == eur("32.50")
    async with uow_factory() as uow:
        [changed, _] = await provider_lines(uow, view.order, eur("73.00"))
    assert changed.stripe_price_id is None, "a Price of another amount is never used"


async def test_an_unknown_or_disabled_product_or_a_price_with_items_is_refused_and_nothing_is_written(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await vendor_with_order(uow_factory)
    before = await counts(uow_factory)
    old = await product(uow_factory, "vieux", "Ancien gâteau", "10.00")
    async with uow_factory() as uow:
        old.active = False
        await uow.products.update(old)
        await uow.commit()
    with pytest.raises(ProductNotFound):
        await order_service.create_order(
            uow_factory, None, f"+{CUSTOMER}", None, "", True, NOW, items=[("inconnu", 1)]
        )
    with pytest.raises(ProductDisabled):
        await order_service.create_order(
            uow_factory, None, f"+{CUSTOMER}", None, "", True, NOW, items=[("vieux", 1)]
        )
    with pytest.raises(PriceWithItems):
        await order_service.create_order(
            uow_factory, None, f"+{CUSTOMER}", "150", "", True, NOW, items=[("vieux", 1)]
        )
    assert await counts(uow_factory) == before
