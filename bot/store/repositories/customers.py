from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, RowMapping, case, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.channel import Channel
from bot.domain.customer import Customer
from bot.domain.product import SyncState
from bot.store.tables import commandes, customers, payment_settings


def _to_customer(row: Row[Any]) -> Customer:
    return customer_from(row._mapping)


def customer_columns(prefix: str) -> list[ColumnElement[Any]]:
    """The customer's columns under ``prefix`` (read beside another table's, in one statement)."""
    return [column.label(f"{prefix}{column.name}") for column in customers.c]


def customer_from(row: RowMapping, prefix: str = "") -> Customer:
    """A customer from its columns, read under ``prefix`` (``customer_columns``) or as they are."""
    m = (
        {name[len(prefix) :]: value for name, value in row.items() if name.startswith(prefix)}
        if prefix
        else row
    )
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
        email=m["email"],
        client_sync_state=SyncState(m["client_sync_state"]) if m["client_sync_state"] else None,
        client_sync_error=m["client_sync_error"],
        client_synced_at=m["client_synced_at"],
        channel=Channel(m["channel"]),
        address=m["address"],
        handle=m["handle"],
        channel_inbound_at=m["channel_inbound_at"],
    )


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """A customer as the dashboard lists them: with their number of orders and their last order's time."""

    customer: Customer
    orders: int
    last_order_at: datetime | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_filters(vendor_id: uuid.UUID, text: str | None, digits: str | None) -> list[ColumnElement[bool]]:
    """The vendor's customers whose name or email holds ``text`` (any case), or phone ``digits``."""
    filters: list[ColumnElement[bool]] = [customers.c.vendor_id == vendor_id]
    terms: list[ColumnElement[bool]] = []
    if digits:
        terms.append(customers.c.phone.like(_like(digits), escape="\\"))
    if text:
        terms.append(customers.c.name.ilike(_like(text), escape="\\"))
        terms.append(customers.c.email.ilike(_like(text), escape="\\"))
        terms.append(customers.c.handle.ilike(_like(text.lstrip("@")), escape="\\"))
    if text or digits:
        filters.append(or_(*terms) if terms else false())
    return filters


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

    async def by_address(self, vendor_id: uuid.UUID, channel: Channel, address: str) -> Customer | None:
        query = select(customers).where(
            customers.c.vendor_id == vendor_id,
            customers.c.channel == channel.value,
            customers.c.address == address,
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_customer(row)

    async def get_or_create_at(
        self, vendor_id: uuid.UUID, channel: Channel, address: str, now: datetime
    ) -> Customer:
        """The vendor's customer with this id on ``channel`` (Instagram), created if new (no phone yet);
        safe when two requests race."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(customers)
            .values(
                id=uuid.uuid4(),
                vendor_id=vendor_id,
                channel=channel.value,
                address=address,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["vendor_id", "channel", "address"])
        )
        await self._conn.execute(statement)
        customer = await self.by_address(vendor_id, channel, address)
        if customer is None:  # pragma: no cover - the insert above guarantees a row
            raise LookupError(address)
        return customer

    async def touch_channel(self, customer_id: uuid.UUID, at: datetime, handle: str | None) -> None:
        """Records a message on their channel (Instagram's 24-hour window opens), never moving it back; the
        username, when the profile gave it, is kept up to date."""
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .where(or_(customers.c.channel_inbound_at.is_(None), customers.c.channel_inbound_at < at))
            .values(channel_inbound_at=at, updated_at=at)
        )
        if handle:
            await self._conn.execute(
                update(customers).where(customers.c.id == customer_id).values(handle=handle)
            )

    async def on_instagram_named(self, vendor_id: uuid.UUID, name: str) -> list[Customer]:
        """The vendor's Instagram customers ``name`` designates: their username, their whole id, or the end
        of their id (what the forwarded note shows when the username is not known)."""
        address = customers.c.address
        terms: list[ColumnElement[bool]] = [func.lower(customers.c.handle) == name, address == name]
        if name.isdigit():  # digits only: nothing to escape in the pattern
            terms.append(address.like(f"%{name}"))
        query = (
            select(customers)
            .where(customers.c.vendor_id == vendor_id, customers.c.channel == Channel.INSTAGRAM.value)
            .where(or_(*terms))
            .order_by(customers.c.created_at)
            .limit(10)
        )
        return [_to_customer(row) for row in await self._conn.execute(query)]

    async def set_phone(self, customer_id: uuid.UUID, phone: str | None, at: datetime) -> None:
        await self._conn.execute(
            update(customers).where(customers.c.id == customer_id).values(phone=phone, updated_at=at)
        )

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
        """The name, email and language the vendor gave the customer, and its client sync state (the
        caller's: pending when it changed and the provider keeps clients)."""
        await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer.id)
            .values(
                name=customer.name,
                email=customer.email,
                locale=customer.locale,
                # Only an Instagram customer's can change (a WhatsApp customer's is who they are).
                phone=customer.phone,
                client_sync_state=None
                if customer.client_sync_state is None
                else customer.client_sync_state.value,
                client_sync_error=customer.client_sync_error,
                updated_at=at,
            )
        )

    async def adopt_email(self, customer_id: uuid.UUID, email: str, at: datetime) -> bool:
        """An address the customer gave while paying (an iCount IPN), kept only when they have none: the
        vendor's own choice is never overwritten. Their provider client, if kept, is synced again."""
        result = await self._conn.execute(
            update(customers)
            .where(customers.c.id == customer_id, customers.c.email.is_(None))
            .values(
                email=email,
                client_sync_state=case(
                    (customers.c.client_sync_state.is_(None), None), else_=SyncState.PENDING.value
                ),
                updated_at=at,
            )
        )
        return bool(result.rowcount)

    async def get_for_update(self, customer_id: uuid.UUID) -> Customer | None:
        query = select(customers).where(customers.c.id == customer_id)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_customer(row)

    async def record_client_sync(
        self,
        customer_id: uuid.UUID,
        state: SyncState,
        error: str | None,
        synced_at: datetime | None,
        client_id: str | None,
    ) -> None:
        """The outcome of a client sync: ``synced_at`` is kept as it was when None (a failure keeps the
        last success's time); a client id is stored when the customer had none."""
        values: dict[str, Any] = {"client_sync_state": state.value, "client_sync_error": error}
        if synced_at is not None:
            values["client_synced_at"] = synced_at
        await self._conn.execute(update(customers).where(customers.c.id == customer_id).values(**values))
        if client_id:
            await self._conn.execute(
                update(customers)
                .where(customers.c.id == customer_id, customers.c.provider_client_id.is_(None))
                .values(provider_client_id=client_id)
            )

    async def awaiting_client_sync(
        self,
        providers: Collection[str],
        limit: int,
        vendor_id: uuid.UUID | None = None,
        after: uuid.UUID | None = None,
        states: Collection[SyncState | None] = (None, SyncState.PENDING, SyncState.FAILED),
    ) -> list[Customer]:
        """Customers of vendors on ``providers`` (those that keep clients) not synced since their last
        change, in a stable order (by id, from ``after`` on): never synced (None), pending, or failed."""
        if not providers:
            return []
        wanted = [s.value for s in states if s is not None]
        state = customers.c.client_sync_state
        condition: ColumnElement[bool] = state.in_(wanted) if wanted else false()
        if None in states:
            condition = or_(condition, state.is_(None))
        query = (
            select(customers)
            .select_from(
                customers.join(payment_settings, payment_settings.c.vendor_id == customers.c.vendor_id)
            )
            .where(payment_settings.c.provider.in_(list(providers)), condition)
            .order_by(customers.c.id)
            .limit(limit)
        )
        if vendor_id is not None:
            query = query.where(customers.c.vendor_id == vendor_id)
        if after is not None:
            query = query.where(customers.c.id > after)
        return [_to_customer(row) for row in await self._conn.execute(query)]

    async def count_awaiting_client_sync(
        self, providers: Collection[str], vendor_id: uuid.UUID | None
    ) -> int:
        if not providers:
            return 0
        state = customers.c.client_sync_state
        query = (
            select(func.count())
            .select_from(
                customers.join(payment_settings, payment_settings.c.vendor_id == customers.c.vendor_id)
            )
            .where(payment_settings.c.provider.in_(list(providers)))
            .where(or_(state.is_(None), state != SyncState.SYNCED.value))
        )
        if vendor_id is not None:
            query = query.where(customers.c.vendor_id == vendor_id)
        return int((await self._conn.execute(query)).scalar_one())

    async def count_matching(self, vendor_id: uuid.UUID, text: str | None, digits: str | None) -> int:
        query = select(func.count()).select_from(customers).where(*_search_filters(vendor_id, text, digits))
        return int((await self._conn.execute(query)).scalar_one())

    async def page(
        self, vendor_id: uuid.UUID, text: str | None, digits: str | None, limit: int, offset: int
    ) -> list[CustomerRow]:
        """The vendor's customers that match, the most recently seen first, each with its number of
        orders and its last order's time (one statement)."""
        orders = (
            select(
                commandes.c.customer_id,
                func.count().label("orders"),
                func.max(commandes.c.created_at).label("last_order_at"),
            )
            .where(commandes.c.vendor_id == vendor_id)
            .group_by(commandes.c.customer_id)
            .subquery()
        )
        query = (
            select(customers, orders.c.orders, orders.c.last_order_at)
            .select_from(customers.outerjoin(orders, orders.c.customer_id == customers.c.id))
            .where(*_search_filters(vendor_id, text, digits))
            .order_by(customers.c.created_at.desc(), customers.c.phone)
            .limit(limit)
            .offset(offset)
        )
        rows = await self._conn.execute(query)
        return [CustomerRow(_to_customer(row), int(row.orders or 0), row.last_order_at) for row in rows]

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
