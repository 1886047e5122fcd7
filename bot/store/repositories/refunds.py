"""Refund rows: one per refund asked (or found made at the provider), with its outcome."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.money import Money
from bot.domain.refund import IN_FLIGHT, Refund, RefundStatus
from bot.store.tables import payment_transactions, refunds


def _to_refund(row: Row[Any]) -> Refund:
    m = row._mapping
    return Refund(
        id=m["id"],
        vendor_id=m["vendor_id"],
        transaction_id=m["transaction_id"],
        amount=Money(m["amount"], m["currency"]),
        status=RefundStatus(m["status"]),
        requested_by=m["requested_by"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        provider=m["provider"],
        provider_reference=m["provider_reference"],
        failure_reason=m["failure_reason"],
    )


class RefundRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, refund: Refund) -> None:
        await self._conn.execute(
            insert(refunds).values(
                id=refund.id,
                vendor_id=refund.vendor_id,
                transaction_id=refund.transaction_id,
                amount=refund.amount.amount,
                currency=refund.amount.currency,
                status=refund.status.value,
                provider=refund.provider,
                provider_reference=refund.provider_reference,
                requested_by=refund.requested_by,
                failure_reason=refund.failure_reason,
                created_at=refund.created_at,
                updated_at=refund.updated_at,
            )
        )

    async def update(self, refund: Refund) -> None:
        await self._conn.execute(
            update(refunds)
            .where(refunds.c.id == refund.id)
            .values(
                status=refund.status.value,
                provider_reference=refund.provider_reference,
                failure_reason=None if refund.failure_reason is None else refund.failure_reason[:2000],
                updated_at=refund.updated_at,
            )
        )

    async def get(self, refund_id: uuid.UUID) -> Refund | None:
        row = (await self._conn.execute(select(refunds).where(refunds.c.id == refund_id))).first()
        return None if row is None else _to_refund(row)

    async def for_order(self, order_id: uuid.UUID) -> list[Refund]:
        query = (
            select(refunds)
            .join(payment_transactions, payment_transactions.c.id == refunds.c.transaction_id)
            .where(payment_transactions.c.commande_id == order_id)
            .order_by(refunds.c.created_at, refunds.c.id)
        )
        return [_to_refund(row) for row in await self._conn.execute(query)]

    async def for_transaction(self, transaction_id: uuid.UUID) -> list[Refund]:
        query = (
            select(refunds)
            .where(refunds.c.transaction_id == transaction_id)
            .order_by(refunds.c.created_at, refunds.c.id)
        )
        return [_to_refund(row) for row in await self._conn.execute(query)]

    async def in_flight(self, updated_before: datetime, limit: int = 100) -> list[Refund]:
        """Refunds whose outcome is not known (unknown, or pending since before ``updated_before``: the
        process asking may have stopped), oldest first."""
        query = (
            select(refunds)
            .where(
                refunds.c.status.in_([s.value for s in IN_FLIGHT]),
                refunds.c.updated_at <= updated_before,
            )
            .order_by(refunds.c.updated_at)
            .limit(limit)
        )
        return [_to_refund(row) for row in await self._conn.execute(query)]
