from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, false, func, or_, select, true, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import inbound_events
from bot.store.types import UTCDateTime


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


_EVENT_COLUMNS = (
    inbound_events.c.id,
    inbound_events.c.source,
    inbound_events.c.event_key,
    inbound_events.c.event_type,
    inbound_events.c.payload,
    inbound_events.c.received_at,
    inbound_events.c.attempts,
    inbound_events.c.processed_at,
)

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
        received = inbound_events.c.received_at <= received_before
        query = _waiting(sources, received_before, limit).where(received)
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

    async def claim_batch(
        self,
        sources: Collection[str],
        now: datetime,
        lease: timedelta,
        limit: int,
        *,
        sender: Callable[[InboundEvent], str] | None = None,
    ) -> list[InboundEvent]:
        """Takes up to ``limit`` events to process, oldest first, under a lease. On Postgres the rows
        another worker is taking are skipped (SKIP LOCKED), so several workers share the inbox; each
        event comes back with the lease it had (set: a worker stopped while holding it). ``sender``: who
        wrote a message ("" for none); a message is then not taken while an earlier one of its sender is
        in another worker's hands, so each sender's messages are handled in order by every worker."""
        held: list[InboundEvent] = []
        if self._conn.dialect.name == "postgresql":
            statement = _postgres_claim(tuple(sorted(sources)), limit, sender is not None)
            times = {"now": now, "until": now + lease}
            rows: list[tuple[Any, ...]] = []
            if sender is None:
                rows = [tuple(row) for row in await self._conn.execute(statement, times)]
            else:
                for row in await self._conn.execute(statement, times):
                    if row.mine:
                        rows.append(tuple(row)[:-1])
                    else:
                        held.append(InboundEvent(*tuple(row)[:-1]))
        else:
            # SQLite has one writer at a time (BEGIN IMMEDIATE) and one worker (no `bot serve --workers`):
            # nobody else can take these meanwhile.
            waiting = _waiting(sources, now, limit)
            taken = {row.id: row.locked_until for row in await self._conn.execute(waiting)}
            if not taken:
                return []
            await self._conn.execute(
                update(inbound_events)
                .where(inbound_events.c.id.in_(list(taken)))
                .values(locked_until=now + lease)
            )
            query = select(*_EVENT_COLUMNS).where(inbound_events.c.id.in_(list(taken)))
            rows = [(*row, taken[row.id]) for row in await self._conn.execute(query)]
        events = sorted((InboundEvent(*row) for row in rows), key=lambda e: e.id)
        if sender is not None and held:
            events = await self._behind_held(events, held, sender)
        return events

    async def _behind_held(
        self, events: list[InboundEvent], held: list[InboundEvent], sender: Callable[[InboundEvent], str]
    ) -> list[InboundEvent]:
        """``events`` but those whose sender has an earlier message held elsewhere: those are given back,
        in this same transaction, with the lease they had."""
        first_held: dict[str, int] = {}
        for event in held:
            who = sender(event)
            if who:
                first_held[who] = min(first_held.get(who, event.id), event.id)
        if not first_held:
            return events
        later = [e for e in events if (who := sender(e)) and first_held.get(who, e.id) < e.id]
        if not later:
            return events
        await self._conn.execute(
            update(inbound_events)
            .where(inbound_events.c.id.in_([e.id for e in later]))
            .values(
                locked_until=case(
                    {e.id: e.locked_until for e in later},
                    value=inbound_events.c.id,
                    else_=inbound_events.c.locked_until,  # typed: the lease given back may be NULL
                )
            )
        )
        given_back = {e.id for e in later}
        return [e for e in events if e.id not in given_back]

    async def backlog(self, sources: Collection[str]) -> tuple[int, datetime | None]:
        """(events waiting to be processed, when the oldest of them arrived)."""
        query = select(func.count(), func.min(inbound_events.c.received_at)).where(
            inbound_events.c.processed_at.is_(None),
            inbound_events.c.source.in_(list(sources)),
            inbound_events.c.attempts < MAX_ATTEMPTS,
        )
        count, oldest = (await self._conn.execute(query)).one()
        return int(count), oldest

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

    async def mark_rejected(self, event_id: int, reason: str, now: datetime) -> None:
        """Done with, unprocessed: it can never succeed (``reason`` says why); never taken again."""
        await self._conn.execute(
            update(inbound_events)
            .where(inbound_events.c.id == event_id)
            .values(
                processed_at=now,
                rejected_at=now,
                attempts=inbound_events.c.attempts + 1,
                last_error=reason[:2000],
                locked_until=None,
            )
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


def _waiting(sources: Collection[str], now: Any, limit: int) -> Any:
    """The oldest events to process, not given up, not under a running lease (``now``: a time, or the
    claim's bound parameter)."""
    return (
        select(inbound_events.c.id, inbound_events.c.locked_until)
        .where(
            inbound_events.c.processed_at.is_(None),
            inbound_events.c.source.in_(list(sources)),
            inbound_events.c.attempts < MAX_ATTEMPTS,
            (inbound_events.c.locked_until.is_(None)) | (inbound_events.c.locked_until < now),
        )
        .order_by(inbound_events.c.id)
        .limit(limit)
    )


@functools.cache
def _postgres_claim(sources: tuple[str, ...], limit: int, with_held: bool) -> Any:
    """The claim as one statement, built once per shape (its times are bound parameters): it runs
    before every batch, and building it cost more than running it."""
    until = bindparam("until", type_=UTCDateTime())
    waiting = _waiting(sources, bindparam("now", type_=UTCDateTime()), limit)
    picked = waiting.with_for_update(skip_locked=True).cte("picked")
    statement = (
        update(inbound_events)
        .where(inbound_events.c.id == picked.c.id)
        .values(locked_until=until)
        .returning(*_EVENT_COLUMNS, picked.c.locked_until.label("held_until"))
    )
    return _with_held_messages(statement, picked, sources) if with_held else statement


def _with_held_messages(claim: Any, picked: Any, sources: Collection[str]) -> Any:
    """The claim, its rows marked ``mine``, followed by the messages earlier than the last one it takes
    that are unprocessed and not among them: held by another worker (its lease running, or being claimed
    this instant). Read in the claim's own statement; as many as the other workers hold."""
    claimed = claim.cte("claimed")
    mine = select(*claimed.c, true().label("mine"))
    others = select(
        *_EVENT_COLUMNS, inbound_events.c.locked_until.label("held_until"), false().label("mine")
    ).where(
        inbound_events.c.processed_at.is_(None),
        inbound_events.c.source.in_(list(sources)),
        inbound_events.c.attempts < MAX_ATTEMPTS,
        inbound_events.c.event_type == "message",
        inbound_events.c.id < select(func.max(picked.c.id)).scalar_subquery(),
        inbound_events.c.id.not_in(select(picked.c.id)),
    )
    return union_all(mine, others)


def status_error_code(payload: str) -> int | None:
    """The error code of a stored one-status webhook body, if it carries one."""
    try:
        errors = json.loads(payload)["entry"][0]["changes"][0]["value"]["statuses"][0].get("errors") or []
        return int(errors[0]["code"]) if errors else None
    except (KeyError, IndexError, TypeError, ValueError):
        return None
