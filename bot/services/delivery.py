"""WhatsApp's delivery statuses for what we sent: ticks, and failures that need another way."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.domain.outgoing import TICKS, OutboxStatus, tracked_rows
from bot.services.messages import delivery_failure_notes
from bot.store.repositories.outbox import OutboxRow
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)
RE_ENGAGEMENT = 131047


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    wamid: str
    status: str
    error_code: int | None = None
    # Our `send_tracker` echoed by WhatsApp, and who the message went to: they name a send not recorded.
    tracker: str | None = None
    recipient: str | None = None


async def apply_statuses(uow: UnitOfWork, statuses: list[DeliveryStatus], now: datetime) -> list[str]:
    """Applies statuses inside the caller's unit of work, ticks in a few statements whatever their
    number; returns what each did. A status for a message not recorded yet ("unknown") is replayed by
    ``replay_early_statuses`` once the sender records the send."""
    wamids = list({item.wamid for item in statuses})
    rows = await uow.outbox.by_wamids(wamids)
    if await _adopt_unrecorded(uow, [item for item in statuses if item.wamid not in rows], now):
        rows = await uow.outbox.by_wamids(wamids)
    outcomes = []
    ticks: dict[OutboxStatus, list[int]] = {status: [] for status in TICKS}
    for item in statuses:
        row = rows.get(item.wamid)
        if row is None:
            outcomes.append("unknown")
        elif item.status in TICKS:
            ticks[OutboxStatus(item.status)].append(row.id)
            outcomes.append(item.status)
        elif item.status == OutboxStatus.FAILED and row.status in TICKS:
            # Only a message out at WhatsApp can fail there: one queued again (a 131047 resend as
            # template) or being sent is not failed by a late report on its earlier attempt.
            outcomes.append(await _failed(uow, row, item.error_code, now))
        else:
            outcomes.append("unchanged")
    for status in TICKS:
        await uow.outbox.advance_many(ticks[status], status, now)
    return outcomes


async def _adopt_unrecorded(uow: UnitOfWork, statuses: list[DeliveryStatus], now: datetime) -> bool:
    """A status for a send never recorded (the process died between WhatsApp's answer and its record)
    names its outbox rows by the tracker: they are recorded as sent with its wamid, so the release of
    stale claims does not send them again. True when any was."""
    adopted = False
    for item in statuses:
        ids = tracked_rows(item.tracker)
        if ids and item.recipient is not None:
            adopted |= await uow.outbox.adopt_send(ids[0], ids[1:], item.wamid, item.recipient, now)
    return adopted


async def _failed(uow: UnitOfWork, row: OutboxRow, error_code: int | None, now: datetime) -> str:
    """A 131047 failure (outside the 24-hour window) queues the message again as the vendor's approved
    template; other failures, or no template, fail it and tell the vendor."""
    vendor = await uow.vendors.get(row.vendor_id)
    template_exists = vendor is not None and row.kind in vendor.whatsapp_templates
    if error_code == RE_ENGAGEMENT and row.send_mode != "template" and template_exists:
        await uow.outbox.retry_at(row.id, now, now, "131047: resent as template", send_mode="template")
        return "resend_as_template"
    reason = "no_template" if error_code == RE_ENGAGEMENT else f"failed status {error_code}"
    await uow.outbox.mark_failed(row.id, reason, now)
    if not row.kind.startswith("vendor_"):
        locale = vendor.locale if vendor is not None else row.locale
        for note in await delivery_failure_notes(uow, row, locale, reason):
            await uow.outbox.add(note, now)
    log.warning("message %s failed at WhatsApp: %s", row.id, reason)
    return "failed"


async def replay_early_statuses(uow: UnitOfWork, wamid: str, now: datetime) -> list[str]:
    """Statuses that overtook the sender's record of this send (stored, unmatched) are applied now."""
    early = await uow.inbox.status_events_for(wamid)
    return await apply_statuses(uow, [DeliveryStatus(wamid, status, code) for status, code in early], now)
