"""Delivery statuses applied from the inbox, on SQLite and on a real Postgres."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.domain.outgoing import OutgoingMessage
from bot.sandbox import whatsapp_payloads as payloads
from bot.services import vendors as vendor_service
from bot.store.tables import outbox_messages
from bot.store.uow import UnitOfWorkFactory
from bot.whatsapp.clients import SANDBOX_PHONE_ID
from bot.whatsapp.dispatch import process_status_events
from tests.conftest import NOW
from tests.payment_support import CUSTOMER, vendor_with_order


async def outbox_row(uow_factory: UnitOfWorkFactory) -> tuple[str, str, str | None]:
    async with uow_factory() as uow:
        query = select(outbox_messages.c.status, outbox_messages.c.send_mode, outbox_messages.c.last_error)
        row = (await uow.connection.execute(query)).one()
        return row.status, row.send_mode, row.last_error


async def test_a_131047_status_applied_a_second_time_does_not_fail_the_queued_template_resend(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await vendor_with_order(uow_factory)
    settings = [("template.payment_request", "payment_link")]
    await vendor_service.change_settings(uow_factory, None, settings, None, NOW)
    async with uow_factory() as uow:
        vendor = (await uow.vendors.all())[0]
        await uow.outbox.add(OutgoingMessage(vendor.id, CUSTOMER, "payment_request", "fr", "Lien"), NOW)
        message_id = (await uow.connection.execute(select(outbox_messages.c.id))).scalar_one()
        await uow.outbox.mark_sent(message_id, "wamid.FIRST", "auto", NOW)
        body = payloads.status(
            SANDBOX_PHONE_ID, "wamid.FIRST", "failed", CUSTOMER, errors=[payloads.status_error(131047)]
        )
        event_id = await uow.inbox.add("whatsapp", "wamid.FIRST:failed", "status", json.dumps(body), NOW)
        await uow.commit()
    assert event_id is not None
    woken: list[bool] = []
    await process_status_events(
        uow_factory, lambda: NOW, lambda: woken.append(True), [(event_id, json.dumps(body))]
    )
    assert await outbox_row(uow_factory) == ("pending", "template", "131047: resent as template")
    # The recovery pass read the event before the processor marked it, and applies it once more.
    await process_status_events(uow_factory, lambda: NOW, lambda: None, [(event_id, json.dumps(body))])
    assert await outbox_row(uow_factory) == ("pending", "template", "131047: resent as template")
    assert woken == [True]
