from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.domain.deposit import AskKind
from bot.services import orders as order_service, payments, vendors as vendor_service
from bot.store import migrate
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, admin_dsn, create_postgres_database, drop_postgres_database
from tests.payment_support import deps_for

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


# A stand-in for what Supabase provides: the auth schema with auth.uid() read from the request's JWT
# claims (Supabase's own definition), the anon and authenticated roles, and their grants on public tables.
SUPABASE_STAND_IN = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN;
  END IF;
END $$;
CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated;
GRANT USAGE ON SCHEMA public TO anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated;
"""
READ_TABLES = (
    "vendors", "customers", "commandes", "payment_transactions", "payment_links", "reminders", "invoices",
    "refunds",
)  # fmt: skip


async def supabase_shaped(connection: asyncpg.Connection) -> None:
    await connection.execute(SUPABASE_STAND_IN)
    await apply_supabase_sql(connection)
    for path in sorted(SUPABASE.glob(f"*{SUPABASE_ONLY}*.sql")):
        await connection.execute(path.read_text(encoding="utf-8"))


@pytest.mark.postgres
async def test_the_supabase_only_policies_apply_on_top_of_the_schema(
    empty_postgres: asyncpg.Connection,
) -> None:
    await supabase_shaped(empty_postgres)
    policies = await empty_postgres.fetch("SELECT DISTINCT tablename FROM pg_policies ORDER BY tablename")
    assert [p["tablename"] for p in policies] == sorted(READ_TABLES)


async def _counts(connection: asyncpg.Connection, role: str, user: uuid.UUID | None) -> dict[str, int]:
    """What ``role`` signed in as ``user`` reads of each table, through row level security."""
    async with connection.transaction():
        await connection.execute(f"SET LOCAL ROLE {role}")
        await connection.execute(
            "SELECT set_config('request.jwt.claim.sub', $1, true)", "" if user is None else str(user)
        )
        return {t: await connection.fetchval(f"SELECT count(*) FROM {t}") for t in READ_TABLES}


@pytest.mark.postgres
async def test_a_signed_in_supabase_user_reads_its_vendors_rows_and_nothing_else(
    empty_postgres: asyncpg.Connection,
) -> None:
    await supabase_shaped(empty_postgres)
    name = await empty_postgres.fetchval("SELECT current_database()")
    engine = create_engine(admin_dsn(name))
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    try:
        uow = UnitOfWorkFactory(engine)
        deps = deps_for(uow)
        for shop, phone in (("Mine", "+33611111111"), ("Theirs", "+33622222222")):
            await vendor_service.add_vendor(
                uow, vendor_service.NewVendor(name=shop, admin_phones=[phone]), NOW
            )
            # One order before the owner is set (backfilled), one after.
            early = await order_service.create_order(uow, shop, "+33699887766", "150", "", True, NOW)
            await payments.request_payment(deps, shop, early.number, AskKind.FULL)
        await vendor_service.change_settings(uow, "Mine", [("owner_user_id", str(owner))], None, NOW)
        later = await order_service.create_order(uow, "Mine", "+33688888888", "80", "", True, NOW)
        outcome = await payments.request_payment(deps, "Mine", later.number, AskKind.FULL)
        async with uow() as work:
            await work.invoices.add_invoice(
                outcome.order.vendor_id, outcome.transaction.id, "icount", "invrec", "1001", None,
                outcome.transaction.amount, NOW,
            )  # fmt: skip
            await work.commit()
        async with uow() as work:
            [mine] = await work.vendors.by_name("Mine")
            rows = {t.id: t for t in await work.transactions.for_order(outcome.order.id)}
        assert mine.owner_user_id == owner and all(t.user_id == owner for t in rows.values())
    finally:
        await engine.dispose()
    seen = await _counts(empty_postgres, "authenticated", owner)
    assert seen == {
        "vendors": 1, "customers": 2, "commandes": 2, "payment_transactions": 2, "payment_links": 2,
        "reminders": 6, "invoices": 1, "refunds": 0,
    }  # fmt: skip
    assert set((await _counts(empty_postgres, "authenticated", stranger)).values()) == {0}
    assert set((await _counts(empty_postgres, "anon", None)).values()) == {0}
    everything = {t: await empty_postgres.fetchval(f"SELECT count(*) FROM {t}") for t in READ_TABLES}
    assert everything["commandes"] == 3 and everything["vendors"] == 2, "the owner connection sees all"


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
