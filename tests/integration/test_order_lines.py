"""Orders made of products, through the services, on SQLite and a real Postgres: the lines at the
products' prices of the moment, the price their sum, clear refusals that write nothing, and the lines a
provider is shown only for a payment of the whole price."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.errors import (
    AmbiguousProduct,
    DomainError,
    InvalidQuantity,
    PriceWithItems,
    ProductDisabled,
    ProductInOtherCurrency,
    ProductNotFound,
)
from bot.domain.money import Money
from bot.domain.order import OrderStatus
from bot.rendering import explain
from bot.services import acceptance, orders as order_service, vendors as vendor_service
from bot.services.order_lines import provider_lines
from bot.store.tables import commandes, customers, order_lines
from bot.store.uow import UnitOfWorkFactory
from bot.views import order_json
from tests.conftest import NOW
from tests.order_lines_support import add_product
from tests.payment_support import deps_for

CUSTOMER = "+33699887766"


def eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


async def bakery(uow_factory: UnitOfWorkFactory) -> uuid.UUID:
    new = vendor_service.NewVendor(name="Boulangerie", admin_phones=["+33612345678"])
    return (await vendor_service.add_vendor(uow_factory, new, NOW)).vendor.id


async def rows(uow_factory: UnitOfWorkFactory, table: Any) -> int:
    async with uow_factory() as uow:
        return int((await uow.connection.execute(select(func.count()).select_from(table))).scalar_one())


async def test_an_order_of_two_products_has_their_lines_and_costs_their_sum(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor_id = await bakery(uow_factory)
    cake = await add_product(uow_factory, vendor_id, "gateau-choc", "Gâteau chocolat", "18.50")
    await add_product(uow_factory, vendor_id, "livraison", "Livraison", "5")
    order = await order_service.create_order(
        uow_factory, None, CUSTOMER, None, "", True, NOW, items=[("gateau-choc", 2), ("Livraison", 1)]
    )
    assert order.price == eur("42.00")
    assert order.label == "2× Gâteau chocolat, 1× Livraison"
    assert order.status is OrderStatus.ACCEPTED
    view = await order_service.show_order(uow_factory, None, order.number)
    assert [(line.position, line.sku, line.quantity, line.unit_price) for line in view.lines] == [
        (1, "gateau-choc", 2, eur("18.50")),
        (2, "livraison", 1, eur("5.00")),
    ]
    assert view.lines[0].product_id == cake.id and view.lines[0].total == eur("37.00")
    shown = order_json(view)
    assert [
        (line["sku"], line["quantity"], line["unit_price"], line["total"]) for line in shown["lines"]
    ] == [
        ("gateau-choc", 2, "18.50", "37.00"),
        ("livraison", 1, "5.00", "5.00"),
    ]


async def test_a_line_keeps_the_unit_price_of_the_day_the_order_was_made(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor_id = await bakery(uow_factory)
    cake = await add_product(uow_factory, vendor_id, "gateau-choc", "Gâteau chocolat", "18.50")
    order = await order_service.create_order(
        uow_factory, None, CUSTOMER, None, "Anniversaire", False, NOW, items=[("GATEAU-CHOC", 3)]
    )
    assert order.label == "Anniversaire", "a label given is kept"
    cake.unit_price = eur("25")
    cake.name = "Gâteau au chocolat noir"
    async with uow_factory() as uow:
        await uow.products.update(cake)
        await uow.commit()
    view = await order_service.show_order(uow_factory, None, order.number)
    [line] = view.lines
    assert (line.name, line.unit_price, line.total) == ("Gâteau chocolat", eur("18.50"), eur("55.50"))
    assert view.order.price == eur("55.50")


@pytest.mark.parametrize(
    ("items", "error", "params"),
    [
        ([("gateau-choc", 1), ("tarte", 1)], ProductNotFound, {"sku": "tarte"}),
        ([("gateau-choc", 1), ("ancien", 2)], ProductDisabled, {"sku": "ancien"}),
        ([("Gâteau", 1)], AmbiguousProduct, {"reference": "Gâteau", "skus": "gateau-choc, gateau-vanille"}),
        ([("gateau-choc", 0)], InvalidQuantity, {"reference": "gateau-choc", "quantity": 0, "most": 999}),
        (
            [("gateau-choc", 1000)],
            InvalidQuantity,
            {"reference": "gateau-choc", "quantity": 1000, "most": 999},
        ),
        ([("cake-gbp", 1)], ProductInOtherCurrency, {"sku": "cake-gbp", "got": "GBP", "expected": "EUR"}),
    ],
)
async def test_an_unknown_disabled_ambiguous_or_foreign_product_is_refused_and_nothing_is_written(
    uow_factory: UnitOfWorkFactory,
    items: list[tuple[str, int]],
    error: type[DomainError],
    params: dict[str, Any],
) -> None:
    vendor_id = await bakery(uow_factory)
    await add_product(uow_factory, vendor_id, "gateau-choc", "Gâteau", "18.50")
    await add_product(uow_factory, vendor_id, "gateau-vanille", "Gâteau", "16")
    await add_product(uow_factory, vendor_id, "ancien", "Ancien gâteau", "9", active=False)
    await add_product(uow_factory, vendor_id, "cake-gbp", "Cake", "9", "GBP")
    with pytest.raises(error) as raised:
        await acceptance.create_order(deps_for(uow_factory), None, CUSTOMER, None, "", True, items=items)
    assert raised.value.params == params
    for locale in ("fr", "en", "he"):
        assert str(params.get("sku", params.get("reference"))) in explain(raised.value, locale)
    assert [await rows(uow_factory, table) for table in (commandes, order_lines, customers)] == [0, 0, 0]


async def test_a_price_and_products_together_are_refused(uow_factory: UnitOfWorkFactory) -> None:
    vendor_id = await bakery(uow_factory)
    await add_product(uow_factory, vendor_id, "gateau-choc", "Gâteau", "18.50")
    with pytest.raises(PriceWithItems):
        await order_service.create_order(
            uow_factory, None, CUSTOMER, "150", "", True, NOW, items=[("gateau-choc", 1)]
        )
    assert await rows(uow_factory, commandes) == 0


async def test_an_order_without_lines_is_made_as_before(uow_factory: UnitOfWorkFactory) -> None:
    await bakery(uow_factory)
    accepted = await acceptance.create_order(deps_for(uow_factory), None, CUSTOMER, "150", "Gâteau", True)
    assert (accepted.order.price, accepted.order.label, accepted.lines) == (eur("150"), "Gâteau", ())
    view = await order_service.show_order(uow_factory, None, accepted.order.number)
    assert view.lines == [] and order_json(view)["lines"] == []
    assert await rows(uow_factory, order_lines) == 0


async def test_a_provider_is_shown_the_lines_only_for_the_whole_price_and_a_price_of_another_amount_never(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor_id = await bakery(uow_factory)
    cake = await add_product(
        uow_factory, vendor_id, "gateau-choc", "Gâteau chocolat", "32.50", stripe_price_id="price_1"
    )
    await add_product(uow_factory, vendor_id, "livraison", "Livraison", "8.00")
    created = await order_service.create_order_with_lines(
        uow_factory, None, CUSTOMER, None, "", True, NOW, items=[("GATEAU-CHOC", 2), ("Livraison", 1)]
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
