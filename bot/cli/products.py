"""``bot product``: the vendor's catalogue: add, list, set, disable. Each change is synced to the vendor's
provider right after it is saved (one try; the products job tries again later if the provider refused)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.common import _payment_deps, _print_json, _with_store
from bot.config import Settings
from bot.domain.product import Product, SyncState
from bot.services import products as product_service
from bot.services.clock import system_clock
from bot.services.products import NewProduct
from bot.store.uow import UnitOfWorkFactory


def product_json(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": f"{product.unit_price.amount}",
        "currency": product.unit_price.currency,
        "vat_included": product.vat_included,
        "active": product.active,
        "sync": {
            "state": product.sync_state.value,
            "error": product.sync_error,
            "attempts": product.sync_attempts,
            "synced_at": product.synced_at.isoformat() if product.synced_at else None,
            "next_try_at": (
                product.next_sync_at.isoformat()
                if product.next_sync_at and product.sync_state is SyncState.FAILED
                else None
            ),
        },
        "provider_ids": {
            "icount_item_id": product.icount_item_id,
            "stripe_product_id": product.stripe_product_id,
            "stripe_price_id": product.stripe_price_id,
        },
    }


def sync_text(product: Product) -> str:
    if product.sync_state is SyncState.FAILED:
        return f"sync failed ({product.sync_error}), tried again later"
    return product.sync_state.value


def product_line(product: Product) -> str:
    vat = "VAT incl." if product.vat_included else "VAT excl."
    disabled = "  disabled" if not product.active else ""
    return f"{product.sku}  {product.unit_price}  {vat}  {product.name}  [{sync_text(product)}]{disabled}"


async def _synced(settings: Settings, uow: UnitOfWorkFactory, product: Product) -> Product:
    """The product after one sync to the provider, read back."""
    deps = _payment_deps(settings, uow)
    try:
        await product_service.sync_product(deps, product.id)
    finally:
        await deps.providers.close()
    return await product_service.show_product(uow, str(product.vendor_id), product.sku)


async def cmd_product_add(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        new = NewProduct(
            sku=args.sku,
            name=args.name,
            price=args.price,
            description=args.description,
            vat_included=not args.vat_excluded,
        )
        product = await product_service.add_product(uow, args.vendor, new, system_clock())
        product = await _synced(settings, uow, product)
        if args.json:
            _print_json(product_json(product))
        else:
            print(f"product {product.sku} added: {product_line(product)}")
        return 0

    return await _with_store(settings, work)


async def cmd_product_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        found = await product_service.list_products(uow, args.vendor, include_disabled=args.all)
        if args.json:
            _print_json([product_json(p) for p in found])
            return 0
        if not found:
            print("no product yet" if args.all else "no active product (--all shows disabled ones)")
        for product in found:
            print(product_line(product))
        return 0

    return await _with_store(settings, work)


async def cmd_product_set(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        product = await product_service.change_product(uow, args.vendor, args.sku, args.pairs, system_clock())
        product = await _synced(settings, uow, product)
        if args.json:
            _print_json(product_json(product))
        else:
            print(product_line(product))
        return 0

    return await _with_store(settings, work)


async def cmd_product_disable(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        product = await product_service.disable_product(uow, args.vendor, args.sku, system_clock())
        product = await _synced(settings, uow, product)
        print(f"product {product.sku} disabled (kept for past orders) [{sync_text(product)}]")
        return 0

    return await _with_store(settings, work)
