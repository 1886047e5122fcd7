"""Invoices: the document issued for each payment (one per payment), as its provider numbered it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.money import Money
from bot.domain.transaction import RECEIVED_STATUSES
from bot.store.tables import invoices, payment_transactions

RECEIVED = sorted(status.value for status in RECEIVED_STATUSES)


class InvoiceStatus(StrEnum):
    ISSUED = "issued"
    CANCELLED = "cancelled"


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
    status: InvoiceStatus
    created_at: datetime


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
        status=InvoiceStatus(m["status"]),
        created_at=m["created_at"],
    )


class InvoiceRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

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
                status=InvoiceStatus.ISSUED.value,
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
            .values(status=InvoiceStatus.CANCELLED.value, updated_at=now)
        )

    async def uninvoiced_payments(
        self, providers: Sequence[str], limit: int = 50, besides: list[uuid.UUID] | None = None
    ) -> list[uuid.UUID]:
        """Paid transactions at ``providers`` without their document yet, oldest first, but ``besides``."""
        query = (
            select(payment_transactions.c.id)
            .outerjoin(invoices, invoices.c.transaction_id == payment_transactions.c.id)
            .where(
                payment_transactions.c.provider.in_(list(providers)),
                payment_transactions.c.status.in_(RECEIVED),
                invoices.c.id.is_(None),
            )
            .order_by(payment_transactions.c.paid_at)
            .limit(limit)
        )
        if besides:
            query = query.where(payment_transactions.c.id.not_in(besides))
        return list((await self._conn.execute(query)).scalars())
