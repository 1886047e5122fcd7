from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.customer import Customer
from bot.domain.money import Money
from bot.domain.order import Order, OrderStatus, PaymentType
from bot.store.repositories.customers import customer_columns, customer_from
from bot.store.repositories.invoices import RECEIVED
from bot.store.tables import commandes, customers, payment_settings, payment_transactions

_CUSTOMER = "customer__"  # not "customer_": commandes has a customer_id


def _to_order(row: Row[Any]) -> Order:
    m = row._mapping
    price = m["price"]
    return Order(
        id=m["id"],
        vendor_id=m["vendor_id"],
        number=m["number"],
        customer_id=m["customer_id"],
        label=m["label"],
        price=None if price is None else Money(price, m["currency"]),
        currency=m["currency"],
        status=OrderStatus(m["status"]),
        payment_type=None if m["payment_type"] is None else PaymentType(m["payment_type"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        reminders_enabled=m["reminders_enabled"],
        user_id=m["user_id"],
    )


def _values(order: Order) -> dict[str, Any]:
    return {
        "label": order.label,
        "price": None if order.price is None else order.price.amount,
        "currency": order.currency,
        "status": order.status.value,
        "payment_type": None if order.payment_type is None else order.payment_type.value,
        "reminders_enabled": order.reminders_enabled,
        "user_id": order.user_id,
        "updated_at": order.updated_at,
    }


@dataclass(frozen=True, slots=True)
class HeldOrder:
    order_id: uuid.UUID
    vendor_id: uuid.UUID
    created_at: datetime
    hold_minutes: int


class OrderRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, order: Order) -> None:
        await self._conn.execute(
            insert(commandes).values(
                id=order.id,
                vendor_id=order.vendor_id,
                number=order.number,
                customer_id=order.customer_id,
                created_at=order.created_at,
                **_values(order),
            )
        )

    async def update(self, order: Order) -> None:
        await self._conn.execute(update(commandes).where(commandes.c.id == order.id).values(**_values(order)))

    async def by_number(self, vendor_id: uuid.UUID, number: int, *, for_update: bool = False) -> Order | None:
        """The vendor's order ``#number``; ``for_update`` locks it until the unit of work ends."""
        query = select(commandes).where(commandes.c.vendor_id == vendor_id, commandes.c.number == number)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_order(row)

    async def by_number_with_customer(
        self, vendor_id: uuid.UUID, number: int, *, for_update: bool = False
    ) -> tuple[Order, Customer] | None:
        """The order ``#number`` and its customer in one statement; ``for_update`` locks the order (only
        the order: the customer row is read, not locked)."""
        query = (
            select(commandes, *customer_columns(_CUSTOMER))
            .join(customers, customers.c.id == commandes.c.customer_id)
            .where(commandes.c.vendor_id == vendor_id, commandes.c.number == number)
        )
        if for_update:
            query = query.with_for_update(of=commandes)
        row = (await self._conn.execute(query)).first()
        return None if row is None else (_to_order(row), customer_from(row._mapping, _CUSTOMER))

    async def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Order]:
        if not ids:
            return {}
        rows = await self._conn.execute(select(commandes).where(commandes.c.id.in_(ids)))
        return {row.id: _to_order(row) for row in rows}

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        query = select(commandes).where(commandes.c.id == order_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_order(row)

    async def recent(
        self, vendor_id: uuid.UUID, statuses: set[OrderStatus] | None = None, limit: int = 50
    ) -> list[Order]:
        query = select(commandes).where(commandes.c.vendor_id == vendor_id)
        if statuses:
            query = query.where(commandes.c.status.in_([s.value for s in statuses]))
        query = query.order_by(commandes.c.number.desc()).limit(limit)
        return [_to_order(row) for row in await self._conn.execute(query)]

    async def open_for_customer(self, vendor_id: uuid.UUID, customer_id: uuid.UUID) -> list[Order]:
        """The customer's orders that still expect a payment."""
        query = (
            select(commandes)
            .where(
                commandes.c.vendor_id == vendor_id,
                commandes.c.customer_id == customer_id,
                commandes.c.status.in_([OrderStatus.PENDING.value, OrderStatus.ACCEPTED.value]),
            )
            .order_by(commandes.c.number)
        )
        return [_to_order(row) for row in await self._conn.execute(query)]

    async def held_orders(self, now: datetime, limit: int = 200) -> list[HeldOrder]:
        """Orders still ``pending`` with nothing paid, at vendors whose rule is ``paid_only``, whose hold
        (the vendor's ``hold_minutes`` from creation) has run out at ``now``, oldest first. Each vendor is
        asked with its own cut-off: orders still held at one vendor never crowd out expired ones."""
        paid = (
            select(payment_transactions.c.id)
            .where(
                payment_transactions.c.commande_id == commandes.c.id,
                payment_transactions.c.status.in_(RECEIVED),
            )
            .exists()
        )
        rules = select(payment_settings.c.vendor_id, payment_settings.c.hold_minutes).where(
            payment_settings.c.confirmation_rule == "paid_only"
        )
        held: list[HeldOrder] = []
        for vendor_id, hold_minutes in (await self._conn.execute(rules)).all():
            query = (
                select(commandes.c.id, commandes.c.created_at)
                .where(
                    commandes.c.vendor_id == vendor_id,
                    commandes.c.status == "pending",
                    commandes.c.created_at <= now - timedelta(minutes=hold_minutes),
                    ~paid,
                )
                .order_by(commandes.c.created_at)
                .limit(limit)
            )
            held.extend(
                HeldOrder(row.id, vendor_id, row.created_at, hold_minutes)
                for row in await self._conn.execute(query)
            )
        held.sort(key=lambda order: order.created_at)
        return held[:limit]
