from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.customer import Customer
from bot.store.tables import customers


def _to_customer(row: Row[Any]) -> Customer:
    m = row._mapping
    return Customer(
        id=m["id"],
        vendor_id=m["vendor_id"],
        phone=m["phone"],
        created_at=m["created_at"],
        name=m["name"],
        locale=m["locale"],
        provider_client_id=m["provider_client_id"],
        opted_out=m["opted_out"],
        last_inbound_at=m["last_inbound_at"],
    )


class CustomerRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Customer]:
        if not ids:
            return {}
        rows = await self._conn.execute(select(customers).where(customers.c.id.in_(ids)))
        return {row.id: _to_customer(row) for row in rows}

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        row = (await self._conn.execute(select(customers).where(customers.c.id == customer_id))).first()
        return None if row is None else _to_customer(row)

    async def by_phone(self, vendor_id: uuid.UUID, phone: str) -> Customer | None:
        query = select(customers).where(customers.c.vendor_id == vendor_id, customers.c.phone == phone)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_customer(row)

    async def get_or_create(
        self, vendor_id: uuid.UUID, phone: str, now: datetime, name: str | None = None
    ) -> Customer:
        """The vendor's customer with this number, created if new; safe when two requests race."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(customers)
            .values(
                id=uuid.uuid4(),
                vendor_id=vendor_id,
                phone=phone,
                name=name,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["vendor_id", "phone"])
        )
        await self._conn.execute(statement)
        customer = await self.by_phone(vendor_id, phone)
        if customer is None:  # pragma: no cover - the insert above guarantees a row
            raise LookupError(phone)
        return customer

    async def touch(self, customer_id: uuid.UUID, at: datetime, name: str | None) -> None:
        """Records an inbound message: it opens the 24-hour window; the profile name fills a blank one."""
        # A redelivered old message never moves the 24-hour window backwards.
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .where(or_(customers.c.last_inbound_at.is_(None), customers.c.last_inbound_at < at))
            .values(last_inbound_at=at, updated_at=at)
        )
        if name:
            await self._conn.execute(
                update(customers)
                .where(customers.c.id == customer_id, customers.c.name.is_(None))
                .values(name=name)
            )

    async def for_vendor(self, vendor_id: uuid.UUID, limit: int = 500) -> list[Customer]:
        query = (
            select(customers)
            .where(customers.c.vendor_id == vendor_id)
            .order_by(customers.c.created_at, customers.c.phone)
            .limit(limit)
        )
        return [_to_customer(row) for row in await self._conn.execute(query)]

    async def update_profile(self, customer: Customer, at: datetime) -> None:
        """The name and language the vendor gave the customer."""
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer.id)
            .values(name=customer.name, locale=customer.locale, updated_at=at)
        )

    async def set_opted_out(self, customer_id: uuid.UUID, opted_out: bool, at: datetime) -> None:
        await self._conn.execute(
            update(customers).where(customers.c.id == customer_id).values(opted_out=opted_out, updated_at=at)
        )

    async def set_provider_client_id(self, customer_id: uuid.UUID, client_id: str, now: datetime) -> None:
        """Stores the provider's id of the customer, unless one is stored already (the first one stays)."""
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer_id, customers.c.provider_client_id.is_(None))
            .values(provider_client_id=client_id, updated_at=now)
        )
