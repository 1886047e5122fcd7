from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.money import Money
from bot.store.repositories.transactions import PaymentLinkRecord
from bot.store.tables import payment_links


def to_link(row: Row[Any]) -> PaymentLinkRecord:
    m = row._mapping
    return PaymentLinkRecord(
        id=m["id"],
        provider=m["provider"],
        provider_link_id=m["provider_link_id"],
        url=m["url"],
        amount=m["amount"],
        currency=m["currency"],
        active=m["active"],
        created_at=m["created_at"],
    )


@functools.cache
def _upsert(dialect_name: str) -> Any:
    """Built once; the values go as parameters."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(payment_links)
        .on_conflict_do_update(
            index_elements=["provider", "provider_link_id"],
            set_={"updated_at": payment_links.c.updated_at},
        )
        .returning(payment_links)
    )


class LinkRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(
        self,
        vendor_id: uuid.UUID,
        provider: str,
        provider_link_id: str,
        url: str,
        amount: Money,
        now: datetime,
    ) -> PaymentLinkRecord:
        """The link row, created once: a recovery that finds the same provider link reuses it. One
        statement: the no-op update on a conflict makes RETURNING give the row already there."""
        row = {
            "id": uuid.uuid4(),
            "vendor_id": vendor_id,
            "provider": provider,
            "provider_link_id": provider_link_id,
            "url": url,
            "amount": amount.amount,
            "currency": amount.currency,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        result = await self._conn.execute(_upsert(self._conn.dialect.name), row)
        return to_link(result.one())

    async def by_provider_id(self, provider: str, provider_link_id: str) -> PaymentLinkRecord | None:
        query = select(payment_links).where(
            payment_links.c.provider == provider, payment_links.c.provider_link_id == provider_link_id
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else to_link(row)

    async def get(self, link_id: uuid.UUID) -> PaymentLinkRecord | None:
        row = (await self._conn.execute(select(payment_links).where(payment_links.c.id == link_id))).first()
        return None if row is None else to_link(row)

    async def deactivate(self, link_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            update(payment_links)
            .where(payment_links.c.id == link_id, payment_links.c.active.is_(True))
            .values(active=False, updated_at=now)
        )
