"""Sandbox mode's demo data: on the first start (a database without any vendor), a vendor whose admin
phone is the vendor phone of the sandbox page, taking card guarantees and saving cards, and a customer
with an accepted order #1, so that ``payé 1``, ``garantie 1 50`` and ``carte 1`` work at once; and every
vendor, the demo's or one made with ``bot vendor add``, gets the sandbox's approved templates. Never
done when real WhatsApp credentials are set."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select

from bot.bootstrap import vendor_from_settings
from bot.config import Settings
from bot.domain.phone import normalise_phone
from bot.domain.vendor import Vendor
from bot.rendering import environment
from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.ui import demo_words
from bot.services import orders as order_service, vendors as vendor_service
from bot.store.tables import customers
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
DEMO_VENDOR_PHONE = "+33612345678"
DEMO_CUSTOMER_PHONE = "+33699887766"
DEMO_PRICE = "150"
# Outside WhatsApp's 24-hour window only approved templates may be sent (a customer who never wrote, a
# reminder a day later): in sandbox mode every vendor has one for every kind of message, as a real vendor
# would (``ensure_sandbox_templates``). The kinds are the chat replies and every message of
# bot/templates/*/messages/ (named after its kind).
# The demo vendor takes card guarantees on its command and offers "save my card" on its payment pages,
# so that a visitor can try a hold (``garantie 1 50``) and a saved card (``carte 1``) at once.
DEMO_CARD_SETTINGS = (("guarantee_mode", "optional"), ("saved_cards", "on"))
CHAT_KINDS = ("customer_reply", "vendor_reply", "vendor_customer_message")
NOT_KINDS = {"transaction_kind", "transaction_label"}


def template_kinds() -> list[str]:
    return list(_template_kinds())


@lru_cache(maxsize=1)
def _template_kinds() -> tuple[str, ...]:
    # The templates ship with the package: listed once, not on every page load.
    names = {
        name.rsplit("/", 1)[-1].removesuffix(".j2")
        for name in environment().list_templates(extensions=["j2"])
        if name.split("/")[1:2] == ["messages"]
    }
    return tuple(sorted(set(CHAT_KINDS) | names - NOT_KINDS))


TEMPLATE_PREFIX = "sandbox_"


async def ensure_demo(uow_factory: UnitOfWorkFactory, settings: Settings, now: datetime) -> bool:
    """Makes the demo vendor, customer and order when the database has no vendor; True when it did.
    Either way, every vendor then has the sandbox templates (``ensure_sandbox_templates``)."""
    if not settings.sandbox_whatsapp:
        return False
    async with uow_factory() as uow:
        empty = await uow.vendors.count() == 0
    summary = await _demo_vendor(uow_factory, settings, now) if empty else None
    await ensure_sandbox_templates(uow_factory, now)
    if summary is None:
        return False
    await _demo_order(uow_factory, summary.vendor, now)
    return True


async def ensure_sandbox_templates(uow_factory: UnitOfWorkFactory, now: datetime) -> int:
    """Gives every vendor a sandbox template for each kind of message it has none for: the fake WhatsApp
    approves them all, so a vendor made with ``bot vendor add`` can reach customers outside the 24-hour
    window too. A template the vendor set stays. Cheap when nothing is missing (one read); returns how
    many vendors were changed."""
    async with uow_factory() as uow:
        everyone = await uow.vendors.all()
    changed = 0
    for vendor in everyone:
        missing = [
            (f"template.{kind}", TEMPLATE_PREFIX + kind)
            for kind in _template_kinds()
            if kind not in vendor.whatsapp_templates
        ]
        if missing:
            await vendor_service.change_settings(uow_factory, str(vendor.id), missing, None, now)
            log.info("sandbox: vendor %r given %d sandbox templates", vendor.name, len(missing))
            changed += 1
    return changed


async def _demo_vendor(
    uow_factory: UnitOfWorkFactory, settings: Settings, now: datetime
) -> vendor_service.VendorSummary:
    new = vendor_from_settings(settings)
    if not new.admin_phones:
        new = replace(new, admin_phones=[DEMO_VENDOR_PHONE])
    added = await vendor_service.add_vendor(uow_factory, new, now)
    return await vendor_service.change_settings(
        uow_factory, str(added.vendor.id), DEMO_CARD_SETTINGS, None, now
    )


async def _demo_order(uow_factory: UnitOfWorkFactory, vendor: Vendor, now: datetime) -> None:
    names = demo_words(vendor.locale)
    customer_phone = normalise_phone(DEMO_CUSTOMER_PHONE)
    async with uow_factory() as uow:
        await uow.customers.get_or_create(vendor.id, customer_phone, now, names["customer_name"])
        await uow.commit()
    order = await order_service.create_order(
        uow_factory, str(vendor.id), customer_phone, DEMO_PRICE, names["order_label"], True, now
    )
    log.info("sandbox: demo vendor %r with order #%d for %s", vendor.name, order.number, customer_phone)


@dataclass(frozen=True, slots=True)
class Person:
    phone: str  # digits only, as WhatsApp ids write it
    name: str


@dataclass(frozen=True, slots=True)
class People:
    """Who the sandbox page shows: the vendor's admin phone and the vendor's customers."""

    vendor_name: str
    locale: str
    timezone: str
    phone_number_id: str | None
    vendor_phone: str | None
    customers: list[Person] = field(default_factory=list)


async def people(uow_factory: UnitOfWorkFactory) -> People | None:
    """The (first) vendor and its customers, or None when the database has no vendor."""
    async with uow_factory() as uow:
        everyone = await uow.vendors.all()
        if not everyone:
            return None
        vendor = everyone[0]
        admins = await uow.vendors.admin_phones(vendor.id)
        rows = await uow.connection.execute(
            select(customers.c.phone, customers.c.name)
            # The WhatsApp phone's customers: an Instagram customer has its own phone on the page.
            .where(customers.c.vendor_id == vendor.id, customers.c.phone.is_not(None))
            .order_by(customers.c.created_at, customers.c.phone)
        )
        listed = [Person(payloads.digits(phone), name or "") for phone, name in rows]
    admin = payloads.digits(admins[0]) if admins else None
    return People(
        vendor.name,
        vendor.locale,
        vendor.timezone,
        vendor.phone_number_id,
        admin,
        [p for p in listed if p.phone != admin],
    )
