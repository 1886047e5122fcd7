"""The inbox writer's shared commit: on Postgres one autocommit statement (no BEGIN and COMMIT round
trips), committed by the time ``store`` returns; on SQLite a transaction as before."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.database import create_engine
from bot.store.inbox_writer import InboxWriter, NewEvent
from bot.store.tables import inbound_events

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _count_elsewhere(database_url: str) -> int:
    """Rows seen by a connection of another engine: only committed ones."""
    other = create_engine(database_url, pool_size=1)
    try:
        async with other.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(inbound_events))).scalar())
    finally:
        await other.dispose()


async def test_events_are_committed_for_every_other_connection_once_store_returns(
    database_url: str, engine: AsyncEngine
) -> None:
    writer = InboxWriter(engine)
    try:
        batches = [
            [NewEvent("whatsapp", f"wamid.{n}.{i}", "message", "{}") for i in range(3)] for n in range(20)
        ]
        results = await asyncio.gather(*(writer.store(batch, AT) for batch in batches))
        assert all(event_id is not None for ids in results for event_id in ids)
        assert await _count_elsewhere(database_url) == 60
        again = await writer.store([NewEvent("whatsapp", "wamid.0.0", "message", "{}")], AT)
        assert again == [None]  # a redelivery collides, in the same autocommit statement
    finally:
        await writer.stop()


async def test_a_shared_commit_leaves_no_transaction_open_on_its_connection(
    database_url: str, engine: AsyncEngine
) -> None:
    writer = InboxWriter(engine)
    try:
        await writer.store([NewEvent("whatsapp", "wamid.open", "message", "{}")], AT)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as probe:
                raw = await probe.get_raw_connection()
                idle_in_transaction = await raw.driver_connection.fetchval(  # type: ignore[union-attr]
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'idle in transaction'"
                )
            assert idle_in_transaction == 0
        assert await _count_elsewhere(database_url) == 1
    finally:
        await writer.stop()
