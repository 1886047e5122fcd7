"""An admin's chat flow in progress (a typed amount awaited, a confirmation pending), kept in the store so
a restart or a second process loses nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from bot.store.repositories.conversations import Conversation
from bot.store.uow import UnitOfWorkFactory


async def start(
    uow_factory: UnitOfWorkFactory,
    vendor_id: uuid.UUID,
    phone: str,
    flow: str,
    state: dict[str, Any],
    now: datetime,
    lifetime: timedelta,
) -> None:
    async with uow_factory() as uow:
        await uow.conversations.start(vendor_id, phone, flow, state, now + lifetime, now)
        await uow.commit()


async def current(
    uow_factory: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str, now: datetime
) -> Conversation | None:
    async with uow_factory() as uow:
        return await uow.conversations.current(vendor_id, phone, now)


async def take(
    uow_factory: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str, flow: str, now: datetime
) -> Conversation | None:
    """The step, once: a second click on the same confirmation finds nothing."""
    async with uow_factory() as uow:
        taken = await uow.conversations.take(vendor_id, phone, flow, now)
        await uow.commit()
        return taken


async def clear(uow_factory: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str) -> None:
    async with uow_factory() as uow:
        await uow.conversations.clear(vendor_id, phone)
        await uow.commit()
