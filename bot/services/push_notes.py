"""Push notifications to the vendor's dashboard, queued beside the vendor's WhatsApp notes, in the same
transaction (so a crash loses neither), once per event and browser subscription. The push sender
(bot/channels/push) encrypts and sends them. Each function is called where its WhatsApp note is queued."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.domain.deposit import Ledger
from bot.domain.order import Order
from bot.domain.outgoing import OutgoingMessage
from bot.domain.push import PushKind, PushNotification, shortened
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.rendering import render
from bot.store.uow import UnitOfWork

_BABEL = {"fr": "fr_FR", "en": "en_GB", "he": "he_IL"}
# The WhatsApp note of a customer's message forwarded to the vendor (bot/handlers/customer.py).
FORWARDED_KIND = "vendor_customer_message"


def notification(template: str, locale: str, url: str, **context: Any) -> PushNotification:
    """``bot/templates/<locale>/push/<template>.j2``: its first line is the title, the rest the body."""
    title, _, body = render(f"push/{template}", locale, **context).partition("\n")
    return PushNotification(title=shortened(title, 80), body=shortened(body), url=url)


def order_url(order: Order) -> str:
    """The dashboard's page of the order (relative: the service worker opens it on its own origin)."""
    return f"/admin/orders/{order.number}"


def _date(moment: datetime | None, vendor: Vendor) -> str:
    if moment is None:
        return "-"
    zone = ZoneInfo(vendor.timezone)
    return str(
        format_datetime(moment, "d MMMM HH:mm", tzinfo=zone, locale=_BABEL.get(vendor.locale, "en_GB"))
    )


async def notify(
    uow: UnitOfWork, vendor: Vendor, kind: PushKind, key: str, note: PushNotification, now: datetime
) -> None:
    """Queues ``note`` for every subscribed admin of the vendor who has ``kind`` on; nothing otherwise."""
    recipients = await uow.push.recipients(vendor.id, kind)
    if recipients:
        await uow.push.queue(vendor.id, kind, key, note.payload(), recipients, now)


async def payment_received(
    uow: UnitOfWork, vendor: Vendor, order: Order, transaction: PaymentTransaction, ledger: Ledger,
    now: datetime,
) -> None:  # fmt: skip
    note = notification(
        "payment_received", vendor.locale, order_url(order),
        kind="capture" if transaction.guarantee_id is not None else transaction.type.value,
        amount=transaction.amount, order=order.reference, label=order.label, covered=ledger.is_covered,
        balance=ledger.balance,
    )  # fmt: skip
    await notify(uow, vendor, PushKind.PAYMENT_RECEIVED, str(transaction.id), note, now)


async def request_failed(
    uow: UnitOfWork, vendor: Vendor, order: Order, transaction: PaymentTransaction, event_id: str,
    now: datetime,
) -> None:  # fmt: skip
    note = notification(
        "request_failed", vendor.locale, order_url(order),
        amount=transaction.amount, order=order.reference, retry_same_link=transaction.is_open,
    )  # fmt: skip
    await notify(uow, vendor, PushKind.REQUEST_FAILED, event_id, note, now)


async def guarantee_held(
    uow: UnitOfWork, vendor: Vendor, order: Order, guarantee: PaymentTransaction, now: datetime
) -> None:
    note = notification(
        "guarantee_held", vendor.locale, order_url(order),
        amount=guarantee.held or guarantee.amount, order=order.reference, card_on_file=guarantee.card_on_file,
        release_on=_date(guarantee.release_at, vendor),
    )  # fmt: skip
    await notify(uow, vendor, PushKind.GUARANTEE, f"held:{guarantee.id}", note, now)


async def guarantee_lapsing(
    uow: UnitOfWork, vendor: Vendor, order: Order, guarantee: PaymentTransaction, now: datetime
) -> None:
    note = notification(
        "guarantee_lapsing", vendor.locale, order_url(order),
        amount=guarantee.held or guarantee.amount, order=order.reference,
        lapses=_date(guarantee.hold_lapses_at, vendor),
    )  # fmt: skip
    await notify(uow, vendor, PushKind.GUARANTEE, f"lapsing:{guarantee.id}", note, now)


async def forwarded_messages(uow: UnitOfWork, messages: Sequence[OutgoingMessage], now: datetime) -> None:
    """A customer's message forwarded to the vendor's admins: one notification per vendor (the WhatsApp
    note goes to each admin phone; the push goes to each admin's browsers), its body the note itself."""
    seen = set()
    for message in messages:
        if message.kind != FORWARDED_KIND or message.vendor_id in seen:
            continue
        seen.add(message.vendor_id)
        vendor = await uow.vendors.get(message.vendor_id)
        if vendor is None:  # pragma: no cover - foreign keys
            continue
        recipients = await uow.push.recipients(vendor.id, PushKind.CUSTOMER_MESSAGE)
        if not recipients:
            continue
        note = notification("customer_message", vendor.locale, "/admin/customers", note=message.text)
        # Nothing identifies a chat message here: each forwarded message is its own notification.
        key = uuid.uuid4().hex
        await uow.push.queue(vendor.id, PushKind.CUSTOMER_MESSAGE, key, note.payload(), recipients, now)
