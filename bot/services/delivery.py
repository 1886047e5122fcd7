"""WhatsApp's delivery statuses for what we sent: ticks, and failures that need another way."""

from __future__ import annotations

import asyncio
import logging

from bot.services.clock import Clock
from bot.services.messages import delivery_failure_notes
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
RE_ENGAGEMENT = 131047
# A status can overtake the sender's own record of the send: look again a few times before giving up.
LOOKUP_TRIES = 5
LOOKUP_PAUSE_SECONDS = 0.2


class StatusBeforeSend(Exception):
    """A status for a message not yet recorded as sent: kept in the inbox and tried again later."""


async def apply_status(
    uow_factory: UnitOfWorkFactory, clock: Clock, wamid: str, status: str, error_code: int | None
) -> str:
    """Records a status; a 131047 failure (outside the 24-hour window) queues the message again as the
    vendor's approved template. Returns what was done, for logs and tests."""
    for _ in range(LOOKUP_TRIES):
        async with uow_factory() as uow:
            if await uow.outbox.by_wamid(wamid) is not None:
                break
        await asyncio.sleep(LOOKUP_PAUSE_SECONDS)
    else:
        raise StatusBeforeSend(wamid)
    now = clock()
    async with uow_factory() as uow:
        row = await uow.outbox.by_wamid(wamid)
        if row is None:  # pragma: no cover - found just above
            return "unknown"
        if status in {"sent", "delivered", "read"}:
            moved = await uow.outbox.advance_status(row.id, status, now)
            await uow.commit()
            return status if moved else "unchanged"
        if status != "failed" or row.status == "failed":
            return "unchanged"
        if error_code == RE_ENGAGEMENT and row.send_mode != "template":
            vendor = await uow.vendors.get(row.vendor_id)
            if vendor is not None and row.kind in vendor.whatsapp_templates:
                await uow.outbox.retry_at(
                    row.id, now, now, "131047: resent as template", send_mode="template"
                )
                await uow.commit()
                return "resend_as_template"
        reason = "no_template" if error_code == RE_ENGAGEMENT else f"failed status {error_code}"
        await uow.outbox.mark_failed(row.id, reason, now)
        if not row.kind.startswith("vendor_"):
            vendor = await uow.vendors.get(row.vendor_id)
            locale = vendor.locale if vendor is not None else row.locale
            for note in await delivery_failure_notes(uow, row, locale, reason):
                await uow.outbox.add(note, now)
        await uow.commit()
        log.warning("message %s failed at WhatsApp: %s", row.id, reason)
        return "failed"
