"""The WhatsApp messages of card guarantees: the request, held, released, and the vendor's notes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.domain.customer import Customer
from bot.domain.money import shown
from bot.domain.order import Order
from bot.domain.outgoing import OutgoingMessage
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.rendering import render_for
from bot.services.messages import customer_locale, to_admins

_LOCALES = {"fr": "fr_FR", "en": "en_GB", "he": "he_IL"}


def when(moment: datetime | None, vendor: Vendor, locale: str) -> str:
    """A date as the reader says it, in the vendor's time zone ("3 décembre 14:00")."""
    if moment is None:
        return "-"
    zone = ZoneInfo(vendor.timezone)
    return format_datetime(moment, "d MMMM HH:mm", tzinfo=zone, locale=_LOCALES.get(locale, "en_GB"))


def _customer(
    vendor: Vendor, customer: Customer, guarantee: PaymentTransaction, kind: str, params: tuple[str, ...],
    **context: object,
) -> OutgoingMessage:  # fmt: skip
    locale = customer_locale(vendor, customer)
    channel, address = customer.reach()
    return OutgoingMessage(
        vendor_id=vendor.id,
        to_phone=address,
        channel=channel,
        kind=kind,
        locale=locale,
        text=render_for(vendor, f"messages/{kind}", locale, **context),
        template_params=params,
        customer_id=customer.id,
        transaction_id=guarantee.id,
        dedupe_key=f"{kind}:{guarantee.id}",
    )


def request(
    vendor: Vendor, customer: Customer, order: Order, guarantee: PaymentTransaction, url: str
) -> OutgoingMessage:
    locale = customer_locale(vendor, customer)
    amount = shown(guarantee.amount, locale)
    return _customer(
        vendor, customer, guarantee, "guarantee_request", (amount, url, order.reference),
        amount=amount, url=url, vendor_name=vendor.name, order=order.reference,
        days=vendor.payment.guarantee.release_days,
    )  # fmt: skip


def held(vendor: Vendor, customer: Customer, order: Order, guarantee: PaymentTransaction) -> OutgoingMessage:
    locale = customer_locale(vendor, customer)
    amount = shown(guarantee.held or guarantee.amount, locale)
    release_on = when(guarantee.release_at, vendor, locale)
    return _customer(
        vendor, customer, guarantee, "guarantee_held", (amount, order.reference, release_on),
        amount=amount, order=order.reference, vendor_name=vendor.name, release_on=release_on,
        card_on_file=guarantee.card_on_file,
    )  # fmt: skip


def released(
    vendor: Vendor, customer: Customer, order: Order, guarantee: PaymentTransaction
) -> OutgoingMessage:
    amount = shown(guarantee.held or guarantee.amount, customer_locale(vendor, customer))
    return _customer(
        vendor, customer, guarantee, "guarantee_released", (amount, order.reference),
        amount=amount, order=order.reference, vendor_name=vendor.name, card_on_file=guarantee.card_on_file,
    )  # fmt: skip


def held_note(
    vendor: Vendor, admins: list[str], customer: Customer, order: Order, guarantee: PaymentTransaction
) -> list[OutgoingMessage]:
    text = render_for(
        vendor, "messages/vendor_guarantee_held", vendor.locale,
        amount=shown(guarantee.held or guarantee.amount, vendor.locale), order=order.reference,
        number=order.number, customer=customer.contact, card_on_file=guarantee.card_on_file,
        release_on=when(guarantee.release_at, vendor, vendor.locale),
    )  # fmt: skip
    return to_admins(vendor, admins, "vendor_guarantee_held", str(guarantee.id), text)


def released_note(
    vendor: Vendor, admins: list[str], order: Order, guarantee: PaymentTransaction, reason: str
) -> list[OutgoingMessage]:
    text = render_for(
        vendor, "messages/vendor_guarantee_released", vendor.locale,
        amount=shown(guarantee.held or guarantee.amount, vendor.locale), order=order.reference,
        reason=reason, lapsed=guarantee.status.value == "expired",
    )  # fmt: skip
    return to_admins(vendor, admins, "vendor_guarantee_released", str(guarantee.id), text)


def lapsing_note(
    vendor: Vendor, admins: list[str], order: Order, guarantee: PaymentTransaction
) -> list[OutgoingMessage]:
    text = render_for(
        vendor, "messages/vendor_guarantee_lapsing", vendor.locale,
        amount=shown(guarantee.held or guarantee.amount, vendor.locale), order=order.reference,
        number=order.number, lapses=when(guarantee.hold_lapses_at, vendor, vendor.locale),
        provider=guarantee.provider or "",
    )  # fmt: skip
    return to_admins(vendor, admins, "vendor_guarantee_lapsing", str(guarantee.id), text)
