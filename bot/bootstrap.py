"""Getting a database ready to serve: the schema, and the first vendor from the environment."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.services.vendors import NewVendor, ensure_vendor
from bot.store import migrate
from bot.store.database import async_url, is_sqlite
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


class SchemaOutOfDate(Exception):
    """The Postgres schema is behind this version of the bot: ``bot migrate`` brings it up."""


async def prepare_schema(engine: AsyncEngine, settings: Settings) -> None:
    """SQLite, the embedded default, is migrated on the spot; a shared Postgres database is migrated
    on purpose with ``bot migrate``, so here it is only checked."""
    if is_sqlite(async_url(settings.database_url)):
        await migrate.upgrade(engine)
        return
    current = await migrate.current_revision(engine)
    if current != migrate.head_revision():
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing'}, this bot needs {migrate.head_revision()}: "
            "run `bot migrate`"
        )


def vendor_from_settings(settings: Settings) -> NewVendor:
    return NewVendor(
        name=settings.vendor_name,
        admin_phones=settings.admin_phones,
        currency=settings.vendor_currency,
        locale=settings.vendor_locale,
        timezone=settings.vendor_timezone,
        provider=settings.effective_provider,
        phone_number_id=settings.whatsapp_phone_id,
        deposit_percent=settings.default_deposit_percent,
        reminder_schedule=settings.reminder_offsets,
        quiet_hours=settings.quiet_hours,
    )


async def ensure_first_vendor(uow_factory: UnitOfWorkFactory, settings: Settings, now: datetime) -> None:
    if await ensure_vendor(uow_factory, vendor_from_settings(settings), now):
        log.info("created vendor %r from the VENDOR_* settings", settings.vendor_name)
        if not settings.admin_phones:
            log.warning("vendor %r has no admin phone: set VENDOR_ADMIN_PHONES", settings.vendor_name)
