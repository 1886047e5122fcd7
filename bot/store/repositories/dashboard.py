"""Reads for the vendor's dashboard: a page of orders with their customers and payments, and the figures of
its home page. Every read is one statement whatever the number of rows (no query per order), and money is
summed by the caller in Decimal (SQLite keeps amounts as text, and its SUM would be a float)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.order import Order, OrderStatus
from bot.domain.transaction import OPEN_STATUSES, RECEIVED_STATUSES, PaymentTransaction, TransactionStatus
from bot.store.repositories.orders import _to_order
from bot.store.repositories.transactions import _to_transaction
from bot.store.tables import commandes, customers, payment_transactions

_RECEIVED = sorted(status.value for status in RECEIVED_STATUSES)
_OPEN = sorted(status.value for status in OPEN_STATUSES)


@dataclass(frozen=True, slots=True)
class OrderSearch:
    """What the orders list is filtered by; each part left None is not a filter. The parts given are
    alternatives (any one of them matching finds the order): an order number, digits found in the
    customer's phone, a text found in the customer's name or the order's label (case-insensitively)."""

    status: OrderStatus | None = None
    number: int | None = None
    phone_digits: str | None = None
    text: str | None = None

    @property
    def has_terms(self) -> bool:
        return self.number is not None or self.phone_digits is not None or self.text is not None


@dataclass(frozen=True, slots=True)
class OrderWithCustomer:
    order: Order
    customer_phone: str
    customer_name: str | None


@dataclass(frozen=True, slots=True)
class PaymentWithOrder:
    """A payment received, with the order and the customer it came from."""

    transaction: PaymentTransaction
    order_number: int
    order_label: str
    customer_phone: str
    customer_name: str | None


def _like(text: str) -> str:
    """``text`` as a LIKE pattern that finds it anywhere, its own ``%`` and ``_`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(vendor_id: uuid.UUID, search: OrderSearch) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = [commandes.c.vendor_id == vendor_id]
    if search.status is not None:
        filters.append(commandes.c.status == search.status.value)
    if search.has_terms:
        terms: list[ColumnElement[bool]] = []
        if search.number is not None:
            terms.append(commandes.c.number == search.number)
        if search.phone_digits is not None:
            terms.append(customers.c.phone.like(_like(search.phone_digits), escape="\\"))
        if search.text is not None:
            pattern = _like(search.text)
            terms.append(commandes.c.label.ilike(pattern, escape="\\"))
            terms.append(customers.c.name.ilike(pattern, escape="\\"))
        filters.append(or_(*terms) if terms else false())
    return filters


_WITH_CUSTOMER = commandes.join(customers, customers.c.id == commandes.c.customer_id)


class DashboardRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def count_orders(self, vendor_id: uuid.UUID, search: OrderSearch) -> int:
        query = select(func.count()).select_from(_WITH_CUSTOMER).where(*_filters(vendor_id, search))
        return int((await self._conn.execute(query)).scalar_one())

    async def orders_page(
        self, vendor_id: uuid.UUID, search: OrderSearch, limit: int, offset: int
    ) -> list[OrderWithCustomer]:
        """The vendor's orders that match, the newest first (numbers are given in order of creation)."""
        query = (
            select(
                commandes,
                customers.c.phone.label("customer_phone"),
                customers.c.name.label("customer_name"),
            )
            .select_from(_WITH_CUSTOMER)
            .where(*_filters(vendor_id, search))
            .order_by(commandes.c.number.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            OrderWithCustomer(_to_order(row), row.customer_phone, row.customer_name)
            for row in await self._conn.execute(query)
        ]

    async def transactions_of(
        self, order_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[PaymentTransaction]]:
        """Every transaction of these orders, in one statement, by order (oldest first in each)."""
        found: dict[uuid.UUID, list[PaymentTransaction]] = {order_id: [] for order_id in order_ids}
        if not order_ids:
            return found
        query = (
            select(payment_transactions)
            .where(payment_transactions.c.commande_id.in_(list(order_ids)))
            .order_by(payment_transactions.c.created_at, payment_transactions.c.id)
        )
        for row in await self._conn.execute(query):
            transaction = _to_transaction(row)
            found[transaction.commande_id].append(transaction)
        return found

    async def received_between(
        self, vendor_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[PaymentTransaction]:
        """The payments received (some perhaps refunded since) with ``start <= paid_at < end``; never a
        guarantee (only what is captured of one is a payment, a row of its own)."""
        query = select(payment_transactions).where(
            payment_transactions.c.vendor_id == vendor_id,
            payment_transactions.c.is_guarantee.is_(False),
            payment_transactions.c.status.in_(_RECEIVED),
            payment_transactions.c.paid_at >= start,
            payment_transactions.c.paid_at < end,
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def open_requests(self, vendor_id: uuid.UUID) -> list[PaymentTransaction]:
        """Requests for money still waiting for the customer (no guarantee)."""
        query = select(payment_transactions).where(
            payment_transactions.c.vendor_id == vendor_id,
            payment_transactions.c.is_guarantee.is_(False),
            payment_transactions.c.status.in_(_OPEN),
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def held_guarantees(self, vendor_id: uuid.UUID) -> list[PaymentTransaction]:
        query = select(payment_transactions).where(
            payment_transactions.c.vendor_id == vendor_id,
            payment_transactions.c.is_guarantee.is_(True),
            payment_transactions.c.status == TransactionStatus.HELD.value,
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def orders_owing(
        self, vendor_id: uuid.UUID, statuses: Sequence[OrderStatus]
    ) -> list[tuple[Order, list[PaymentTransaction]]]:
        """The vendor's orders in ``statuses`` that have a price, each with its transactions: two
        statements, the second one a join (no list of ids, however many orders there are)."""
        wanted = [status.value for status in statuses]
        owing = and_(
            commandes.c.vendor_id == vendor_id,
            commandes.c.status.in_(wanted),
            commandes.c.price.is_not(None),
        )
        orders = [_to_order(row) for row in await self._conn.execute(select(commandes).where(owing))]
        by_order: dict[uuid.UUID, list[PaymentTransaction]] = {order.id: [] for order in orders}
        query: Select[Any] = (
            select(payment_transactions)
            .join(commandes, commandes.c.id == payment_transactions.c.commande_id)
            .where(owing)
            .order_by(payment_transactions.c.created_at, payment_transactions.c.id)
        )
        for row in await self._conn.execute(query):
            transaction = _to_transaction(row)
            if transaction.commande_id in by_order:
                by_order[transaction.commande_id].append(transaction)
        return [(order, by_order[order.id]) for order in orders]

    async def recent_payments(self, vendor_id: uuid.UUID, limit: int = 10) -> list[PaymentWithOrder]:
        """The last payments received (refunded since or not), the latest first; never a guarantee."""
        when = func.coalesce(payment_transactions.c.paid_at, payment_transactions.c.created_at)
        query = (
            select(
                payment_transactions,
                commandes.c.number.label("order_number"),
                commandes.c.label.label("order_label"),
                customers.c.phone.label("customer_phone"),
                customers.c.name.label("customer_name"),
            )
            .join(commandes, commandes.c.id == payment_transactions.c.commande_id)
            .join(customers, customers.c.id == commandes.c.customer_id)
            .where(
                payment_transactions.c.vendor_id == vendor_id,
                payment_transactions.c.is_guarantee.is_(False),
                payment_transactions.c.status.in_(_RECEIVED),
            )
            .order_by(when.desc(), payment_transactions.c.created_at.desc(), payment_transactions.c.id.desc())
            .limit(limit)
        )
        return [
            PaymentWithOrder(
                _to_transaction(row), row.order_number, row.order_label, row.customer_phone, row.customer_name
            )
            for row in await self._conn.execute(query)
        ]
