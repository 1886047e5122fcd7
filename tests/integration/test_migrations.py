from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.store import migrate
from bot.store.database import create_engine
from tests.conftest import admin_dsn, create_postgres_database, drop_postgres_database

SUPABASE = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
SUPABASE_ONLY = "supabase_only"
SOURCE_COLUMNS = [
    "id",
    "commande_id",
    "user_id",
    "montant",
    "devise",
    "type",
    "label",
    "payment_method",
    "payment_link_id",
    "status",
    "paid_at",
    "created_at",
    "updated_at",
]


def committed_generated_files() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(SUPABASE.glob("*.sql"))
        if SUPABASE_ONLY not in path.name
    }


def test_the_committed_supabase_sql_is_what_the_migrations_generate() -> None:
    generated = {m.filename: m.sql for m in migrate.supabase_migrations()}
    assert generated == committed_generated_files(), "run: python -m bot.store.migrate"


@pytest.fixture
async def empty_postgres(postgres_server: str) -> AsyncIterator[asyncpg.Connection]:
    url = await create_postgres_database("bot_supabase")
    connection = await asyncpg.connect(url)
    try:
        yield connection
    finally:
        await connection.close()
        await drop_postgres_database(url)


async def apply_supabase_sql(connection: asyncpg.Connection) -> None:
    for sql in committed_generated_files().values():
        await connection.execute(sql)


@pytest.mark.postgres
async def test_the_supabase_sql_builds_the_source_tables_on_an_empty_postgres(
    empty_postgres: asyncpg.Connection,
) -> None:
    await apply_supabase_sql(empty_postgres)
    columns = await empty_postgres.fetch(
        """SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale,
                  character_maximum_length, column_default, is_nullable
           FROM information_schema.columns WHERE table_name = 'payment_transactions'
           ORDER BY ordinal_position"""
    )
    by_name = {c["column_name"]: c for c in columns}
    assert [c["column_name"] for c in columns][: len(SOURCE_COLUMNS)] == SOURCE_COLUMNS
    assert (by_name["montant"]["numeric_precision"], by_name["montant"]["numeric_scale"]) == (10, 2)
    assert by_name["montant"]["is_nullable"] == "NO"
    assert by_name["devise"]["character_maximum_length"] == 3
    assert by_name["devise"]["column_default"].startswith("'EUR'")
    assert by_name["type"]["udt_name"] == "payment_transaction_type"
    assert by_name["status"]["udt_name"] == "payment_transaction_status"
    assert by_name["status"]["column_default"].startswith("'pending'")
    assert by_name["payment_method"]["character_maximum_length"] == 50
    assert by_name["paid_at"]["data_type"] == "timestamp with time zone"
    for extra in ("vendor_id", "provider", "provider_reference", "is_guarantee"):
        assert extra in by_name
    references = await empty_postgres.fetch(
        """SELECT kcu.column_name, ccu.table_name AS target
           FROM information_schema.table_constraints tc
           JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name
           JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name
           WHERE tc.table_name = 'payment_transactions' AND tc.constraint_type = 'FOREIGN KEY'"""
    )
    targets = {r["column_name"]: r["target"] for r in references}
    assert targets["commande_id"] == "commandes"
    assert targets["payment_link_id"] == "payment_links"
    enum_values = await empty_postgres.fetch(
        "SELECT unnest(enum_range(NULL::payment_transaction_type))::text AS v"
    )
    assert [r["v"] for r in enum_values] == ["acompte", "solde", "partiel", "total"]


@pytest.mark.postgres
async def test_the_supabase_sql_carries_the_check_payment_logic_constraint(
    empty_postgres: asyncpg.Connection,
) -> None:
    await apply_supabase_sql(empty_postgres)
    definition = await empty_postgres.fetchval(
        """SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
           JOIN pg_class t ON t.oid = c.conrelid
           WHERE t.relname = 'commandes' AND c.conname = 'check_payment_logic'"""
    )
    assert definition is not None
    assert "payment_type IS NOT NULL" in definition
    assert "'paid'" in definition


@pytest.mark.postgres
async def test_every_table_of_the_supabase_sql_has_row_level_security(
    empty_postgres: asyncpg.Connection,
) -> None:
    await apply_supabase_sql(empty_postgres)
    tables = await empty_postgres.fetch(
        """SELECT c.relname, c.relrowsecurity FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind = 'r'"""
    )
    assert len(tables) >= 12
    assert [t["relname"] for t in tables if not t["relrowsecurity"]] == []


@pytest.mark.postgres
async def test_the_supabase_only_policies_apply_on_top_of_the_schema(
    empty_postgres: asyncpg.Connection,
) -> None:
    # A stand-in for what Supabase provides: the auth schema and the authenticated role.
    await empty_postgres.execute(
        """DO $$ BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
               CREATE ROLE authenticated NOLOGIN;
             END IF;
           END $$;
           CREATE SCHEMA auth;
           CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS 'SELECT NULL::uuid';"""
    )
    await apply_supabase_sql(empty_postgres)
    for path in sorted(SUPABASE.glob(f"*{SUPABASE_ONLY}*.sql")):
        await empty_postgres.execute(path.read_text(encoding="utf-8"))
    policies = await empty_postgres.fetch("SELECT tablename, roles FROM pg_policies ORDER BY tablename")
    assert [p["tablename"] for p in policies] == ["commandes", "payment_transactions"]


@pytest.mark.postgres
async def test_a_database_built_from_the_supabase_sql_needs_no_further_migration(
    empty_postgres: asyncpg.Connection,
) -> None:
    await apply_supabase_sql(empty_postgres)
    name = await empty_postgres.fetchval("SELECT current_database()")
    engine = create_engine(admin_dsn(name))
    try:
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_the_online_migration_enables_row_level_security_too(migrated_postgres_url: str) -> None:
    connection = await asyncpg.connect(migrated_postgres_url)
    try:
        without = await connection.fetch(
            """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT c.relrowsecurity"""
        )
    finally:
        await connection.close()
    assert without == []


async def test_sqlite_migrates_up_down_and_up_again(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await migrate.upgrade(engine)
        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()
