"""Alembic environment. Online: runs on the connection that ``bot.store.migrate`` hands over.
Offline (``--sql``): writes Postgres SQL, which is how ``supabase/migrations`` is produced."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.store.tables import metadata

config = context.config


def run_offline() -> None:
    context.configure(
        dialect_name="postgresql",
        target_metadata=metadata,
        literal_binds=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online(config.attributes["connection"])
