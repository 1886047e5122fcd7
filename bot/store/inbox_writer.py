"""Group commit for the inbox: concurrent webhooks share one transaction.

A webhook is answered only after its events are committed, and one commit per webhook would cap the
ingest rate at the database's commit rate. So requests queue their events; one writer task inserts
everything queued in a single transaction, commits, then wakes every request it carried. While it
commits, the next requests gather: the busier the server, the bigger the shared commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Text, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.tables import inbound_events

log = logging.getLogger(__name__)
MAX_ROWS_PER_COMMIT = 2000


@dataclass(frozen=True, slots=True)
class NewEvent:
    source: str
    event_key: str
    event_type: str
    payload: str


@dataclass(slots=True)
class _Pending:
    events: list[NewEvent]
    received_at: datetime
    done: asyncio.Future[list[int | None]]


class InboxWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def store(self, events: list[NewEvent], received_at: datetime) -> list[int | None]:
        """Waits until ``events`` are committed; each one's id, or None when it was stored before."""
        if not events:
            return []
        self.start()
        done: asyncio.Future[list[int | None]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(events, received_at, done))
        return await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            rows = len(batch[0].events)
            while not self._queue.empty() and rows < MAX_ROWS_PER_COMMIT:
                item = self._queue.get_nowait()
                batch.append(item)
                rows += len(item.events)
            try:
                ids = await self._write(batch)
            except Exception as error:  # noqa: BLE001 - every waiting request gets the error (then a 503)
                log.warning("inbox commit failed for %d requests: %s", len(batch), type(error).__name__)
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(error)
                continue
            for item in batch:
                if not item.done.done():
                    item.done.set_result([ids.pop((e.source, e.event_key), None) for e in item.events])

    async def _write(self, batch: list[_Pending]) -> dict[tuple[str, str], int]:
        values = []
        seen: set[tuple[str, str]] = set()
        for item in batch:
            for event in item.events:
                if (event.source, event.event_key) in seen:
                    continue
                seen.add((event.source, event.event_key))
                values.append(
                    {
                        "source": event.source,
                        "event_key": event.event_key,
                        "event_type": event.event_type,
                        "payload": event.payload,
                        "received_at": item.received_at,
                    }
                )
        async with self._engine.begin() as connection:
            if self._engine.dialect.name == "postgresql":
                # One statement whatever the batch size: compiled and prepared once, not per size.
                result = await connection.execute(
                    _UNNEST_INSERT,
                    {
                        "sources": [v["source"] for v in values],
                        "keys": [v["event_key"] for v in values],
                        "types": [v["event_type"] for v in values],
                        "payloads": [v["payload"] for v in values],
                        "times": [v["received_at"] for v in values],
                    },
                )
            else:
                result = await connection.execute(
                    sqlite.insert(inbound_events)
                    .values(values)
                    .on_conflict_do_nothing(index_elements=["source", "event_key"])
                    .returning(inbound_events.c.id, inbound_events.c.source, inbound_events.c.event_key)
                )
            return {(row.source, row.event_key): row.id for row in result}


_UNNEST_INSERT = text(
    "INSERT INTO inbound_events (source, event_key, event_type, payload, received_at) "
    "SELECT * FROM unnest(:sources, :keys, :types, :payloads, :times) "
    "ON CONFLICT (source, event_key) DO NOTHING RETURNING id, source, event_key"
).bindparams(
    bindparam("sources", type_=postgresql.ARRAY(Text())),
    bindparam("keys", type_=postgresql.ARRAY(Text())),
    bindparam("types", type_=postgresql.ARRAY(Text())),
    bindparam("payloads", type_=postgresql.ARRAY(Text())),
    bindparam("times", type_=postgresql.ARRAY(DateTime(timezone=True))),
)
