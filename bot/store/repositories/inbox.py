from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import inbound_events


@dataclass(frozen=True, slots=True)
class InboundEvent:
    id: int
    source: str
    event_key: str
    event_type: str
    payload: str
    received_at: datetime
    attempts: int
    processed_at: datetime | None
    # Set while a processor holds the event; still set on an unprocessed event once the lease is over,
    # the processor was stopped part-way (a crash or a restart).
    locked_until: datetime | None = None


# After this many failed tries an event is left for a person to look at (it stays in the table).
MAX_ATTEMPTS = 10


class InboxRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(
        self, source: str, event_key: str, event_type: str, payload: str, now: datetime
    ) -> int | None:
        """Stores the event once; None when the provider delivered it before."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        result = await self._conn.execute(
            dialect.insert(inbound_events)
            .values(
                source=source, event_key=event_key, event_type=event_type, payload=payload, received_at=now
            )
            .on_conflict_do_nothing(index_elements=["source", "event_key"])
            .returning(inbound_events.c.id)
        )
        return result.scalar_one_or_none()

    async def get(self, event_id: int) -> InboundEvent | None:
        row = (
            await self._conn.execute(select(inbound_events).where(inbound_events.c.id == event_id))
        ).first()
        if row is None:
            return None
        return InboundEvent(
            row.id,
            row.source,
            row.event_key,
            row.event_type,
            row.payload,
            row.received_at,
            row.attempts,
            row.processed_at,
            row.locked_until,
        )

    async def unprocessed(self, sources: set[str], received_before: datetime, limit: int) -> list[int]:
        query = (
            select(inbound_events.c.id)
            .where(
                inbound_events.c.processed_at.is_(None),
                inbound_events.c.source.in_(sources),
                inbound_events.c.received_at <= received_before,
                inbound_events.c.attempts < MAX_ATTEMPTS,
                (inbound_events.c.locked_until.is_(None)) | (inbound_events.c.locked_until < received_before),
            )
            .order_by(inbound_events.c.id)
            .limit(limit)
        )
        return list((await self._conn.execute(query)).scalars())

    async def claim(self, event_id: int, now: datetime, lease: timedelta) -> bool:
        """Takes the event for processing unless it is done or another processor holds it."""
        result = await self._conn.execute(
            update(inbound_events)
            .where(
                inbound_events.c.id == event_id,
                inbound_events.c.processed_at.is_(None),
                (inbound_events.c.locked_until.is_(None)) | (inbound_events.c.locked_until < now),
            )
            .values(locked_until=now + lease)
        )
        return bool(result.rowcount)

    async def mark_processed(self, event_id: int, now: datetime) -> None:
        await self._conn.execute(
            update(inbound_events)
            .where(inbound_events.c.id == event_id)
            .values(
                processed_at=now, attempts=inbound_events.c.attempts + 1, last_error=None, locked_until=None
            )
        )

    async def mark_failed(self, event_id: int, error: str) -> None:
        await self._conn.execute(
            update(inbound_events)
            .where(inbound_events.c.id == event_id)
            .values(attempts=inbound_events.c.attempts + 1, last_error=error[:2000], locked_until=None)
        )

    async def status_events_for(self, wamid: str) -> list[tuple[str, int | None]]:
        """The statuses stored for one sent message, as (status, error code), in arrival order."""
        keys = [f"{wamid}:{status}" for status in ("sent", "delivered", "read", "failed")]
        query = (
            select(inbound_events.c.event_key, inbound_events.c.payload)
            .where(inbound_events.c.source == "whatsapp", inbound_events.c.event_key.in_(keys))
            .order_by(inbound_events.c.id)
        )
        rows = await self._conn.execute(query)
        return [(row.event_key.rsplit(":", 1)[1], status_error_code(row.payload)) for row in rows]

    async def unprocessed_counts(self) -> tuple[int, int]:
        """(events waiting to be processed, events given up after MAX_ATTEMPTS failures)."""
        given_up = inbound_events.c.attempts >= MAX_ATTEMPTS
        query = select(func.count().filter(~given_up), func.count().filter(given_up)).where(
            inbound_events.c.processed_at.is_(None)
        )
        waiting, abandoned = (await self._conn.execute(query)).one()
        return int(waiting), int(abandoned)

    async def claim_many_processed(self, event_ids: list[int], now: datetime) -> set[int]:
        """Marks these events processed; returns those that were not already (another processor, or
        the recovery pass, may have applied the rest), so each is applied once."""
        if not event_ids:
            return set()
        result = await self._conn.execute(
            update(inbound_events)
            .where(inbound_events.c.id.in_(event_ids), inbound_events.c.processed_at.is_(None))
            .values(processed_at=now, attempts=inbound_events.c.attempts + 1, locked_until=None)
            .returning(inbound_events.c.id)
        )
        return set(result.scalars())

    async def has_callback_waiting(self, transaction_ids: list[uuid.UUID]) -> bool:
        """Whether a provider's callback about one of these requests (keyed "<transaction>:...") is
        stored and still to be confirmed (not processed, not given up): its payment may have been made
        in time."""
        if not transaction_ids:
            return False
        query = select(inbound_events.c.id).where(
            inbound_events.c.processed_at.is_(None),
            inbound_events.c.attempts < MAX_ATTEMPTS,
            or_(*(inbound_events.c.event_key.startswith(f"{t}:", autoescape=True) for t in transaction_ids)),
        )
        return (await self._conn.execute(query.limit(1))).first() is not None


def status_error_code(payload: str) -> int | None:
    """The error code of a stored one-status webhook body, if it carries one."""
    try:
        errors = json.loads(payload)["entry"][0]["changes"][0]["value"]["statuses"][0].get("errors") or []
        return int(errors[0]["code"]) if errors else None
    except (KeyError, IndexError, TypeError, ValueError):
        return None
