"""Schema migrations: ``upgrade`` a live database, or render the Postgres SQL for Supabase."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Creates or upgrades the schema; a database already at ``revision`` is left as it is."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError("no migrations found")
    return head


@dataclass(frozen=True, slots=True)
class SupabaseMigration:
    filename: str
    sql: str


def supabase_migrations() -> list[SupabaseMigration]:
    """One Postgres SQL file per Alembic revision, named as the Supabase CLI expects."""
    scripts = ScriptDirectory.from_config(alembic_config())
    files = []
    for script in reversed(list(scripts.walk_revisions())):
        buffer = io.StringIO()
        config = alembic_config()
        config.output_buffer = buffer
        start = script.down_revision or "base"
        command.upgrade(config, f"{start}:{script.revision}", sql=True)
        slug = re.sub(r"[^a-z0-9]+", "_", (script.doc or script.revision).lower()).strip("_")
        version = getattr(script.module, "supabase_version", script.revision)
        files.append(SupabaseMigration(f"{version}_{slug}.sql", buffer.getvalue()))
    return files


def write_supabase_migrations(folder: Path) -> list[Path]:
    """Writes ``supabase/migrations/*.sql`` from the Alembic revisions (``python -m bot.store.migrate``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for migration in supabase_migrations():
        path = folder / migration.filename
        path.write_text(migration.sql, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("supabase/migrations")
    for path in write_supabase_migrations(target):
        sys.stdout.write(f"wrote {path}\n")
