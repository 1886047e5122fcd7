"""What a provider's payment event does to a request and its order.

Every function locks the order row first, then re-reads the transaction, so concurrent events for one
order are applied one after the other, and a redelivered event changes nothing the second time.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from enum import StrEnum

from bot.domain.deposit import Ledger, settlement_type
from bot.domain.money import Money
from bot.domain.order import Order, OrderStatus
from bot.domain.refund import Refund, RefundStatus
from bot.domain.transaction import PaymentTransaction, TransactionStatus
from bot.payments.port import PaymentEvent
from bot.services import email_receipts, messages, push_notes
from bot.services.context import PaymentDeps
from bot.services.invoices import invoice_message
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    FLAGGED = "flagged"
    UNKNOWN = "unknown"


class RefundBeforePayment(Exception):
    """A refund arrived before the payment it returns: kept in the inbox and tried again later."""


class InvoiceBeforePayment(Exception):
    """A provider's invoice arrived before the payment it is for: kept in the inbox, tried again later."""


async def _find(uow: UnitOfWork, event: PaymentEvent) -> PaymentTransaction | None:
    """The transaction the event is about; an event signed by one vendor finds only that vendor's."""
    found = None
    if event.transaction_id is not None:
        found = await uow.transactions.get(event.transaction_id)
    if found is None and event.provider_link_id is not None:
        found = await uow.transactions.by_link(event.provider, event.provider_link_id)
    if found is None and event.reference is not None:
        found = await uow.transactions.by_reference(event.provider, event.reference)
    if found is not None and event.vendor_id is not None and found.vendor_id != event.vendor_id:
        log.warning(
            "event %s signed by vendor %s targets another vendor's request", event.event_id, event.vendor_id
        )
        return None
    return found


async def locked(uow: UnitOfWork, event: PaymentEvent) -> tuple[Order, PaymentTransaction] | None:
    """The order (locked) and its transaction re-read under the lock, or None if unknown to us."""
    found = await _find(uow, event)
    if found is None:
        return None
    order = await uow.orders.get(found.commande_id, for_update=True)
    transaction = await uow.transactions.get(found.id)
    if order is None or transaction is None:  # pragma: no cover - foreign keys
        return None
    return order, transaction


async def record_payment(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    """Marks the transaction paid once, deactivates its link, cancels its reminders, settles the order
    when the price is covered and queues the receipt and the vendor's note. A payment for a request
    already paid (by another payment) or cancelled is flagged to the vendor and not counted."""
    now = deps.clock()
    async with deps.uow() as uow:
        located = await locked(uow, event)
        if located is None:
            log.warning("payment event %s matches no transaction", event.event_id)
            return Outcome.UNKNOWN
        order, transaction = located
        outcome = await record_paid(uow, order, transaction, event, now)
        if outcome in {Outcome.RECORDED, Outcome.FLAGGED}:
            await uow.commit()
    return outcome


async def record_paid(
    uow: UnitOfWork, order: Order, transaction: PaymentTransaction, event: PaymentEvent, now: datetime
) -> Outcome:
    """``record_payment`` inside the caller's unit of work, the order already locked (a guarantee's
    capture records its payment in the same transaction as the capture itself). The caller commits."""
    same_payment = event.reference is not None and event.reference == transaction.provider_reference
    if transaction.received and same_payment:
        return Outcome.DUPLICATE
    anomaly = _anomaly(transaction, event)
    vendor = await uow.vendors.get(order.vendor_id)
    customer = await uow.customers.get(order.customer_id)
    if vendor is None or customer is None:  # pragma: no cover
        return Outcome.UNKNOWN
    admins = await uow.vendors.admin_phones(vendor.id)
    if anomaly is not None:
        amount = event.amount or transaction.amount
        notes = messages.payment_anomaly_note(
            vendor, admins, customer, order, amount, anomaly, event.provider,
            event.reference or event.event_id, event.event_id,
        )  # fmt: skip
        for note in notes:
            await uow.outbox.add(note, now)
        log.warning("payment %s on transaction %s flagged: %s", event.reference, transaction.id, anomaly)
        return Outcome.FLAGGED
    transaction.mark_paid(now, event.method, event.reference)
    await uow.transactions.update(transaction)
    if transaction.payment_link_id is not None:
        await uow.links.deactivate(transaction.payment_link_id, now)
    await uow.reminders.cancel_pending(transaction.id, now)
    everything = await uow.transactions.for_order(order.id)
    ledger = Ledger.of(order.require_price(), everything)
    if ledger.is_covered and order.status in {OrderStatus.ACCEPTED, OrderStatus.PENDING}:
        order.settle(ledger.paid, settlement_type(everything), now)
        await uow.orders.update(order)
    await uow.outbox.add(messages.receipt(vendor, customer, order, transaction, ledger), now)
    customer = await email_receipts.adopt_email(uow, customer, event.customer_email, now)
    await email_receipts.queue_receipt(uow, vendor, customer, order, transaction, ledger, now)
    for note in messages.payment_received_note(vendor, admins, customer, order, transaction, ledger):
        await uow.outbox.add(note, now)
    await push_notes.payment_received(uow, vendor, order, transaction, ledger, now)
    return Outcome.RECORDED


def _anomaly(transaction: PaymentTransaction, event: PaymentEvent) -> str | None:
    if transaction.is_guarantee:
        # A guarantee's money comes only through a capture (its own payment row), never as a payment.
        return "cancelled" if not transaction.is_open else "guarantee_paid"
    if transaction.received:
        return "already_paid"
    if transaction.status in {TransactionStatus.CANCELLED, TransactionStatus.EXPIRED}:
        return "cancelled"
    if event.amount is not None and event.amount != transaction.amount:
        return "amount_mismatch"
    return None


async def record_failure(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    """A failed attempt: the request stays open (the customer may try again); the vendor is told."""
    now = deps.clock()
    async with deps.uow() as uow:
        located = await locked(uow, event)
        if located is None:
            return Outcome.UNKNOWN
        order, transaction = located
        if transaction.status is not TransactionStatus.PENDING:
            return Outcome.DUPLICATE
        transaction.mark_failed(now)
        if event.link_exhausted:
            # Nothing more can be paid through it: the request closes and the vendor asks again.
            transaction.expire(now)
            if transaction.payment_link_id is not None:
                await uow.links.deactivate(transaction.payment_link_id, now)
        await uow.transactions.update(transaction)
        vendor = await uow.vendors.get(order.vendor_id)
        customer = await uow.customers.get(order.customer_id)
        if vendor is None or customer is None:  # pragma: no cover
            return Outcome.UNKNOWN
        admins = await uow.vendors.admin_phones(vendor.id)
        for note in messages.payment_failed_note(
            vendor, admins, customer, order, transaction, event.detail, event.event_id
        ):
            await uow.outbox.add(note, now)
        await push_notes.request_failed(uow, vendor, order, transaction, event.event_id, now)
        await uow.commit()
    return Outcome.RECORDED


async def record_refund_success(uow: UnitOfWork, order: Order, row: Refund, now: datetime) -> None:
    """Under the order's lock: the payment keeps the refund, the order is no longer paid when the price
    is not covered any more, and the customer and the vendor's admins are told."""
    transaction = await uow.transactions.get(row.transaction_id)
    if transaction is None:  # pragma: no cover
        return
    transaction.apply_refund(row.amount, now)
    await uow.transactions.update(transaction)
    ledger = Ledger.of(order.require_price(), await uow.transactions.for_order(order.id))
    reopened = order.reopen(ledger.paid, now)
    if reopened:
        await uow.orders.update(order)
    vendor = await uow.vendors.get(order.vendor_id)
    customer = await uow.customers.get(order.customer_id)
    if vendor is None or customer is None:  # pragma: no cover - foreign keys
        return
    admins = await uow.vendors.admin_phones(vendor.id)
    await uow.outbox.add(messages.refund_notice(vendor, customer, order, transaction, row), now)
    for note in messages.refund_note(vendor, admins, customer, order, transaction, row, ledger, reopened):
        await uow.outbox.add(note, now)


async def record_provider_refund(
    uow: UnitOfWork, order: Order, transaction: PaymentTransaction, told: Money, reference: str, now: datetime
) -> list[Refund]:
    """A provider says ``told`` of the payment is refunded in all (Stripe's cumulative
    ``amount_refunded``): our refunds still in flight that it covers are succeeded, and what is left is
    a refund made at the provider itself (its dashboard). Runs under the order's lock; a repeated or
    older notice changes nothing."""
    gap = told - transaction.refunded_total
    if not gap.is_positive():
        return []
    done = []
    for row in await uow.refunds.for_transaction(transaction.id):
        if row.in_flight and row.amount <= gap:
            row.status, row.updated_at, row.failure_reason = RefundStatus.SUCCEEDED, now, None
            await record_refund_success(uow, order, row, now)
            await uow.refunds.update(row)
            done.append(row)
            gap = gap - row.amount
            transaction = await uow.transactions.get(transaction.id) or transaction
    if gap.is_positive():
        row = Refund(
            id=uuid.uuid4(), vendor_id=transaction.vendor_id, transaction_id=transaction.id, amount=gap,
            status=RefundStatus.SUCCEEDED, requested_by=transaction.provider or "provider", created_at=now,
            updated_at=now, provider=transaction.provider, provider_reference=reference,
        )  # fmt: skip
        await uow.refunds.add(row)
        await record_refund_success(uow, order, row, now)
        done.append(row)
    return done


async def apply_provider_refund(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    """A provider's news that (in all) ``refunded_amount`` of a payment went back: our refunds it covers
    are succeeded, the rest is recorded as made at the provider. Idempotent: told twice, or an older
    total, it changes nothing."""
    if event.refunded_amount is None:
        return Outcome.UNKNOWN
    now = deps.clock()
    async with deps.uow() as uow:
        located = await locked(uow, event)
        if located is None:
            return Outcome.UNKNOWN
        order, transaction = located
        if transaction.is_open:
            raise RefundBeforePayment(str(transaction.id))
        if not transaction.received:
            return Outcome.DUPLICATE
        done = await record_provider_refund(
            uow, order, transaction, event.refunded_amount, event.reference or event.event_id, now
        )
        await uow.commit()
    return Outcome.RECORDED if done else Outcome.DUPLICATE


async def record_invoice(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    """The invoice a provider made for a payment (Stripe's invoice_creation): stored once, like an
    iCount document, and its page sent to the customer."""
    document = event.document
    if document is None:
        return Outcome.UNKNOWN
    now = deps.clock()
    async with deps.uow() as uow:
        located = await locked(uow, event)
        if located is None:
            return Outcome.UNKNOWN
        order, transaction = located
        if transaction.is_open:
            raise InvoiceBeforePayment(str(transaction.id))
        vendor = await uow.vendors.get(order.vendor_id)
        customer = await uow.customers.get(order.customer_id)
        if not transaction.received or vendor is None or customer is None:
            return Outcome.DUPLICATE
        added = await uow.invoices.add_invoice(
            vendor.id, transaction.id, event.provider, document.doctype, document.number, document.url,
            transaction.amount, now,
        )  # fmt: skip
        if added and document.url:
            await uow.outbox.add(invoice_message(vendor, customer, order, transaction, document), now)
            await email_receipts.queue_invoice(uow, vendor, customer, order, transaction, document, now)
        await uow.commit()
    return Outcome.RECORDED if added else Outcome.DUPLICATE
