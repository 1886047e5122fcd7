"""``bot migrate``: the schema of DATABASE_URL created or upgraded."""

from __future__ import annotations

import argparse

from bot.config import Settings
from bot.store import migrate
from bot.store.database import create_engine


async def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        before = await migrate.current_revision(engine)
        await migrate.upgrade(engine)
        after = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    was = "already up to date" if before == after else f"was {before or 'empty'}"
    print(f"schema at {after} ({was})")
    return 0
