"""The reminder sweep with an injected clock, on SQLite and on a real Postgres."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.domain.deposit import AskKind
from bot.domain.money import Money
from bot.domain.outgoing import OutboxStatus
from bot.domain.transaction import PaymentTransaction, TransactionStatus, TransactionType
from bot.services import payments, reminders as reminder_service, vendors as vendor_service
from bot.services.settlement import record_payment
from bot.store.tables import outbox_messages, reminders
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.integration.test_payment_requests import eur, paid_event
from tests.payment_support import deps_for, vendor_with_order

ONE_EURO = Money.from_minor(100, "EUR")


async def kinds(uow_factory: UnitOfWorkFactory) -> list[str]:
    async with uow_factory() as uow:
        return list((await uow.connection.execute(select(outbox_messages.c.kind))).scalars())


async def statuses(uow_factory: UnitOfWorkFactory) -> list[str]:
    async with uow_factory() as uow:
        query = select(reminders.c.status).order_by(reminders.c.transaction_id, reminders.c.sequence)
        return list((await uow.connection.execute(query)).scalars())


async def test_reminders_fire_at_the_offsets_then_the_vendor_is_told(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    await payments.request_payment(deps_for(uow_factory), None, number, AskKind.FULL)
    clock = FrozenClock(NOW + timedelta(hours=23))
    assert await reminder_service.sweep(uow_factory, clock) == 0
    for day, expected in ((1, 1), (1, 0), (3, 1), (5, 0), (7, 1)):
        clock.now = NOW + timedelta(days=day, minutes=1)
        assert await reminder_service.sweep(uow_factory, clock) == expected
    assert (await kinds(uow_factory)).count("payment_reminder") == 3
    assert "vendor_reminders_exhausted" in await kinds(uow_factory)
    assert await statuses(uow_factory) == ["sent", "sent", "sent"]


async def test_a_payment_between_two_reminders_stops_the_rest(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    request = await payments.request_payment(deps, None, number, AskKind.FULL)
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=1, minutes=1))) == 1
    await record_payment(deps, paid_event(request.transaction.id, eur(150)))
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=30))) == 0
    assert await statuses(uow_factory) == ["sent", "cancelled", "cancelled"]


async def test_a_ten_day_outage_gives_one_catch_up_reminder_per_request(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    await payments.request_payment(deps, None, first, AskKind.DEPOSIT, "45")
    await payments.request_payment(deps, None, first, AskKind.BALANCE)
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=10))) == 2
    assert (await kinds(uow_factory)).count("payment_reminder") == 2
    assert sorted(await statuses(uow_factory)) == ["sent", "sent", "skipped", "skipped", "skipped", "skipped"]


async def test_a_customer_who_said_stop_gets_no_reminder(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    request = await payments.request_payment(deps_for(uow_factory), None, number, AskKind.FULL)
    async with uow_factory() as uow:
        order = await uow.orders.get(request.order.id)
        assert order is not None
        await uow.customers.set_opted_out(order.customer_id, True, NOW)
        await uow.commit()
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=2))) == 0
    # The ones not yet due wait: a customer who writes START before then gets them.
    assert await statuses(uow_factory) == ["cancelled", "pending", "pending"]


async def test_a_reminder_due_at_night_waits_for_the_morning(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    await vendor_service.change_settings(uow_factory, None, [("reminder_quiet_hours", "21-9")], None, NOW)
    request = await payments.request_payment(deps_for(uow_factory), None, number, AskKind.FULL)
    # Planned at request time: NOW is 10:30 in Paris, so day 1 at 10:30 is allowed.
    async with uow_factory() as uow:
        planned = await uow.reminders.for_transaction(request.transaction.id)
    assert planned[0].due_at == NOW + timedelta(days=1)
    # Quiet hours set after the plan: the sweep waits too. 23:00 in Paris is 22:00 UTC in November.
    night = datetime(2026, 11, 22, 22, 0, tzinfo=NOW.tzinfo)
    assert await reminder_service.sweep(uow_factory, FrozenClock(night)) == 0
    async with uow_factory() as uow:
        postponed = await uow.reminders.for_transaction(request.transaction.id)
    assert postponed[0].due_at == datetime(2026, 11, 23, 8, 0, tzinfo=NOW.tzinfo)
    assert await reminder_service.sweep(uow_factory, FrozenClock(postponed[0].due_at)) == 1


async def test_two_sweeps_at_once_queue_each_of_a_thousand_reminders_exactly_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await vendor_with_order(uow_factory, price="99999")
    async with uow_factory() as uow:
        vendor = (await uow.vendors.all())[0]
        order = (await uow.orders.recent(vendor.id))[0]
        for index in range(1000):
            transaction = PaymentTransaction(
                id=uuid.uuid4(), commande_id=order.id, vendor_id=vendor.id, amount=ONE_EURO,
                type=TransactionType.ACOMPTE, label="Acompte", status=TransactionStatus.PENDING,
                created_at=NOW, updated_at=NOW, provider="sandbox",
            )  # fmt: skip
            link = await uow.links.add(
                vendor.id, "sandbox", f"sbx_{index}", f"http://x/{index}", transaction.amount, NOW
            )
            transaction.payment_link_id = link.id
            await uow.transactions.add(transaction)
            await uow.reminders.plan(vendor.id, transaction.id, [NOW + timedelta(hours=1)], NOW)
        await uow.commit()
    clock = FrozenClock(NOW + timedelta(hours=2))
    queued = await asyncio.gather(
        reminder_service.sweep(uow_factory, clock, limit=2000),
        reminder_service.sweep(uow_factory, clock, limit=2000),
    )
    assert sum(queued) == 1000
    assert (await kinds(uow_factory)).count("payment_reminder") == 1000
    assert set(await statuses(uow_factory)) == {"sent"}
    # The vendor hears of the thousand unpaid requests in one note per sweep, not a thousand notes.
    assert 1 <= (await kinds(uow_factory)).count("vendor_reminders_exhausted") <= 2


async def test_a_repeating_reminder_follows_the_offsets_up_to_its_count(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    settings = [("reminder_schedule", "1d"), ("reminder_repeat_every", "2d"), ("reminder_repeat_count", "2")]
    await vendor_service.change_settings(uow_factory, None, settings, None, NOW)
    request = await payments.request_payment(deps_for(uow_factory), None, number, AskKind.FULL)
    async with uow_factory() as uow:
        planned = await uow.reminders.for_transaction(request.transaction.id)
    assert [r.due_at - NOW for r in planned] == [timedelta(days=1), timedelta(days=3), timedelta(days=5)]
    for day in (1, 3, 5):
        assert (
            await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=day, minutes=1))) == 1
        )
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=30))) == 0
    assert (await kinds(uow_factory)).count("payment_reminder") == 3


async def test_the_history_shows_each_sent_reminder_with_its_delivery_status(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    request = await payments.request_payment(deps_for(uow_factory), None, number, AskKind.FULL)
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=1, minutes=1))) == 1
    assert await reminder_service.remind_now(uow_factory, None, number, NOW + timedelta(days=2)) == 1
    async with uow_factory() as uow:
        history = (await uow.reminders.history([request.transaction.id]))[request.transaction.id]
        keys = {r.id: reminder_service.reminder_message_key(r.id) for r in history if r.status == "sent"}
        query = select(outbox_messages.c.id).where(outbox_messages.c.dedupe_key.in_(keys.values()))
        ids = list((await uow.connection.execute(query)).scalars())
        for message_id in ids:
            await uow.outbox.mark_sent(message_id, f"wamid.{message_id}", "text", NOW + timedelta(days=2))
        await uow.outbox.advance_many(ids, OutboxStatus.DELIVERED, NOW + timedelta(days=2))
        await uow.commit()
    async with uow_factory() as uow:
        history = (await uow.reminders.history([request.transaction.id]))[request.transaction.id]
    assert [(r.sequence, r.status, r.delivery) for r in history] == [
        (1, "sent", "delivered"),
        (2, "pending", None),
        (3, "pending", None),
        (4, "sent", "delivered"),
    ]


async def test_a_vendor_hears_of_several_requests_out_of_reminders_in_one_note(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    await vendor_service.change_settings(uow_factory, None, [("reminder_schedule", "1d")], None, NOW)
    await payments.request_payment(deps, None, first, AskKind.DEPOSIT, "45")
    await payments.request_payment(deps, None, first, AskKind.BALANCE)
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=1, minutes=1))) == 2
    async with uow_factory() as uow:
        query = select(outbox_messages.c.payload).where(
            outbox_messages.c.kind == "vendor_reminders_exhausted"
        )
        notes = list((await uow.connection.execute(query)).scalars())
    assert len(notes) == 1
    assert "2" in notes[0]["text"] and "\n" not in notes[0]["template_params"][0]


async def test_a_full_sweep_takes_batch_after_batch_until_none_is_due(uow_factory: UnitOfWorkFactory) -> None:
    first = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    await payments.request_payment(deps, None, first, AskKind.DEPOSIT, "45")
    await payments.request_payment(deps, None, first, AskKind.BALANCE)
    batches: list[int] = []
    clock = FrozenClock(NOW + timedelta(days=1, minutes=1))
    assert await reminder_service.sweep_all(uow_factory, clock, batches.append, limit=1) == 2
    assert batches == [1, 1]


async def test_reminders_switched_off_for_an_order_stay_off_for_its_later_requests(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    assert await reminder_service.switch_reminders(uow_factory, None, number, False, NOW) == 3
    balance = await payments.request_payment(deps, None, number, AskKind.BALANCE)
    async with uow_factory() as uow:
        assert await uow.reminders.for_transaction(balance.transaction.id) == []
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=30))) == 0
    assert await reminder_service.switch_reminders(uow_factory, None, number, True, NOW) == 6
    assert await reminder_service.sweep(uow_factory, FrozenClock(NOW + timedelta(days=1, minutes=1))) == 2
