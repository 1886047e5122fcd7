"""Engines for the two databases: SQLite (embedded default) and Postgres (Supabase or any server)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Supabase's transaction pooler (PgBouncer in transaction mode) cannot keep prepared statements.
TRANSACTION_POOLER_PORT = 6543
# A pooled connection idle longer than this is pinged before use (a restarted server, a pooler's idle
# timeout); one used a moment ago is not: asyncpg's ping is three round trips on every checkout.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "idle_since"


def async_url(database_url: str) -> URL:
    """The URL with its async driver: ``sqlite:///x.db`` -> aiosqlite, ``postgresql://`` (or the
    ``postgres://`` form some dashboards give) -> asyncpg. ``sslmode`` becomes asyncpg's ``ssl``."""
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        query = dict(url.query)
        if "sslmode" in query:
            query["ssl"] = query.pop("sslmode")
        return url.set(drivername="postgresql+asyncpg", query=query)
    raise ValueError(f"unsupported database: {backend}")


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    url = async_url(database_url)
    if is_sqlite(url):
        return _sqlite_engine(url)
    connect_args: dict[str, Any] = {"server_settings": {"application_name": "whatsapp-payment-bot"}}
    if url.port == TRANSACTION_POOLER_PORT or url.query.get("pgbouncer") == "true":
        url = url.difference_update_query(["pgbouncer"])
        connect_args["statement_cache_size"] = 0
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            pool_use_lifo=True,
            connect_args=connect_args,
            prepared_statement_cache_size=0,
        )
    else:
        engine = create_async_engine(url, pool_size=pool_size, pool_use_lifo=True, connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """``pool_pre_ping`` for connections that sat idle only. The pool is LIFO, so a busy process keeps
    reusing connections it just had; one that breaks in use anyway (the server restarted within the
    second) fails that unit of work with a disconnect, which invalidates the whole pool, and the caller's
    own retry (the inbox's lease, Meta's redelivery) gets fresh connections."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # fresh, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # As pre-ping does: drop this and every older connection, the pool connects anew.
            raise exc.InvalidatePoolError("pooled connection lost while idle") from error


def _sqlite_engine(url: URL) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock at BEGIN: two writers then queue on busy_timeout instead of failing
        # with "database is locked" when a read lock cannot be upgraded.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
