"""The Postgres pool pings only connections that sat idle (not one per unit of work): one the server
dropped while idle is replaced before use, and one used a moment ago is handed out without a round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import database
from bot.store.database import create_engine
from tests.conftest import admin_dsn

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_engine(migrated_postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_postgres_url, pool_size=2)
    yield engine
    await engine.dispose()


class Pings:
    def __init__(self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        dialect = engine.sync_engine.dialect
        ping = dialect.do_ping

        def counted(dbapi_connection: Any) -> bool:
            self.count += 1
            return bool(ping(dbapi_connection))

        monkeypatch.setattr(dialect, "do_ping", counted)


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_used_a_moment_ago_is_reused_without_a_ping(
    pg_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = Pings(pg_engine, monkeypatch)
    first = await backend_pid(pg_engine)
    assert [await backend_pid(pg_engine) for _ in range(5)] == [first] * 5  # LIFO: the same one
    assert pings.count == 0


async def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(
    pg_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = Pings(pg_engine, monkeypatch)
    dropped = await backend_pid(pg_engine)
    admin = await asyncpg.connect(admin_dsn())
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", dropped)
    finally:
        await admin.close()
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it sat idle a while
    replaced = await backend_pid(pg_engine)  # no error: the ping found it gone and the pool reconnected
    assert replaced != dropped
    assert pings.count == 1
