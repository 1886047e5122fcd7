"""The vendor's products, and the lines of an order made of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.errors import DuplicateSku
from bot.domain.money import Money
from bot.domain.product import OrderLine, Product, SyncState
from bot.store.tables import order_lines, products


def _to_product(row: Row[Any]) -> Product:
    m = row._mapping
    return Product(
        id=m["id"],
        vendor_id=m["vendor_id"],
        sku=m["sku"],
        name=m["name"],
        unit_price=Money(m["unit_price"], m["currency"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        description=m["description"],
        vat_included=m["vat_included"],
        active=m["active"],
        icount_item_id=m["icount_item_id"],
        stripe_product_id=m["stripe_product_id"],
        stripe_price_id=m["stripe_price_id"],
        sync_state=SyncState(m["sync_state"]),
        sync_error=m["sync_error"],
        sync_attempts=m["sync_attempts"],
        next_sync_at=m["next_sync_at"],
        synced_at=m["synced_at"],
    )


def _values(product: Product) -> dict[str, Any]:
    return {
        "vendor_id": product.vendor_id,
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "unit_price": product.unit_price.amount,
        "currency": product.unit_price.currency,
        "vat_included": product.vat_included,
        "active": product.active,
        "icount_item_id": product.icount_item_id,
        "stripe_product_id": product.stripe_product_id,
        "stripe_price_id": product.stripe_price_id,
        "sync_state": product.sync_state.value,
        "sync_error": product.sync_error,
        "sync_attempts": product.sync_attempts,
        "next_sync_at": product.next_sync_at,
        "synced_at": product.synced_at,
        "updated_at": product.updated_at,
    }


def _to_line(row: Row[Any]) -> OrderLine:
    m = row._mapping
    return OrderLine(
        product_id=m["product_id"],
        position=m["position"],
        sku=m["sku"],
        name=m["name"],
        quantity=m["quantity"],
        unit_price=Money(m["unit_price"], m["currency"]),
        vat_included=m["vat_included"],
    )


class ProductRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, product: Product) -> None:
        """DuplicateSku when the vendor has this SKU already: the unique (vendor_id, sku) closes the race a
        read first cannot (two adds of one SKU at once), and the service never sees the driver's error."""
        try:
            await self._conn.execute(
                insert(products).values(id=product.id, created_at=product.created_at, **_values(product))
            )
        except IntegrityError:
            raise DuplicateSku(sku=product.sku) from None

    async def update(self, product: Product) -> None:
        await self._conn.execute(
            update(products).where(products.c.id == product.id).values(**_values(product))
        )

    async def get(self, product_id: uuid.UUID, *, for_update: bool = False) -> Product | None:
        query = select(products).where(products.c.id == product_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_product(row)

    async def by_sku(self, vendor_id: uuid.UUID, sku: str) -> Product | None:
        """The vendor's product with this SKU, whatever its case."""
        query = select(products).where(
            products.c.vendor_id == vendor_id, func.lower(products.c.sku) == sku.lower()
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_product(row)

    async def find(self, vendor_id: uuid.UUID, text: str) -> list[Product]:
        """The vendor's active products whose SKU or name is ``text`` (case-insensitively): a chat line's
        ``2x gateau-choc`` names one by SKU, or by name when no SKU matches."""
        lowered = text.strip().lower()
        query = select(products).where(
            products.c.vendor_id == vendor_id,
            products.c.active.is_(True),
            or_(func.lower(products.c.sku) == lowered, func.lower(products.c.name) == lowered),
        )
        return [_to_product(row) for row in await self._conn.execute(query)]

    async def for_vendor(self, vendor_id: uuid.UUID, *, active_only: bool = False) -> list[Product]:
        query = select(products).where(products.c.vendor_id == vendor_id)
        if active_only:
            query = query.where(products.c.active.is_(True))
        rows = await self._conn.execute(query.order_by(products.c.name, products.c.sku))
        return [_to_product(row) for row in rows]

    async def due_for_sync(self, now: datetime, limit: int = 50) -> list[Product]:
        """Products waiting for their provider: pending, or failed and due for another try."""
        query = (
            select(products)
            .where(
                products.c.sync_state.in_([SyncState.PENDING.value, SyncState.FAILED.value]),
                or_(products.c.next_sync_at.is_(None), products.c.next_sync_at <= now),
            )
            .order_by(products.c.next_sync_at)
            .limit(limit)
        )
        return [_to_product(row) for row in await self._conn.execute(query)]

    # An order's lines

    async def add_lines(self, order_id: uuid.UUID, lines: list[OrderLine], now: datetime) -> None:
        if not lines:
            return
        await self._conn.execute(
            insert(order_lines),
            [
                {
                    "id": uuid.uuid4(),
                    "commande_id": order_id,
                    "product_id": line.product_id,
                    "position": line.position,
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price.amount,
                    "currency": line.unit_price.currency,
                    "vat_included": line.vat_included,
                    "created_at": now,
                }
                for line in lines
            ],
        )

    async def lines_of(self, order_id: uuid.UUID) -> list[OrderLine]:
        query = (
            select(order_lines).where(order_lines.c.commande_id == order_id).order_by(order_lines.c.position)
        )
        return [_to_line(row) for row in await self._conn.execute(query)]

    async def lines_of_many(self, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[OrderLine]]:
        if not order_ids:
            return {}
        query = (
            select(order_lines)
            .where(order_lines.c.commande_id.in_(order_ids))
            .order_by(order_lines.c.commande_id, order_lines.c.position)
        )
        found: dict[uuid.UUID, list[OrderLine]] = {}
        for row in await self._conn.execute(query):
            found.setdefault(row.commande_id, []).append(_to_line(row))
        return found
