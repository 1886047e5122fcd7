"""Engines for the two databases: SQLite (embedded default) and Postgres (Supabase or any server)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Supabase's transaction pooler (PgBouncer in transaction mode) cannot keep prepared statements.
TRANSACTION_POOLER_PORT = 6543


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
        return create_async_engine(
            url,
            pool_size=pool_size,
            pool_pre_ping=True,
            connect_args=connect_args,
            prepared_statement_cache_size=0,
        )
    return create_async_engine(url, pool_size=pool_size, pool_pre_ping=True, connect_args=connect_args)


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
