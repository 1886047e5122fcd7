"""An order made of two products, paid in full, shows its items at the provider (against the wire-level
fakes): iCount's sale and invoice carry both with their inventory item, Stripe's link has two lines using
the products' Prices. A deposit is one line, as for an order without lines."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.domain.deposit import AskKind
from bot.domain.vendor import ProviderName
from bot.payments.stripe.client import stripe_client
from bot.payments.stripe.provider import StripeProvider
from bot.services import orders as order_service, payments, vendors as vendor_service
from bot.store.uow import UnitOfWorkFactory
from bot.web.keys import jobs_key, payments_key, tasks_key, uow_key
from tests.conftest import NOW, FrozenClock, TickingClock
from tests.fakes.icount_api import FakeIcount
from tests.fakes.stripe_api import FakeStripe
from tests.order_lines_support import add_product
from tests.payment_support import BASE_URL, OneProviderRegistry, deps_for, settings_for

CUSTOMER = "+972501234567"

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


# iCount


@pytest.fixture
async def icount(clock: FrozenClock) -> AsyncIterator[FakeIcount]:
    async with FakeIcount(clock=clock) as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def icount_app(
    aiohttp_client: AiohttpClient,
    icount: FakeIcount,
    database_url: str,
    engine: AsyncEngine,
    clock: FrozenClock,
) -> TestClient:
    settings = settings_for(
        database_url,
        payment_provider="icount",
        icount_api_token=icount.token,
        icount_paypage_id=icount.paypage_id,
        icount_api_base=icount.base_url,
        secret_key="a long test secret key",
        vendor_admin_phones="+972541112222",
        vendor_currency="ILS",
        vendor_locale="en",
        vendor_timezone="Asia/Jerusalem",
        recovery_seconds=3600,
        provider_jobs_seconds=3600,
    )
    client = await aiohttp_client(create_app(settings, clock=clock))
    await client.app[jobs_key].started()
    await client.app[tasks_key].drain()
    return client


async def icount_order(client: TestClient) -> int:
    """An accepted order of 2 cakes (with their iCount item) and a delivery (none yet): 73 ILS."""
    deps = client.app[payments_key]
    async with deps.uow() as uow:
        [vendor] = await uow.vendors.all()
    await add_product(
        deps.uow, vendor.id, "gateau-choc", "Gâteau chocolat", "32.50", "ILS", icount_item_id="17"
    )
    await add_product(deps.uow, vendor.id, "livraison", "Livraison", "8", "ILS")
    items = [("gateau-choc", 2), ("livraison", 1)]
    order = await order_service.create_order(
        deps.uow, None, CUSTOMER, None, "", True, deps.clock(), items=items
    )
    return order.number


async def sale_of(client: TestClient, transaction_id: uuid.UUID) -> str:
    async with client.app[uow_key]() as uow:
        transaction = await uow.transactions.get(transaction_id)
        assert transaction is not None and transaction.payment_link_id is not None
        link = await uow.links.get(transaction.payment_link_id)
    assert link is not None
    return link.provider_link_id


async def test_an_order_of_two_products_sends_icount_a_sale_and_an_invoice_with_both_items(
    icount_app: TestClient, icount: FakeIcount
) -> None:
    deps = icount_app.app[payments_key]
    number = await icount_order(icount_app)
    outcome = await payments.request_payment(deps, None, number, AskKind.FULL)
    sale = icount.sales[await sale_of(icount_app, outcome.transaction.id)]
    assert sale["sum"] == "73.00"
    assert sale["items"] == [
        {"inventory_item_id": 17, "sku": "gateau-choc", "description": "Gâteau chocolat",
         "unitprice": "32.50", "quantity": 2},
        {"sku": "livraison", "description": "Livraison", "unitprice": "8.00", "quantity": 1},
    ]  # fmt: skip
    ipn_url, fields = icount.pay(await sale_of(icount_app, outcome.transaction.id))
    response = await icount_app.post(ipn_url.removeprefix(BASE_URL), data=fields)
    await icount_app.app[tasks_key].drain()
    assert response.status == 200
    [document] = icount.documents.values()
    assert document["doctype"] == "invrec" and document["cc"][0]["sum"] == "73.00"
    assert document["items"] == [
        {"inventory_item_id": 17, "sku": "gateau-choc", "description": "Gâteau chocolat",
         "unitprice_incvat": "32.50", "quantity": 2},
        {"sku": "livraison", "description": "Livraison", "unitprice_incvat": "8.00", "quantity": 1},
    ]  # fmt: skip


async def test_a_deposit_on_an_order_of_products_is_one_icount_line_and_its_invoice_one_item(
    icount_app: TestClient, icount: FakeIcount
) -> None:
    deps = icount_app.app[payments_key]
    number = await icount_order(icount_app)
    outcome = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "30")
    sale_id = await sale_of(icount_app, outcome.transaction.id)
    assert "items" not in icount.sales[sale_id] and icount.sales[sale_id]["sum"] == "30.00"
    ipn_url, fields = icount.pay(sale_id)
    await icount_app.post(ipn_url.removeprefix(BASE_URL), data=fields)
    await icount_app.app[tasks_key].drain()
    [document] = icount.documents.values()
    [item] = document["items"]
    assert item["unitprice_incvat"] == "30.00" and item["quantity"] == 1 and "inventory_item_id" not in item


# Stripe


@pytest.fixture
async def stripe_fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe(clock=TickingClock()) as server:
        yield server


async def stripe_prices(fake: FakeStripe) -> tuple[str, str]:
    """Two products with their Prices at the fake Stripe, as the products' sync makes them."""
    client, http = stripe_client(fake.api_key, fake.base_url, 5)
    found = []
    for name, amount in (("Gâteau chocolat", 3250), ("Livraison", 800)):
        product = await client.v1.products.create_async({"name": name})
        price = await client.v1.prices.create_async(
            {"product": product.id, "currency": "eur", "unit_amount": amount}
        )
        found.append(price.id)
    await http.close_async()  # type: ignore[no-untyped-call]
    return found[0], found[1]


async def stripe_order(uow_factory: UnitOfWorkFactory, cake_price: str, delivery_price: str) -> int:
    new = vendor_service.NewVendor(
        name="Boulangerie", admin_phones=["+33612345678"], provider=ProviderName.STRIPE
    )
    vendor = (await vendor_service.add_vendor(uow_factory, new, NOW)).vendor
    await add_product(
        uow_factory, vendor.id, "gateau-choc", "Gâteau chocolat", "32.50", stripe_price_id=cake_price
    )
    await add_product(uow_factory, vendor.id, "livraison", "Livraison", "8", stripe_price_id=delivery_price)
    items = [("gateau-choc", 2), ("livraison", 1)]
    order = await order_service.create_order(
        uow_factory, None, "+33699887766", None, "", True, NOW, items=items
    )
    return order.number


async def test_an_order_of_two_products_makes_a_stripe_link_with_two_lines_on_their_prices(
    uow_factory: UnitOfWorkFactory, stripe_fake: FakeStripe
) -> None:
    cake_price, delivery_price = await stripe_prices(stripe_fake)
    number = await stripe_order(uow_factory, cake_price, delivery_price)
    provider = StripeProvider(stripe_fake.api_key, stripe_fake.base_url)
    try:
        await payments.request_payment(
            deps_for(uow_factory, OneProviderRegistry(provider)), None, number, AskKind.FULL
        )
    finally:
        await provider.close()
    [(link_id, link)] = stripe_fake.payment_links.items()
    assert stripe_fake.params[link_id]["line_items"] == [
        {"price": cake_price, "quantity": "2"},
        {"price": delivery_price, "quantity": "1"},
    ]
    lines = stripe_fake.line_items[link_id]
    assert [(item["price"]["id"], item["quantity"], item["amount_total"]) for item in lines] == [
        (cake_price, 2, 6500),
        (delivery_price, 1, 800),
    ]
    assert link["currency"] == "eur"


async def test_a_stripe_deposit_on_an_order_of_products_is_one_inline_line(
    uow_factory: UnitOfWorkFactory, stripe_fake: FakeStripe
) -> None:
    cake_price, delivery_price = await stripe_prices(stripe_fake)
    number = await stripe_order(uow_factory, cake_price, delivery_price)
    provider = StripeProvider(stripe_fake.api_key, stripe_fake.base_url)
    try:
        deps = deps_for(uow_factory, OneProviderRegistry(provider))
        await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "20")
    finally:
        await provider.close()
    [link_id] = stripe_fake.payment_links
    [line] = stripe_fake.params[link_id]["line_items"]
    assert line["quantity"] == "1" and line["price_data"]["unit_amount"] == "2000"
