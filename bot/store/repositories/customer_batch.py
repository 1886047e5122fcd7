"""Many customers' inbound messages at once: found, created and their 24-hour windows moved in a few
statements whatever their number (the inbox worker's batches), not three statements per message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, String, Text, Uuid, and_, bindparam, case, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.customer import Customer
from bot.store.repositories.customers import _to_customer
from bot.store.tables import customers, vendor_admins


@dataclass(frozen=True, slots=True)
class Arrival:
    """A customer's latest message in the batch: when, and the profile name WhatsApp gave."""

    vendor_id: uuid.UUID
    phone: str
    at: datetime
    name: str | None


class CustomerBatchRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def admins(self, vendor_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        """Each vendor's admin phones, oldest first."""
        if not vendor_ids:
            return {}
        query = (
            select(vendor_admins.c.vendor_id, vendor_admins.c.phone)
            .where(vendor_admins.c.vendor_id.in_(vendor_ids))
            .order_by(vendor_admins.c.created_at, vendor_admins.c.phone)
        )
        found: dict[uuid.UUID, list[str]] = {vendor_id: [] for vendor_id in vendor_ids}
        for row in await self._conn.execute(query):
            found[row.vendor_id].append(row.phone)
        return found

    async def existing(self, vendor_ids: list[uuid.UUID], phones: list[str]) -> set[tuple[uuid.UUID, str]]:
        """Which of these (vendor, phone) pairs are customers already."""
        if not vendor_ids or not phones:
            return set()
        query = select(customers.c.vendor_id, customers.c.phone).where(
            customers.c.vendor_id.in_(vendor_ids), customers.c.phone.in_(phones)
        )
        return {(row.vendor_id, row.phone) for row in await self._conn.execute(query)}

    async def arrive(self, arrivals: list[Arrival]) -> dict[tuple[uuid.UUID, str], Customer]:
        """Creates the new customers and opens every window in one statement; a redelivered old
        message never moves a window backwards, and a profile name only fills a blank one."""
        latest: dict[tuple[uuid.UUID, str], Arrival] = {}
        for arrival in arrivals:  # one row per customer: ON CONFLICT cannot touch a row twice
            key = (arrival.vendor_id, arrival.phone)
            seen = latest.get(key)
            if seen is None or seen.at < arrival.at:
                name = arrival.name or (seen.name if seen is not None else None)
                latest[key] = Arrival(arrival.vendor_id, arrival.phone, arrival.at, name)
        if not latest:
            return {}
        if self._conn.dialect.name == "postgresql":
            # One cached statement whatever the batch size (a multi-row VALUES is compiled per size).
            rows = await self._conn.execute(
                _UNNEST_ARRIVALS,
                {
                    "ids": [uuid.uuid4() for _ in latest],
                    "vendors": [a.vendor_id for a in latest.values()],
                    "phones": [a.phone for a in latest.values()],
                    "names": [a.name for a in latest.values()],
                    "ats": [a.at for a in latest.values()],
                },
            )
            return {(row.vendor_id, row.phone): _to_customer(row) for row in rows}
        statement = sqlite.insert(customers).values(
            [
                {
                    "id": uuid.uuid4(),
                    "vendor_id": a.vendor_id,
                    "phone": a.phone,
                    "name": a.name,
                    "last_inbound_at": a.at,
                    "created_at": a.at,
                    "updated_at": a.at,
                }
                for a in latest.values()
            ]
        )
        excluded = statement.excluded
        moves = or_(
            customers.c.last_inbound_at.is_(None), customers.c.last_inbound_at < excluded.last_inbound_at
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["vendor_id", "phone"],
            set_={
                "last_inbound_at": case((moves, excluded.last_inbound_at), else_=customers.c.last_inbound_at),
                "updated_at": case((moves, excluded.updated_at), else_=customers.c.updated_at),
                "name": case(
                    (and_(customers.c.name.is_(None), excluded.name.is_not(None)), excluded.name),
                    else_=customers.c.name,
                ),
            },
        ).returning(*customers.c)
        rows = await self._conn.execute(upsert)
        return {(row.vendor_id, row.phone): _to_customer(row) for row in rows}


_UNNEST_ARRIVALS = text(
    "INSERT INTO customers AS c (id, vendor_id, phone, name, last_inbound_at, created_at, updated_at) "
    "SELECT i, v, p, n, a, a, a FROM unnest(:ids, :vendors, :phones, :names, :ats) AS u(i, v, p, n, a) "
    "ON CONFLICT (vendor_id, phone) DO UPDATE SET "
    "last_inbound_at = GREATEST(c.last_inbound_at, EXCLUDED.last_inbound_at), "
    "updated_at = CASE WHEN c.last_inbound_at IS NULL OR c.last_inbound_at < EXCLUDED.last_inbound_at "
    "THEN EXCLUDED.updated_at ELSE c.updated_at END, "
    "name = COALESCE(c.name, EXCLUDED.name) "
    "RETURNING c.*"
).bindparams(
    bindparam("ids", type_=postgresql.ARRAY(Uuid())),
    bindparam("vendors", type_=postgresql.ARRAY(Uuid())),
    bindparam("phones", type_=postgresql.ARRAY(String())),
    bindparam("names", type_=postgresql.ARRAY(Text())),
    bindparam("ats", type_=postgresql.ARRAY(DateTime(timezone=True))),
)
