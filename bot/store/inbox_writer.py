"""Group commit for the inbox: concurrent webhooks share one transaction.

A webhook is answered only after its events are committed, and one commit per webhook would cap the
ingest rate at the database's commit rate. So requests queue their events; a writer task inserts
everything queued in a single statement, commits, then wakes every request it carried. While it
commits, the next requests gather: the busier the server, the bigger the shared commits. On Postgres
two writers take turns on their own asyncpg connections (no ORM on the hot path): one gathers while the
other commits.

One bad event never fails the others: when a shared commit fails with an error trying again cannot cure
(an id longer than its column, text the database refuses), each event is written on its own, and one that
still cannot be stored is kept as rejected: a copy the database can hold (its id hashed, its text escaped,
both cut short), with the reason. Its webhook is answered 200, since redelivering it would fail the same
way. Only a database that cannot be reached makes the requests fail (a 503, so the sender retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.failures import OncePerKind, is_permanent, reason
from bot.store.tables import inbound_events
from bot.tasks import stop_task

log = logging.getLogger(__name__)
_refused = OncePerKind(log)
MAX_ROWS_PER_COMMIT = 2000
POSTGRES_WRITERS = 2
# inbound_events' columns: an event that does not fit is kept as rejected without trying.
MAX_SOURCE = 16
MAX_KEY = 255
MAX_TYPE = 64
# How much of a rejected event's id and body its stored copy keeps.
REJECTED_KEY_COPY = 200
REJECTED_PAYLOAD_COPY = 20_000


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


Ids = dict[tuple[str, str], int]
Row = tuple[NewEvent, datetime]


def _fits(event: NewEvent) -> bool:
    return (
        len(event.source) <= MAX_SOURCE
        and len(event.event_key) <= MAX_KEY
        and len(event.event_type) <= MAX_TYPE
    )


@dataclass(frozen=True, slots=True)
class RejectedCopy:
    """What the inbox keeps of an event it cannot store as it came: ASCII JSON (no NUL, no surrogate)
    under a hashed key, so the provider's redeliveries collide on it."""

    source: str
    event_key: str
    event_type: str
    payload: str
    reason: str

    @classmethod
    def of(cls, event: NewEvent, why: str) -> RejectedCopy:
        digest = hashlib.sha256(f"{event.source}\n{event.event_key}".encode("utf-8", "surrogatepass"))
        copy = {
            "rejected": why,
            "event_key": event.event_key[:REJECTED_KEY_COPY],
            "event_type": event.event_type[:MAX_TYPE],
            "payload": event.payload[:REJECTED_PAYLOAD_COPY],
        }
        return cls(
            event.source[:MAX_SOURCE],
            "rejected:" + digest.hexdigest(),
            json.dumps(event.event_type[:MAX_TYPE], ensure_ascii=True).strip('"')[:MAX_TYPE],
            json.dumps(copy, ensure_ascii=True),
            json.dumps(why, ensure_ascii=True).strip('"'),
        )


class InboxWriter:
    """``store`` is the whole public API: the webhooks of every source (WhatsApp, Instagram, ...) call it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            count = POSTGRES_WRITERS if self._postgres else 1
            self._tasks = [
                asyncio.create_task(self._run(), name=f"inbox-writer-{index}") for index in range(count)
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            await stop_task(task)
        self._tasks = []

    async def store(self, events: list[NewEvent], received_at: datetime) -> list[int | None]:
        """Waits until ``events`` are committed; each one's id, or None when it was stored before."""
        if not events:
            return []
        self.start()
        done: asyncio.Future[list[int | None]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(events, received_at, done))
        return await done

    def _take(self, first: _Pending) -> list[_Pending]:
        batch = [first]
        rows = len(first.events)
        while not self._queue.empty() and rows < MAX_ROWS_PER_COMMIT:
            item = self._queue.get_nowait()
            batch.append(item)
            rows += len(item.events)
        return batch

    async def _run(self) -> None:
        connection: AsyncConnection | None = None
        try:
            while True:
                batch = self._take(await self._queue.get())
                reused = connection is not None
                try:
                    if connection is None:
                        connection = await self._engine.connect()
                    ids = await self._write_all(connection, batch)
                except Exception as error:  # noqa: BLE001 - every waiting request gets the error (a 503)
                    await self._drop(connection)
                    connection = None
                    if reused and not is_permanent(error):
                        # A connection the server closed while idle (a restart): once more on a new one.
                        try:
                            connection = await self._engine.connect()
                            ids = await self._write_all(connection, batch)
                        except Exception as again:  # noqa: BLE001 - the database is down: a 503
                            await self._drop(connection)
                            connection = None
                            self._fail(batch, again)
                            continue
                    else:
                        self._fail(batch, error)
                        continue
                for item in batch:
                    if not item.done.done():
                        item.done.set_result([ids.pop((e.source, e.event_key), None) for e in item.events])
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close())

    @staticmethod
    def _fail(batch: list[_Pending], error: Exception) -> None:
        log.warning("inbox commit failed for %d requests: %s", len(batch), type(error).__name__)
        for item in batch:
            if not item.done.done():
                item.done.set_exception(error)

    @staticmethod
    async def _drop(connection: AsyncConnection | None) -> None:
        """A broken connection is not used again."""
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
                await connection.close()

    async def _write_all(self, connection: AsyncConnection, batch: list[_Pending]) -> Ids:
        """Every event of the batch in one commit; when that fails for good, each on its own."""
        rows = list(_rows(batch))
        if not all(_fits(event) for event, _ in rows):
            for event, at in rows:
                if not _fits(event):
                    await self._reject(
                        connection, RejectedCopy.of(event, "id or type longer than its column"), at
                    )
            rows = [(event, at) for event, at in rows if _fits(event)]
        write = self._write_postgres if self._postgres else self._write_sqlite
        if not rows:
            return {}
        try:
            return await write(connection, rows)
        except Exception as error:
            if not is_permanent(error):
                raise  # the database itself: every waiting request gets a 503
            if len(rows) == 1:
                await self._reject(connection, RejectedCopy.of(rows[0][0], reason(error)), rows[0][1])
                return {}
            log.info("inbox commit of %d events refused (%s); one by one now", len(rows), reason(error))
        ids: Ids = {}
        for event, at in rows:
            try:
                ids.update(await write(connection, [(event, at)]))
            except Exception as error:
                if not is_permanent(error):
                    raise
                await self._reject(connection, RejectedCopy.of(event, reason(error)), at)
        return ids

    async def _reject(self, connection: AsyncConnection, copy: RejectedCopy, at: datetime) -> None:
        _refused.failed(
            ("refused", copy.source, copy.event_type), RuntimeError(copy.reason),
            "a %s %s event cannot be stored as it came; kept as rejected: %s",
            copy.source, copy.event_type, copy.reason,
        )  # fmt: skip
        values = {
            "source": copy.source,
            "event_key": copy.event_key,
            "event_type": copy.event_type,
            "payload": copy.payload,
            "received_at": at,
            "processed_at": at,
            "rejected_at": at,
            "last_error": copy.reason,
        }
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        statement = (
            dialect_insert(inbound_events)
            .values(values)
            .on_conflict_do_nothing(index_elements=["source", "event_key"])
        )
        async with connection.begin():
            await connection.execute(statement)

    @staticmethod
    def _columns(rows: Iterable[Row]) -> tuple[list[str], list[str], list[str], list[str], list[datetime]]:
        sources: list[str] = []
        keys: list[str] = []
        types: list[str] = []
        payloads: list[str] = []
        times: list[datetime] = []
        for event, at in rows:
            sources.append(event.source)
            keys.append(event.event_key)
            types.append(event.event_type)
            payloads.append(event.payload)
            times.append(at)
        return sources, keys, types, payloads, times

    async def _write_postgres(self, connection: AsyncConnection, rows: list[Row]) -> Ids:
        # asyncpg itself: one prepared statement whatever the batch size, one round trip, one commit. Outside
        # a transaction (this connection never opens one through SQLAlchemy but in _reject, which commits
        # it) the statement is its own: all or nothing, committed before asyncpg returns its rows, with no
        # BEGIN and COMMIT round trips.
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        columns = self._columns(rows)
        found = await driver.fetch(_UNNEST_INSERT, *columns)
        return {(row[1], row[2]): int(row[0]) for row in found}

    async def _write_sqlite(self, connection: AsyncConnection, rows: list[Row]) -> Ids:
        sources, keys, types, payloads, times = self._columns(rows)
        values = [
            {"source": s, "event_key": k, "event_type": t, "payload": p, "received_at": at}
            for s, k, t, p, at in zip(sources, keys, types, payloads, times, strict=True)
        ]
        async with connection.begin():
            result = await connection.execute(
                sqlite.insert(inbound_events)
                .values(values)
                .on_conflict_do_nothing(index_elements=["source", "event_key"])
                .returning(inbound_events.c.id, inbound_events.c.source, inbound_events.c.event_key)
            )
            return {(row.source, row.event_key): int(row.id) for row in result}


def _rows(batch: list[_Pending]) -> Iterator[Row]:
    """Each event once (a batch may carry two deliveries of one), with when its request came."""
    seen: set[tuple[str, str]] = set()
    for item in batch:
        for event in item.events:
            identity = (event.source, event.event_key)
            if identity not in seen:
                seen.add(identity)
                yield event, item.received_at


_UNNEST_INSERT = (
    "INSERT INTO inbound_events (source, event_key, event_type, payload, received_at) "
    "SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::text[], $5::timestamptz[]) "
    "ON CONFLICT (source, event_key) DO NOTHING RETURNING id, source, event_key"
)
