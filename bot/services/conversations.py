"""An admin's chat flow in progress (a typed amount awaited, a confirmation pending), kept in the store so
a restart or a second process loses nothing. A step is kept per flow and order: steps on two orders (which
two processes may handle in either order) never overwrite each other."""

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
        await uow.conversations.start(
            vendor_id, phone, flow, state, now + lifetime, now, subject=subject_of(state.get("order"))
        )
        await uow.commit()


def subject_of(order: object) -> str:
    """The order a step is about, as its key ("" for a step about none)."""
    return "" if order is None else str(order)


async def current(
    uow_factory: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str, now: datetime
) -> Conversation | None:
    async with uow_factory() as uow:
        return await uow.conversations.current(vendor_id, phone, now)


async def take(
    uow_factory: UnitOfWorkFactory,
    vendor_id: uuid.UUID,
    phone: str,
    flow: str,
    now: datetime,
    order: int | None = None,
) -> Conversation | None:
    """The step (on ``order``), once: a second click on the same confirmation finds nothing."""
    subject = None if order is None else subject_of(order)
    async with uow_factory() as uow:
        taken = await uow.conversations.take(vendor_id, phone, flow, now, subject)
        await uow.commit()
        return taken


async def clear(
    uow_factory: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str, order: int | None = None
) -> None:
    """Drops the admin's steps (only those on ``order`` when given)."""
    async with uow_factory() as uow:
        await uow.conversations.clear(vendor_id, phone, None if order is None else subject_of(order))
        await uow.commit()
