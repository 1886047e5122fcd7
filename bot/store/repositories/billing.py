"""Invoices, provider client ids and held orders: what the iCount integration and the hold job keep."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.money import Money
from bot.domain.transaction import RECEIVED_STATUSES
from bot.store.repositories.inbox import MAX_ATTEMPTS
from bot.store.tables import (
    commandes,
    customers,
    inbound_events,
    invoices,
    payment_settings,
    payment_transactions,
)

RECEIVED = sorted(status.value for status in RECEIVED_STATUSES)


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    id: uuid.UUID
    vendor_id: uuid.UUID
    transaction_id: uuid.UUID
    provider: str
    doctype: str
    docnum: str
    url: str | None
    amount: Decimal
    currency: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HeldOrder:
    order_id: uuid.UUID
    vendor_id: uuid.UUID
    created_at: datetime
    hold_minutes: int


def _invoice(row: Row[Any]) -> InvoiceRecord:
    m = row._mapping
    return InvoiceRecord(
        id=m["id"],
        vendor_id=m["vendor_id"],
        transaction_id=m["transaction_id"],
        provider=m["provider"],
        doctype=m["doctype"],
        docnum=m["docnum"],
        url=m["url"],
        amount=m["amount"],
        currency=m["currency"],
        status=m["status"],
        created_at=m["created_at"],
    )


class BillingRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def set_provider_client_id(self, customer_id: uuid.UUID, client_id: str, now: datetime) -> None:
        """Stores the provider's id of the customer, unless one is stored already (the first one stays)."""
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer_id, customers.c.provider_client_id.is_(None))
            .values(provider_client_id=client_id, updated_at=now)
        )

    async def add_invoice(
        self,
        vendor_id: uuid.UUID,
        transaction_id: uuid.UUID,
        provider: str,
        doctype: str,
        docnum: str,
        url: str | None,
        amount: Money,
        now: datetime,
    ) -> bool:
        """Records the document issued for a payment; False when the payment had one already."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        result = await self._conn.execute(
            dialect.insert(invoices)
            .values(
                id=uuid.uuid4(),
                vendor_id=vendor_id,
                transaction_id=transaction_id,
                provider=provider,
                doctype=doctype,
                docnum=docnum,
                url=url,
                amount=amount.amount,
                currency=amount.currency,
                status="issued",
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["transaction_id"])
        )
        return bool(result.rowcount)

    async def invoice_for(self, transaction_id: uuid.UUID) -> InvoiceRecord | None:
        query = select(invoices).where(invoices.c.transaction_id == transaction_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _invoice(row)

    async def invoice_of_document(
        self, vendor_id: uuid.UUID, provider: str, doctype: str, docnum: str
    ) -> InvoiceRecord | None:
        query = select(invoices).where(
            invoices.c.vendor_id == vendor_id,
            invoices.c.provider == provider,
            invoices.c.doctype == doctype,
            invoices.c.docnum == docnum,
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _invoice(row)

    async def invoices_for_order(self, order_id: uuid.UUID) -> list[InvoiceRecord]:
        query = (
            select(invoices)
            .join(payment_transactions, payment_transactions.c.id == invoices.c.transaction_id)
            .where(payment_transactions.c.commande_id == order_id)
            .order_by(invoices.c.created_at)
        )
        return [_invoice(row) for row in await self._conn.execute(query)]

    async def mark_invoice_cancelled(self, transaction_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            update(invoices)
            .where(invoices.c.transaction_id == transaction_id)
            .values(status="cancelled", updated_at=now)
        )

    async def uninvoiced_payments(
        self, provider: str, limit: int = 50, besides: list[uuid.UUID] | None = None
    ) -> list[uuid.UUID]:
        """Paid transactions of ``provider`` without their document yet, oldest first, but ``besides``."""
        query = (
            select(payment_transactions.c.id)
            .outerjoin(invoices, invoices.c.transaction_id == payment_transactions.c.id)
            .where(
                payment_transactions.c.provider == provider,
                payment_transactions.c.status.in_(RECEIVED),
                invoices.c.id.is_(None),
            )
            .order_by(payment_transactions.c.paid_at)
            .limit(limit)
        )
        if besides:
            query = query.where(payment_transactions.c.id.not_in(besides))
        return list((await self._conn.execute(query)).scalars())

    async def has_ipn_waiting(self, source: str, transaction_ids: list[uuid.UUID]) -> bool:
        """Whether an IPN of one of these requests is stored and still to be confirmed (not processed,
        not given up): its payment may have been made in time."""
        if not transaction_ids:
            return False
        query = select(inbound_events.c.id).where(
            inbound_events.c.source == source,
            inbound_events.c.processed_at.is_(None),
            inbound_events.c.attempts < MAX_ATTEMPTS,
            or_(*(inbound_events.c.event_key.startswith(f"{t}:", autoescape=True) for t in transaction_ids)),
        )
        return (await self._conn.execute(query.limit(1))).first() is not None

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
