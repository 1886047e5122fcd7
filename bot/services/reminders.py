"""The reminder sweep: due reminders are claimed, checked, rendered and queued in the outbox.

Several sweeps may run at once (SKIP LOCKED on Postgres; SQLite serialises them). After downtime a request
gets one reminder, not one per missed slot; a reminder due in quiet hours waits for the morning.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.customer import Customer
from bot.domain.errors import NoOpenRequest
from bot.domain.money import shown
from bot.domain.order import Order, OrderStatus
from bot.domain.outgoing import OutgoingMessage
from bot.domain.reminders import ReminderStatus, catch_up, out_of_quiet_hours
from bot.domain.schedule import QuietHours
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.rendering import render_for
from bot.services.clock import Clock
from bot.services.messages import customer_locale
from bot.services.orders import order_by_number
from bot.services.vendors import VendorRef, find_vendor
from bot.store.repositories.reminders import ReminderRow, reminder_message_key
from bot.store.repositories.transactions import PaymentLinkRecord
from bot.store.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
SWEEP_BATCH = 500
REMINDABLE = {OrderStatus.ACCEPTED, OrderStatus.PENDING}


async def sweep(uow_factory: UnitOfWorkFactory, clock: Clock, limit: int = SWEEP_BATCH) -> int:
    """One batch of due reminders, in one transaction; returns how many reminders were queued."""
    _, queued = await _sweep_batch(uow_factory, clock, limit)
    return queued


async def sweep_all(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    on_batch: Callable[[int], None] | None = None,
    limit: int = SWEEP_BATCH,
) -> int:
    """Batches until no reminder is due (after downtime there may be many); ``on_batch`` hears of each
    batch's queued count, so the sender starts while the sweep goes on. Returns the total queued."""
    total = 0
    while True:
        claimed, queued = await _sweep_batch(uow_factory, clock, limit)
        total += queued
        if queued and on_batch is not None:
            on_batch(queued)
        if claimed < limit:
            return total


async def _sweep_batch(uow_factory: UnitOfWorkFactory, clock: Clock, limit: int) -> tuple[int, int]:
    now = clock()
    async with uow_factory() as uow:
        due = await uow.reminders.claim_due(now, limit)
        if not due:
            return 0, 0
        batch = await _Batch.load(uow, due)
        by_transaction: dict[uuid.UUID, list[ReminderRow]] = defaultdict(list)
        for reminder in due:
            by_transaction[reminder.transaction_id].append(reminder)
        for reminders in by_transaction.values():
            await batch.decide(uow, reminders, now)
        await batch.apply(uow, now)
        await uow.commit()
        return len(due), batch.queued


class _Batch:
    """What one sweep reads in a few statements and writes in a few more, whatever its size."""

    def __init__(self) -> None:
        self.transactions: dict[uuid.UUID, PaymentTransaction] = {}
        self.orders: dict[uuid.UUID, Order] = {}
        self.customers: dict[uuid.UUID, Customer] = {}
        self.links: dict[uuid.UUID, PaymentLinkRecord] = {}
        self.vendors: dict[uuid.UUID, tuple[Vendor, list[str]]] = {}
        self.remaining: dict[uuid.UUID, int] = {}
        self.statuses: dict[ReminderStatus, list[int]] = defaultdict(list)
        self.postponed: list[tuple[int, datetime]] = []
        self.messages: list[OutgoingMessage] = []
        # Requests whose last reminder went out in this batch, per vendor: one note each vendor.
        self.exhausted: dict[uuid.UUID, list[tuple[Customer, Order, PaymentTransaction]]] = defaultdict(list)
        self.queued = 0

    @classmethod
    async def load(cls, uow: UnitOfWork, due: list[ReminderRow]) -> _Batch:
        batch = cls()
        batch.transactions = await uow.transactions.get_many(list({r.transaction_id for r in due}))
        batch.orders = await uow.orders.get_many(list({t.commande_id for t in batch.transactions.values()}))
        batch.customers = await uow.customers.get_many(list({o.customer_id for o in batch.orders.values()}))
        links = [t.payment_link_id for t in batch.transactions.values() if t.payment_link_id is not None]
        batch.links = await uow.transactions.links(links)
        batch.remaining = await uow.reminders.pending_counts(list(batch.transactions), [r.id for r in due])
        return batch

    async def _vendor(self, uow: UnitOfWork, vendor_id: uuid.UUID) -> tuple[Vendor, list[str]] | None:
        if vendor_id not in self.vendors:
            vendor = await uow.vendors.get(vendor_id)
            if vendor is None:  # pragma: no cover - foreign key
                return None
            self.vendors[vendor_id] = (vendor, await uow.vendors.admin_phones(vendor_id))
        return self.vendors[vendor_id]

    async def decide(self, uow: UnitOfWork, due: list[ReminderRow], now: datetime) -> None:
        transaction = self.transactions.get(due[0].transaction_id)
        order = None if transaction is None else self.orders.get(transaction.commande_id)
        customer = None if order is None else self.customers.get(order.customer_id)
        found = await self._vendor(uow, due[0].vendor_id)
        if transaction is None or order is None or customer is None or found is None:  # pragma: no cover
            return
        vendor, admins = found
        link = self.links.get(transaction.payment_link_id) if transaction.payment_link_id else None
        stop = (
            not transaction.is_open
            or order.status not in REMINDABLE
            or customer.opted_out
            or not vendor.reminders.enabled
            or not order.reminders_enabled
        )
        if stop:
            self.statuses[ReminderStatus.CANCELLED] += [r.id for r in due]
            return
        wake = out_of_quiet_hours(now, vendor.reminders.quiet_hours, vendor.timezone)
        if wake > now:
            self.postponed += [(r.id, wake) for r in due]
            return
        send_index, skipped = catch_up([r.due_at for r in due], now)
        self.statuses[ReminderStatus.SKIPPED] += [due[index].id for index in skipped]
        if send_index is None:  # pragma: no cover - claimed reminders are due
            return
        chosen = due[send_index]
        if link is None or not link.active:
            self.statuses[ReminderStatus.SKIPPED].append(chosen.id)
            return
        key = reminder_message_key(chosen.id)
        self.messages.append(_reminder_message(vendor, customer, order, transaction, link.url, key))
        self.statuses[ReminderStatus.SENT].append(chosen.id)
        self.queued += 1
        if self.remaining.get(transaction.id, 0) == 0:
            self.exhausted[vendor.id].append((customer, order, transaction))

    async def apply(self, uow: UnitOfWork, now: datetime) -> None:
        for vendor_id, requests in self.exhausted.items():
            vendor, admins = self.vendors[vendor_id]
            self.messages += _exhausted_notes(vendor, admins, requests)
        for status, ids in self.statuses.items():
            await uow.reminders.set_status_many(ids, status, now)
        for reminder_id, wake in self.postponed:
            await uow.reminders.postpone(reminder_id, wake, now)
        await uow.outbox.add_many(self.messages, now)


EXHAUSTED_LISTED = 10


def _exhausted_notes(
    vendor: Vendor, admins: list[str], requests: list[tuple[Customer, Order, PaymentTransaction]]
) -> list[OutgoingMessage]:
    """After the last reminder the vendor learns the request is still unpaid: one note per sweep, which
    lists the orders when several requests ran out of reminders at once."""
    customer, order, transaction = requests[0]
    if len(requests) == 1:
        note = render_for(
            vendor, "messages/vendor_reminders_exhausted", vendor.locale,
            amount=shown(transaction.amount, vendor.locale), order=order.reference, number=order.number,
            customer=customer.contact,
        )  # fmt: skip
    else:
        listed = [
            {"order": o.reference, "amount": shown(t.amount, vendor.locale), "customer": f"+{c.phone}"}
            for c, o, t in requests[:EXHAUSTED_LISTED]
        ]
        note = render_for(
            vendor, "messages/vendor_reminders_exhausted_many", vendor.locale,
            count=len(requests), listed=listed, more=len(requests) - len(listed),
        )  # fmt: skip
    return [
        OutgoingMessage(
            vendor_id=vendor.id,
            to_phone=phone,
            kind="vendor_reminders_exhausted",
            locale=vendor.locale,
            text=note,
            template_params=(note,),
            dedupe_key=f"vendor_reminders_exhausted:{transaction.id}:{phone}",
        )
        for phone in admins
    ]


def _reminder_message(
    vendor: Vendor, customer: Customer, order: Order, transaction: PaymentTransaction, url: str, key: str
) -> OutgoingMessage:
    locale = customer_locale(vendor, customer)
    requested = transaction.created_at.astimezone(ZoneInfo(vendor.timezone)).strftime("%d/%m/%Y")
    amount = shown(transaction.amount, locale)
    text = render_for(
        vendor, "messages/payment_reminder", locale,
        vendor_name=vendor.name, amount=amount, order=order.reference, requested=requested, url=url,
    )  # fmt: skip
    channel, address = customer.reach()
    return OutgoingMessage(
        vendor_id=vendor.id,
        to_phone=address,
        channel=channel,
        kind="payment_reminder",
        locale=locale,
        text=text,
        template_params=(amount, url, order.reference),
        customer_id=customer.id,
        transaction_id=transaction.id,
        dedupe_key=key,
    )


async def remind_now(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, number: int, now: datetime
) -> int:
    """``rappel 12``: one reminder now for each open request of the order; kept in the history."""
    sent = 0
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        customer = await uow.customers.get(order.customer_id)
        for transaction in await uow.transactions.for_order(order.id):
            link = (
                None
                if transaction.payment_link_id is None
                else await uow.links.get(transaction.payment_link_id)
            )
            if not transaction.is_payment_request or link is None or not link.active or customer is None:
                continue
            history = await uow.reminders.for_transaction(transaction.id)
            sequence = max((r.sequence for r in history), default=0) + 1
            reminder_id = await uow.reminders.record_sent(vendor.id, transaction.id, sequence, now)
            key = reminder_message_key(reminder_id)
            await uow.outbox.add(_reminder_message(vendor, customer, order, transaction, link.url, key), now)
            sent += 1
        if sent == 0:
            raise NoOpenRequest(order=order.reference)
        await uow.commit()
    return sent


async def switch_reminders(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, number: int, on: bool, now: datetime
) -> int:
    """``rappels 12 off`` cancels the order's pending reminders and keeps its later requests from having
    any; ``on`` plans them again from now. Returns how many reminders were cancelled or planned."""
    changed = 0
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        order.reminders_enabled = on
        order.updated_at = now
        await uow.orders.update(order)
        for transaction in await uow.transactions.for_order(order.id):
            if not transaction.is_open:
                continue
            history = await uow.reminders.for_transaction(transaction.id)
            pending = [r for r in history if r.status is ReminderStatus.PENDING]
            if not on:
                await uow.reminders.set_status_many([r.id for r in pending], ReminderStatus.CANCELLED, now)
                changed += len(pending)
            elif not pending:
                due = vendor.reminders.due_times(now, vendor.timezone)
                sequence = max((r.sequence for r in history), default=0) + 1
                await uow.reminders.plan(vendor.id, transaction.id, due, now, sequence)
                changed += len(due)
        await uow.commit()
    return changed


@dataclass(frozen=True, slots=True)
class NextReminder:
    """When the next reminder goes out, in its vendor's time zone. ``held_by`` is set when ``now`` is in
    the vendor's quiet hours and the reminder waits for their end (``at``)."""

    at: datetime
    timezone: str
    held_by: QuietHours | None = None


async def next_reminder(uow_factory: UnitOfWorkFactory, now: datetime) -> NextReminder | None:
    """The first pending reminder after a sweep at ``now`` (None when no reminder waits): a sweep that sent
    nothing can say when one will come, and why not yet."""
    async with uow_factory() as uow:
        row = await uow.reminders.next_pending()
        vendor = None if row is None else await uow.vendors.get(row.vendor_id)
    if row is None or vendor is None:
        return None
    quiet = vendor.reminders.quiet_hours
    wake = out_of_quiet_hours(now, quiet, vendor.timezone)
    if now < wake and row.due_at <= wake:  # due, or due before they end: sent when the quiet hours end
        return NextReminder(wake, vendor.timezone, quiet)
    return NextReminder(row.due_at, vendor.timezone)
