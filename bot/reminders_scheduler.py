"""The periodic reminder sweep inside `bot serve`, run by APScheduler: coalesced, one run at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services import reminders
from bot.services.clock import Clock
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


def reminder_scheduler(
    uow: UnitOfWorkFactory, clock: Clock, interval_seconds: float, notify_sender: Callable[[], None]
) -> AsyncIOScheduler:
    def batch_queued(_count: int) -> None:
        notify_sender()

    async def sweep_once() -> None:
        try:
            queued = await reminders.sweep_all(uow, clock, batch_queued)
        except Exception:  # noqa: BLE001 - the next run tries again
            log.exception("reminder sweep failed")
            return
        if queued:
            log.info("%d reminders queued", queued)

    scheduler = AsyncIOScheduler(timezone="UTC")
    # coalesce: after a pause, one run rather than one per missed interval; max_instances: never two at once.
    scheduler.add_job(
        sweep_once, "interval", seconds=interval_seconds, coalesce=True, max_instances=1, id="reminder-sweep"
    )
    return scheduler
