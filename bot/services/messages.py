"""The WhatsApp messages the payment flows queue: rendered text plus approved-template parameters."""

from __future__ import annotations

from datetime import datetime

from bot.domain.channel import Channel
from bot.domain.customer import Customer
from bot.domain.deposit import Ledger
from bot.domain.money import Money, shown
from bot.domain.order import Order
from bot.domain.outgoing import OutgoingMessage
from bot.domain.refund import Refund
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import CUSTOMER_LOCALES, Vendor
from bot.rendering import render_for
from bot.services import push_notes
from bot.store.repositories.outbox import OutboxRow
from bot.store.uow import UnitOfWork, UnitOfWorkFactory


def customer_locale(vendor: Vendor, customer: Customer) -> str:
    if customer.locale in CUSTOMER_LOCALES:
        return str(customer.locale)
    return vendor.locale


def transaction_label(vendor: Vendor, order: Order, kind: str) -> str:
    return render_for(
        vendor,
        "messages/transaction_label",
        vendor.locale,
        kind=kind,
        order=order.reference,
        number=order.number,
    )


def _to_customer(
    vendor: Vendor,
    customer: Customer,
    transaction: PaymentTransaction,
    message: str,
    template_params: tuple[str, ...],
    /,
    once_per: str | None = None,
    **context: object,
) -> OutgoingMessage:
    """A message about one request, worded from ``messages/<message>``, queued once per request (or
    once per ``once_per``: one refund of several on it)."""
    locale = customer_locale(vendor, customer)
    channel, address = customer.reach()
    return OutgoingMessage(
        vendor_id=vendor.id,
        to_phone=address,
        channel=channel,
        kind=message,
        locale=locale,
        text=render_for(vendor, f"messages/{message}", locale, **context),
        template_params=template_params,
        customer_id=customer.id,
        transaction_id=transaction.id,
        dedupe_key=f"{message}:{once_per or transaction.id}",
    )


def payment_request(
    vendor: Vendor, customer: Customer, order: Order, transaction: PaymentTransaction, url: str
) -> OutgoingMessage:
    amount = shown(transaction.amount, customer_locale(vendor, customer))
    return _to_customer(
        vendor, customer, transaction, "payment_request", (amount, url, order.reference),
        kind=transaction.type.value, amount=amount, url=url, vendor_name=vendor.name, order=order.reference,
    )  # fmt: skip


def receipt(
    vendor: Vendor, customer: Customer, order: Order, transaction: PaymentTransaction, ledger: Ledger
) -> OutgoingMessage:
    locale = customer_locale(vendor, customer)
    amount, balance = shown(transaction.amount, locale), shown(ledger.balance, locale)
    return _to_customer(
        vendor, customer, transaction, "payment_receipt", (amount, order.reference, balance),
        vendor_name=vendor.name, order=order.reference, label=order.label, amount=amount, balance=balance,
        balance_due=not ledger.balance.is_zero(),
    )  # fmt: skip


def refund_notice(
    vendor: Vendor, customer: Customer, order: Order, transaction: PaymentTransaction, refund: Refund
) -> OutgoingMessage:
    amount = shown(refund.amount, customer_locale(vendor, customer))
    return _to_customer(
        vendor, customer, transaction, "payment_refunded", (amount, order.reference), str(refund.id),
        amount=amount, order=order.reference, vendor_name=vendor.name,
        cash=transaction.is_cash,
    )  # fmt: skip


def to_admins(
    vendor: Vendor, admin_phones: list[str], kind: str, key: str, text: str
) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            vendor_id=vendor.id,
            to_phone=phone,
            kind=kind,
            locale=vendor.locale,
            text=text,
            template_params=(text,),
            dedupe_key=f"{kind}:{key}:{phone}",
        )
        for phone in admin_phones
    ]


def payment_received_note(
    vendor: Vendor,
    admin_phones: list[str],
    customer: Customer,
    order: Order,
    transaction: PaymentTransaction,
    ledger: Ledger,
) -> list[OutgoingMessage]:
    text = render_for(
        vendor,
        "messages/vendor_payment_received",
        vendor.locale,
        # A guarantee's capture says so ("Débit de garantie"), not "Acompte".
        kind="capture" if transaction.guarantee_id is not None else transaction.type.value,
        amount=shown(transaction.amount, vendor.locale),
        order=order.reference,
        label=order.label,
        customer=customer.contact,
        method=transaction.payment_method,
        covered=ledger.is_covered,
        paid=shown(ledger.paid, vendor.locale),
        price=shown(ledger.price, vendor.locale),
        balance=shown(ledger.balance, vendor.locale),
    )
    return to_admins(vendor, admin_phones, "vendor_payment_received", str(transaction.id), text)


def refund_note(
    vendor: Vendor,
    admin_phones: list[str],
    customer: Customer,
    order: Order,
    transaction: PaymentTransaction,
    refund: Refund,
    ledger: Ledger,
    reopened: bool,
) -> list[OutgoingMessage]:
    text = render_for(
        vendor,
        "messages/vendor_refund_done",
        vendor.locale,
        amount=shown(refund.amount, vendor.locale),
        order=order.reference,
        customer=customer.contact,
        method=transaction.payment_method,
        paid=shown(ledger.received, vendor.locale),
        refunded=shown(ledger.refunded, vendor.locale),
        net=shown(ledger.paid, vendor.locale),
        reopened=reopened,
        # Made in the provider's own dashboard, not asked through the bot.
        outside=refund.requested_by == refund.provider,
        provider=refund.provider,
    )
    return to_admins(vendor, admin_phones, "vendor_refund_done", str(refund.id), text)


def payment_anomaly_note(
    vendor: Vendor,
    admin_phones: list[str],
    customer: Customer,
    order: Order,
    amount: Money,
    reason: str,
    provider: str,
    reference: str,
    event_id: str,
) -> list[OutgoingMessage]:
    text = render_for(
        vendor,
        "messages/vendor_payment_anomaly",
        vendor.locale,
        amount=amount,
        order=order.reference,
        customer=customer.contact,
        reason=reason,
        provider=provider,
        reference=reference,
    )
    return to_admins(vendor, admin_phones, "vendor_payment_anomaly", event_id, text)


def payment_failed_note(
    vendor: Vendor,
    admin_phones: list[str],
    customer: Customer,
    order: Order,
    transaction: PaymentTransaction,
    detail: str | None,
    event_id: str,
) -> list[OutgoingMessage]:
    text = render_for(
        vendor,
        "messages/vendor_payment_failed",
        vendor.locale,
        amount=transaction.amount,
        order=order.reference,
        customer=customer.contact,
        detail=detail,
        # Still open: the customer may try again with the same link; else a new request is needed.
        retry_same_link=transaction.is_open,
    )
    return to_admins(vendor, admin_phones, "vendor_payment_failed", event_id, text)


async def delivery_failure_notes(
    uow: UnitOfWork, row: OutboxRow, locale: str, reason: str
) -> list[OutgoingMessage]:
    """Tells the vendor's admins that a message could not be delivered, and why."""
    vendor = await uow.vendors.get(row.vendor_id)
    admins: list[str] = await uow.vendors.admin_phones(row.vendor_id)
    if vendor is None:  # pragma: no cover
        return []
    to = f"+{row.to_phone}"
    if row.channel is Channel.INSTAGRAM and row.customer_id is not None:
        customer = await uow.customers.get(row.customer_id)
        to = customer.contact if customer is not None else to
    text = render_for(
        vendor,
        "messages/vendor_delivery_failed", locale, to=to, kind=row.kind, reason=reason,
        preview=str(row.payload.get("text", ""))[:120],
    )  # fmt: skip
    return [
        OutgoingMessage(
            vendor_id=row.vendor_id,
            to_phone=phone,
            kind="vendor_delivery_failed",
            locale=locale,
            text=text,
            template_params=(to, reason),
            dedupe_key=f"vendor_delivery_failed:{row.id}:{phone}",
        )
        for phone in admins
    ]


async def queue(uow_factory: UnitOfWorkFactory, messages: list[OutgoingMessage], now: datetime) -> None:
    """Commits messages to the outbox (the sender picks them up)."""
    async with uow_factory() as uow:
        for message in messages:
            await uow.outbox.add(message, now)
        await push_notes.forwarded_messages(uow, messages, now)
        await uow.commit()
