"""The vendor's catalogue (roadmap step 4): products added, listed, changed and disabled (never deleted:
past orders' lines point at them), each synced to the vendor's provider.

Every change leaves the product ``pending`` (``Product.changed``), in the same transaction as the change.
Syncing is outside any database transaction: the product is read, the provider is asked (an iCount
inventory item, a Stripe Product and Price; the sandbox has no catalogue), then its ids and its state are
written. A refusal leaves the product as it is saved, ``failed`` with the provider's reason, and tried
again later (1, 2, 4 ... minutes, up to 6 hours); a transient error is retried at once a few times first.
A product changed while its sync was in flight stays pending, so the next pass sends the newer version.

The products job (``bot/jobs/catalogue.py``) runs the passes; the CLI and the dashboard also run one for the
product they just changed, right after committing (``sync_product``), so a vendor sees it synced at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import (
    AmountNotPositive,
    DomainError,
    DuplicateSku,
    InvalidSetting,
    ProductNameRequired,
    ProductNotFound,
    UnknownSetting,
)
from bot.domain.money import Money, parse_amount
from bot.domain.product import Product, SyncState, checked_sku
from bot.domain.vendor import Vendor
from bot.payments.port import ProductCatalogue, ProductSnapshot, ProviderError
from bot.services.context import PaymentDeps, with_retries
from bot.services.providers import provider_of
from bot.services.vendors import VendorRef, find_vendor
from bot.store.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
BATCH = 50
MAX_BACKOFF = timedelta(hours=6)
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_REASON = 500
# What ``bot product set SKU key=value`` changes (and the dashboard's edit form).
SETTINGS = ("name", "description", "price", "vat_included", "active")
_ON = frozenset({"on", "true", "yes", "1", "oui"})
_OFF = frozenset({"off", "false", "no", "0", "non"})


def parse_price(text: str, currency: str) -> Money:
    """A product's unit price as typed (``12.50``, ``12,50``, ``12.50 €``), in the vendor's currency."""
    if text.strip().startswith("-"):
        raise AmountNotPositive(amount=text.strip())
    return parse_amount(text, currency)


def checked_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise ProductNameRequired()
    if len(name) > MAX_NAME:
        raise InvalidSetting(key="name", value=name[:40] + "…", low=1, high=MAX_NAME)
    return name


def checked_description(text: str | None) -> str | None:
    description = (text or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise InvalidSetting(key="description", value=description[:40] + "…", low=0, high=MAX_DESCRIPTION)
    return description or None


def on_off(key: str, value: str) -> bool:
    cleaned = value.strip().lower()
    if cleaned in _ON:
        return True
    if cleaned in _OFF:
        return False
    raise InvalidSetting(key=key, value=value, allowed="on, off")


def apply_product_setting(product: Product, key: str, value: str) -> None:
    """One ``key=value`` of ``SETTINGS``, checked; the product is changed only when the value is good."""
    name = key.strip().lower()
    if name == "name":
        product.name = checked_name(value)
    elif name == "description":
        product.description = checked_description(value)
    elif name == "price":
        product.unit_price = parse_price(value, product.unit_price.currency)
    elif name in ("vat_included", "vat"):
        product.vat_included = on_off("vat_included", value)
    elif name == "active":
        product.active = on_off("active", value)
    else:
        raise UnknownSetting(key=key, known=", ".join(SETTINGS))


@dataclass(frozen=True, slots=True)
class NewProduct:
    sku: str
    name: str
    price: str
    description: str | None = None
    vat_included: bool = True


def new_product(vendor: Vendor, new: NewProduct, now: datetime) -> Product:
    """The product as typed, every field checked, not saved yet."""
    return Product(
        id=uuid.uuid4(),
        vendor_id=vendor.id,
        sku=checked_sku(new.sku),
        name=checked_name(new.name),
        unit_price=parse_price(new.price, vendor.currency),
        created_at=now,
        updated_at=now,
        description=checked_description(new.description),
        vat_included=new.vat_included,
        next_sync_at=now,
    )


async def add_product(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, new: NewProduct, now: datetime
) -> Product:
    """A new product, pending its sync; a SKU the vendor already has (whatever its case) is refused."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        product = new_product(vendor, new, now)
        if await uow.products.by_sku(vendor.id, product.sku) is not None:
            raise DuplicateSku(sku=product.sku)
        # The same SKU added at the same moment by another tab or command: the repository says so too.
        await uow.products.add(product)
        await uow.commit()
    return product


async def list_products(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, *, include_disabled: bool = False
) -> list[Product]:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        return await uow.products.for_vendor(vendor.id, active_only=not include_disabled)


async def product_by_sku(uow: UnitOfWork, vendor: Vendor, sku: str) -> Product:
    product = await uow.products.by_sku(vendor.id, sku.strip())
    if product is None:
        raise ProductNotFound(sku=sku.strip())
    return product


async def show_product(uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, sku: str) -> Product:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        return await product_by_sku(uow, vendor, sku)


async def change_product(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    sku: str,
    pairs: Sequence[tuple[str, str]],
    now: datetime,
) -> Product:
    """Applies every ``key=value`` or none. A product left as it was is not synced again."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        found = await product_by_sku(uow, vendor, sku)
        product = await uow.products.get(found.id, for_update=True)
        if product is None:  # pragma: no cover - it was just read
            raise ProductNotFound(sku=sku)
        before = _content(product)
        for key, value in pairs:
            apply_product_setting(product, key, value)
        if _content(product) == before:
            return product
        product.changed(now)
        await uow.products.update(product)
        await uow.commit()
    return product


async def disable_product(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, sku: str, now: datetime
) -> Product:
    """No longer offered (nor named in new orders); kept, with its provider copy, for past orders."""
    return await change_product(uow_factory, vendor_reference, sku, [("active", "off")], now)


def _content(product: Product) -> tuple[object, ...]:
    """What the provider's copy is made of."""
    return (product.name, product.description, product.unit_price, product.vat_included, product.active)


# Syncing


def snapshot(product: Product) -> ProductSnapshot:
    return ProductSnapshot(
        product_id=product.id,
        vendor_id=product.vendor_id,
        sku=product.sku,
        name=product.name,
        description=product.description,
        unit_price=product.unit_price,
        vat_included=product.vat_included,
        active=product.active,
        icount_item_id=product.icount_item_id,
        stripe_product_id=product.stripe_product_id,
        stripe_price_id=product.stripe_price_id,
    )


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed sync: 1, 2, 4 ... minutes, at most 6 hours."""
    return min(MAX_BACKOFF, timedelta(minutes=2 ** min(max(attempts - 1, 0), 20)))


async def sync_product(deps: PaymentDeps, product_id: uuid.UUID) -> SyncState | None:
    """One product to its vendor's provider, if it is waiting; its state afterwards (None: not found)."""
    async with deps.uow() as uow:
        product = await uow.products.get(product_id)
        if product is None:
            return None
        if product.sync_state is SyncState.SYNCED:
            return product.sync_state
        provider = await provider_of(deps, uow, product.vendor_id)
    seen = product.updated_at
    error: str | None = None
    ids = None
    if provider is None:
        error = "the vendor's payment provider is not configured or its credentials do not open"
    elif isinstance(provider, ProductCatalogue):
        catalogue, sent = provider, snapshot(product)
        try:
            ids = await with_retries(lambda: catalogue.sync_product(sent), deps.retry_delay)
        except ProviderError as refused:
            error = str(refused) or type(refused).__name__
    now = deps.clock()
    async with deps.uow() as uow:
        current = await uow.products.get(product_id, for_update=True)
        if current is None:  # pragma: no cover - products are never deleted
            return None
        if ids is not None:
            # Ids are the provider's whatever happened meanwhile: the next sync updates what they name.
            current.icount_item_id = ids.icount_item_id or current.icount_item_id
            current.stripe_product_id = ids.stripe_product_id or current.stripe_product_id
            current.stripe_price_id = ids.stripe_price_id or current.stripe_price_id
        if current.updated_at != seen or _content(current) != _content(product):
            pass  # changed while it was being sent: still pending, for the newer version
        elif error is None:
            current.sync_state = SyncState.SYNCED
            current.sync_error = None
            current.sync_attempts = 0
            current.next_sync_at = None
            current.synced_at = now
        else:
            current.sync_state = SyncState.FAILED
            current.sync_error = error[:MAX_REASON]
            current.sync_attempts += 1
            current.next_sync_at = now + backoff(current.sync_attempts)
        await uow.products.update(current)
        await uow.commit()
    if error is not None:
        log.warning("product %s (%s) not synced: %s", product.sku, product.id, error)
    return current.sync_state


async def sync_products(deps: PaymentDeps, limit: int = BATCH) -> int:
    """The products job's pass: every product pending, or failed and due again; how many got synced."""
    async with deps.uow() as uow:
        due = await uow.products.due_for_sync(deps.clock(), limit)
    synced = 0
    for product in due:
        try:
            state = await sync_product(deps, product.id)
        except DomainError as error:  # pragma: no cover - a provider's own refusal is kept on the product
            log.warning("product %s not synced: %s", product.id, error)
            continue
        synced += state is SyncState.SYNCED
    return synced
