"""Delivery statuses applied from the inbox, on SQLite and on a real Postgres."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bot.domain.outgoing import OutgoingMessage, send_tracker
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


async def claimed_notes(uow_factory: UnitOfWorkFactory, count: int) -> list[int]:
    """``count`` messages to the customer, claimed "sending" by a sender that then died."""
    await vendor_with_order(uow_factory)
    async with uow_factory() as uow:
        vendor = (await uow.vendors.all())[0]
        for index in range(count):
            await uow.outbox.add(OutgoingMessage(vendor.id, CUSTOMER, "vendor_note", "fr", f"N{index}"), NOW)
        ids = await uow.outbox.claim_due(NOW, 100)
        await uow.commit()
    return sorted(ids)


async def statuses_applied(uow_factory: UnitOfWorkFactory, *bodies: dict[str, object]) -> None:
    events = []
    async with uow_factory() as uow:
        for index, body in enumerate(bodies):
            event_id = await uow.inbox.add("whatsapp", f"status-{index}", "status", json.dumps(body), NOW)
            assert event_id is not None
            events.append((event_id, json.dumps(body)))
        await uow.commit()
    await process_status_events(uow_factory, lambda: NOW, lambda: None, events)


async def outbox_states(uow_factory: UnitOfWorkFactory) -> list[tuple[str, str | None, int | None]]:
    async with uow_factory() as uow:
        query = select(
            outbox_messages.c.status, outbox_messages.c.wamid, outbox_messages.c.coalesced_into
        ).order_by(outbox_messages.c.id)
        return [(r.status, r.wamid, r.coalesced_into) for r in await uow.connection.execute(query)]


async def test_a_status_naming_a_send_a_crash_left_unrecorded_records_it_so_it_is_not_sent_again(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first, _second = await claimed_notes(uow_factory, 2)
    delivered = payloads.status(
        SANDBOX_PHONE_ID, "wamid.LOST", "delivered", CUSTOMER, tracker=send_tracker(first)
    )
    await statuses_applied(uow_factory, delivered)
    assert await outbox_states(uow_factory) == [("delivered", "wamid.LOST", None), ("sending", None, None)]
    # Released after the claim's lease, only the row WhatsApp never reported goes again.
    async with uow_factory() as uow:
        assert await uow.outbox.release_stale(NOW + timedelta(hours=1), NOW) == 1
        await uow.commit()


async def test_a_digest_reported_by_its_tracker_records_the_notes_it_carried_as_coalesced(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first, _second, third = await claimed_notes(uow_factory, 3)
    sent = payloads.status(
        SANDBOX_PHONE_ID, "wamid.DIGEST", "sent", CUSTOMER, tracker=send_tracker(first, [third])
    )
    await statuses_applied(uow_factory, sent)
    assert await outbox_states(uow_factory) == [
        ("sent", "wamid.DIGEST", None),
        ("sending", None, None),
        ("sent", None, first),
    ]


async def test_a_tracker_for_another_recipient_or_a_recorded_send_or_not_ours_changes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first, second = await claimed_notes(uow_factory, 2)
    async with uow_factory() as uow:
        await uow.outbox.mark_sent(second, "wamid.KNOWN", "auto", NOW)
        await uow.commit()
    await statuses_applied(
        uow_factory,
        payloads.status(SANDBOX_PHONE_ID, "wamid.X1", "sent", "33700000000", tracker=send_tracker(first)),
        payloads.status(SANDBOX_PHONE_ID, "wamid.X2", "sent", CUSTOMER, tracker=send_tracker(second)),
        payloads.status(SANDBOX_PHONE_ID, "wamid.X3", "sent", CUSTOMER, tracker=f"order:{first}"),
    )
    assert await outbox_states(uow_factory) == [("sending", None, None), ("sent", "wamid.KNOWN", None)]
