"""The catalogue (roadmap step 4): products added, changed and disabled, and synced outside any
transaction to iCount's inventory and to Stripe's Products and Prices, against their wire-level fakes (on
SQLite and on Postgres)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.domain.errors import AmountNotPositive, DuplicateSku, InvalidAmount, InvalidSku, ProductNotFound
from bot.domain.money import Money
from bot.domain.product import SyncState
from bot.domain.vendor import ProviderName
from bot.jobs.catalogue import PRODUCT_SYNC
from bot.payments.icount.client import IcountClient, IcountCredentials
from bot.payments.icount.provider import IcountProvider
from bot.payments.port import PaymentProvider
from bot.payments.stripe.provider import StripeProvider
from bot.rendering import explain
from bot.services import products, vendors as vendor_service
from bot.services.context import PaymentDeps
from bot.services.products import NewProduct
from bot.store.tables import products as products_table
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.fakes.icount_api import FakeIcount
from tests.fakes.stripe_api import FakeStripe
from tests.payment_support import BASE_URL, OneProviderRegistry, deps_for

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
CAKE = NewProduct(sku="gateau-choc", name="Gâteau au chocolat", price="12.50", description="8 parts")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


async def add_vendor(uow: UnitOfWorkFactory, provider: ProviderName, currency: str = "EUR") -> None:
    new = vendor_service.NewVendor(
        name="Boulangerie", admin_phones=["+33612345678"], provider=provider, currency=currency
    )
    await vendor_service.add_vendor(uow, new, NOW)


@pytest.fixture
async def icount() -> AsyncIterator[FakeIcount]:
    async with FakeIcount() as server:
        yield server


@pytest.fixture
async def stripe() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        yield server


@pytest.fixture
async def icount_deps(
    uow_factory: UnitOfWorkFactory, icount: FakeIcount, clock: FrozenClock
) -> AsyncIterator[PaymentDeps]:
    await add_vendor(uow_factory, ProviderName.ICOUNT, "ILS")
    client = IcountClient(IcountCredentials(token=icount.token), icount.base_url)
    provider = IcountProvider(client, icount.paypage_id, BASE_URL, "key", retry_delay=0)
    yield deps_for(uow_factory, OneProviderRegistry(provider), clock)
    await provider.close()


@pytest.fixture
async def stripe_deps(
    uow_factory: UnitOfWorkFactory, stripe: FakeStripe, clock: FrozenClock
) -> AsyncIterator[PaymentDeps]:
    await add_vendor(uow_factory, ProviderName.STRIPE)
    provider: PaymentProvider = StripeProvider(stripe.api_key, stripe.base_url)
    yield deps_for(uow_factory, OneProviderRegistry(provider), clock)
    await provider.close()


async def stored(deps: PaymentDeps, sku: str = "gateau-choc") -> products.Product:
    return await products.show_product(deps.uow, None, sku)


async def test_a_product_is_created_renamed_repriced_and_disabled_in_icounts_inventory_each_step_synced(
    icount_deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    deps = icount_deps
    added = await products.add_product(deps.uow, None, CAKE, clock())
    assert (added.sync_state, added.unit_price) == (SyncState.PENDING, Money(Decimal("12.50"), "ILS"))
    assert await products.sync_products(deps) == 1
    product = await stored(deps)
    assert product.sync_state is SyncState.SYNCED and product.synced_at == NOW
    [(item_id, item)] = icount.items.items()
    assert product.icount_item_id == item_id
    assert (item["sku"], item["description"], item["long_description"]) == (
        "gateau-choc",
        "Gâteau au chocolat",
        "8 parts",
    )
    assert (item["unitprice"], item["unit_price_includes_vat"], item["currency_id"]) == ("12.50", True, "5")
    [lookup] = icount.calls_to("inventory/get_items")
    assert lookup.params == {"sku": "gateau-choc"}, "an item of the same SKU is looked for before adding"

    clock.advance(timedelta(minutes=1))
    await products.change_product(deps.uow, None, "gateau-choc", [("name", "Gâteau choco")], clock())
    assert (await stored(deps)).sync_state is SyncState.PENDING
    assert await products.sync_product(deps, product.id) is SyncState.SYNCED
    assert icount.items[item_id]["description"] == "Gâteau choco"

    await products.change_product(
        deps.uow, None, "GATEAU-CHOC", [("price", "14,00"), ("vat_included", "off")], clock()
    )
    await products.sync_products(deps)
    assert (icount.items[item_id]["unitprice"], icount.items[item_id]["unit_price_includes_vat"]) == (
        "14.00",
        False,
    )

    disabled = await products.disable_product(deps.uow, None, "gateau-choc", clock())
    assert disabled.active is False
    await products.sync_products(deps)
    assert (await stored(deps)).sync_state is SyncState.SYNCED
    assert list(icount.items) == [item_id] and icount.deleted_items == [], "kept: documents name it"
    assert len(icount.calls_to("inventory/add_item")) == 1
    assert len(icount.calls_to("inventory/update_item")) == 3
    assert await products.list_products(deps.uow, None) == []
    assert [p.sku for p in await products.list_products(deps.uow, None, include_disabled=True)] == [
        "gateau-choc"
    ]


async def test_an_icount_refusal_leaves_the_product_failed_with_the_reason_and_a_later_pass_retries_it(
    icount_deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    deps = icount_deps
    await products.add_product(deps.uow, None, CAKE, clock())
    icount.refuse_items("inventory_disabled")
    assert await products.sync_products(deps) == 0
    failed = await stored(deps)
    assert failed.sync_state is SyncState.FAILED and failed.name == "Gâteau au chocolat", "kept as saved"
    assert failed.sync_error is not None and "inventory_disabled" in failed.sync_error
    assert failed.sync_attempts == 1 and failed.next_sync_at == NOW + timedelta(minutes=1)
    assert icount.items == {}

    assert await products.sync_products(deps) == 0, "not due yet: nothing is asked"
    assert len(icount.calls_to("inventory/add_item")) == 1
    clock.advance(timedelta(minutes=1))
    assert await products.sync_products(deps) == 1
    synced = await stored(deps)
    assert synced.sync_state is SyncState.SYNCED and synced.sync_error is None and synced.sync_attempts == 0
    assert synced.icount_item_id in icount.items


async def test_a_transient_icount_error_is_retried_at_once_and_never_makes_a_second_item(
    icount_deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    deps = icount_deps
    await products.add_product(deps.uow, None, CAKE, clock())
    icount.lose_answer_next("inventory/add_item")
    assert await products.sync_products(deps) == 1
    assert len(icount.items) == 1, "the retry found the item by its SKU and updated it"
    assert (await stored(deps)).icount_item_id == next(iter(icount.items))


async def test_failures_wait_longer_each_time_up_to_six_hours(
    icount_deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    deps = icount_deps
    await products.add_product(deps.uow, None, CAKE, clock())
    waits = []
    for _ in range(3):
        icount.refuse_items("inventory_disabled")
        await products.sync_products(deps)
        product = await stored(deps)
        assert product.next_sync_at is not None
        waits.append(product.next_sync_at - clock())
        clock.now = product.next_sync_at
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert products.backoff(50) == timedelta(hours=6)


async def test_on_stripe_a_product_gets_a_product_and_a_price_and_a_new_price_archives_the_old_one(
    stripe_deps: PaymentDeps, stripe: FakeStripe, clock: FrozenClock
) -> None:
    deps = stripe_deps
    added = await products.add_product(deps.uow, None, CAKE, clock())
    await products.sync_products(deps)
    product = await stored(deps)
    assert product.sync_state is SyncState.SYNCED
    assert product.stripe_product_id == f"bot_product_{added.id.hex}"
    remote = stripe.products[product.stripe_product_id]
    assert (remote["name"], remote["description"], remote["active"]) == (
        "Gâteau au chocolat",
        "8 parts",
        True,
    )
    assert remote["metadata"]["sku"] == "gateau-choc"
    [first] = stripe.prices_of(product.stripe_product_id)
    assert product.stripe_price_id == first["id"] and first["id"].startswith("price_")
    assert (first["unit_amount"], first["currency"], first["tax_behavior"]) == (1250, "eur", "inclusive")
    assert remote["default_price"] == first["id"]

    await products.change_product(deps.uow, None, "gateau-choc", [("name", "Gâteau choco")], clock())
    await products.sync_products(deps)
    assert stripe.products[product.stripe_product_id]["name"] == "Gâteau choco"
    assert len(stripe.prices_of(product.stripe_product_id)) == 1, "a new name keeps the price"

    await products.change_product(deps.uow, None, "gateau-choc", [("price", "14")], clock())
    await products.sync_products(deps)
    repriced = await stored(deps)
    old, new = stripe.prices_of(product.stripe_product_id)
    assert old["id"] == first["id"] and old["active"] is False, "the old price is archived"
    assert (new["unit_amount"], new["active"]) == (1400, True) and repriced.stripe_price_id == new["id"]
    assert stripe.products[product.stripe_product_id]["default_price"] == new["id"]

    await products.disable_product(deps.uow, None, "gateau-choc", clock())
    await products.sync_products(deps)
    assert stripe.products[product.stripe_product_id]["active"] is False
    assert (await stored(deps)).sync_state is SyncState.SYNCED
    assert stripe.created["product"] == 1 and stripe.created["price"] == 2


async def test_a_stripe_refusal_leaves_the_product_failed_and_a_product_made_before_a_lost_answer_is_reused(
    stripe_deps: PaymentDeps, stripe: FakeStripe, clock: FrozenClock
) -> None:
    deps = stripe_deps
    await products.add_product(deps.uow, None, CAKE, clock())
    stripe.fail_next("/v1/prices", status=400)
    await products.sync_products(deps)
    failed = await stored(deps)
    assert failed.sync_state is SyncState.FAILED and failed.sync_error
    assert "stripe" in failed.sync_error and failed.stripe_product_id is None
    assert len(stripe.products) == 1, "the Product was made before the Price was refused"
    clock.advance(timedelta(minutes=1))
    await products.sync_products(deps)
    synced = await stored(deps)
    assert synced.sync_state is SyncState.SYNCED and stripe.created["product"] == 1
    assert synced.stripe_product_id in stripe.products and synced.stripe_price_id in stripe.prices


async def test_a_product_changed_while_its_sync_is_in_flight_stays_pending_for_the_newer_version(
    icount_deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    deps = icount_deps
    added = await products.add_product(deps.uow, None, CAKE, clock())
    icount.delay_next("inventory/add_item", 0.3)

    async def change_meanwhile() -> None:
        clock.advance(timedelta(seconds=1))
        await products.change_product(deps.uow, None, "gateau-choc", [("name", "Choco")], clock())

    sync = asyncio.create_task(products.sync_product(deps, added.id))
    await asyncio.sleep(0.1)
    await change_meanwhile()
    assert await sync is SyncState.PENDING
    assert (await stored(deps)).icount_item_id is not None, "the ids are kept all the same"
    await products.sync_products(deps)
    assert next(iter(icount.items.values()))["description"] == "Choco"


async def test_the_sandbox_has_no_catalogue_so_a_product_is_synced_at_once(
    uow_factory: UnitOfWorkFactory, clock: FrozenClock
) -> None:
    await add_vendor(uow_factory, ProviderName.SANDBOX)
    deps = deps_for(uow_factory, clock=clock)
    added = await products.add_product(uow_factory, None, CAKE, clock())
    assert await products.sync_product(deps, added.id) is SyncState.SYNCED


@pytest.mark.parametrize(
    ("new", "error"),
    [
        (NewProduct(sku="gateau choc", name="Cake", price="12"), InvalidSku),
        (NewProduct(sku="tarte", name="Tarte", price="-3"), AmountNotPositive),
        (NewProduct(sku="tarte", name="Tarte", price="douze"), InvalidAmount),
        (NewProduct(sku="tarte", name="Tarte", price="0"), AmountNotPositive),
    ],
    ids=["sku with a space", "negative price", "unparsable price", "zero price"],
)
async def test_a_bad_sku_or_price_is_refused_with_a_clear_message_and_nothing_is_written(
    uow_factory: UnitOfWorkFactory, new: NewProduct, error: type[Exception]
) -> None:
    await add_vendor(uow_factory, ProviderName.SANDBOX)
    with pytest.raises(error) as caught:
        await products.add_product(uow_factory, None, new, NOW)
    assert isinstance(caught.value, InvalidSku | AmountNotPositive | InvalidAmount)
    for locale in ("fr", "en", "he"):
        assert explain(caught.value, locale)
    async with uow_factory() as uow:
        assert (await uow.connection.execute(select(products_table.c.id))).all() == []


async def test_a_duplicate_sku_whatever_its_case_is_refused_in_three_languages_and_nothing_is_written(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_vendor(uow_factory, ProviderName.SANDBOX)
    await products.add_product(uow_factory, None, CAKE, NOW)
    twin = NewProduct(sku="GATEAU-CHOC", name="Autre", price="9")
    with pytest.raises(DuplicateSku) as caught:
        await products.add_product(uow_factory, None, twin, NOW)
    assert "GATEAU-CHOC" in explain(caught.value, "en") and "déjà" in explain(caught.value, "fr")
    assert "GATEAU-CHOC" in explain(caught.value, "he")
    async with uow_factory() as uow:
        names = (await uow.connection.execute(select(products_table.c.name))).scalars().all()
    assert names == ["Gâteau au chocolat"]


async def test_the_same_sku_added_at_the_same_moment_is_a_duplicate_sku_from_the_repository(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # Both adds passed the service's read before either wrote: the unique (vendor_id, sku) decides.
    await add_vendor(uow_factory, ProviderName.SANDBOX)
    vendor = (await vendor_service.show_vendor(uow_factory, None)).vendor
    async with uow_factory() as uow:
        await uow.products.add(products.new_product(vendor, CAKE, NOW))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(DuplicateSku) as caught:
            await uow.products.add(products.new_product(vendor, CAKE, NOW))
    assert caught.value.params == {"sku": "gateau-choc"}
    async with uow_factory() as uow:
        assert len((await uow.connection.execute(select(products_table.c.id))).all()) == 1


async def test_a_bad_change_changes_nothing_and_an_unknown_sku_is_named(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_vendor(uow_factory, ProviderName.SANDBOX)
    await products.add_product(uow_factory, None, CAKE, NOW)
    with pytest.raises(AmountNotPositive):
        await products.change_product(
            uow_factory, None, "gateau-choc", [("name", "Nouveau"), ("price", "-1")], NOW
        )
    kept = await products.show_product(uow_factory, None, "gateau-choc")
    assert (kept.name, kept.unit_price.amount) == ("Gâteau au chocolat", Decimal("12.50"))
    with pytest.raises(ProductNotFound) as caught:
        await products.disable_product(uow_factory, None, "eclair", NOW)
    assert "eclair" in explain(caught.value, "fr")


def test_the_products_job_is_in_the_catalogue_with_its_own_interval() -> None:
    from bot.config import load_settings
    from bot.jobs.catalogue import JobContext, catalogue

    settings = load_settings(env_file=None, product_sync_seconds=42)
    deps = deps_for(UnitOfWorkFactory.__new__(UnitOfWorkFactory))

    async def nothing() -> int:
        return 0

    context = JobContext(deps, settings, {}, lambda: None, nothing, lambda _grace: nothing())
    [job] = [job for job in catalogue(context) if job.name == PRODUCT_SYNC]
    assert job.interval == 42
