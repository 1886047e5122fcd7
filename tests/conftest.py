"""Shared fixtures: databases (SQLite and a real Postgres), units of work, a fixed clock."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import migrate
from bot.store.database import create_engine
from bot.store.tables import metadata
from bot.store.uow import UnitOfWorkFactory

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


class FrozenClock:
    """The app's clock in a test: ``NOW`` (or ``start``) until the test moves it. Never today's date."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


class TickingClock:
    """Starts at ``NOW`` and runs at the pace of the process's monotonic clock: an app that schedules
    retries a few seconds ahead still sees them come due, and no test ever sees today's date."""

    def __init__(self, start: datetime = NOW) -> None:
        self._start = start
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin)


def admin_dsn(database: str | None = None) -> str:
    """The asyncpg DSN of the test server, on ``database`` (default: the one in TEST_DATABASE_URL)."""
    base = TEST_DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://")
    if database is None:
        return base
    return base.rsplit("/", 1)[0] + "/" + database


async def _postgres_answers() -> str | None:
    try:
        connection = await asyncpg.connect(admin_dsn(), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Skips Postgres tests when no server answers, or fails them under REQUIRE_POSTGRES=1 (CI)."""
    problem = asyncio.run(_postgres_answers())
    if problem is not None:
        message = f"no PostgreSQL at {TEST_DATABASE_URL}: {problem}"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    return TEST_DATABASE_URL


async def create_postgres_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin_dsn())
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return admin_dsn(name)


async def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(admin_dsn())
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_server: str) -> Iterator[str]:
    """One migrated Postgres database for the session; tests empty it before use."""
    url = asyncio.run(create_postgres_database("bot_test"))

    async def setup() -> None:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()

    asyncio.run(setup())
    yield url
    asyncio.run(drop_postgres_database(url))


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"

    async def setup() -> None:
        engine = create_engine(f"sqlite:///{path}")
        await migrate.upgrade(engine)
        await engine.dispose()

    asyncio.run(setup())
    return path


async def _empty_postgres(engine: AsyncEngine) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store suite runs once on SQLite and once on a real Postgres."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("migrated_sqlite_template")
        target = tmp_path / "bot.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("migrated_postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=25)
    if engine.dialect.name == "postgresql":
        await _empty_postgres(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(engine)
