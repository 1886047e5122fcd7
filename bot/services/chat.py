"""Who is writing (an admin of a vendor, or a customer), and what customers can ask by themselves."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.channel import Channel
from bot.domain.customer import Customer
from bot.domain.deposit import Ledger
from bot.domain.order import Order
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.store.repositories.transactions import PaymentLinkRecord
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
# An admin's last message is recorded again only once the recorded one is this old: a vendor tapping
# through a flow costs no write (and no commit) per tap. Their 24-hour window is then thought to close at
# most this much early, which can only send a template where free text was still allowed.
ADMIN_SEEN_SLACK = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class AdminActor:
    vendor: Vendor
    phone: str


@dataclass(frozen=True, slots=True)
class CustomerActor:
    vendor: Vendor
    customer: Customer
    admin_phones: list[str]
    # The channel this message came on: the replies go back on it.
    channel: Channel = Channel.WHATSAPP

    def reply_to(self) -> tuple[Channel, str]:
        if self.channel is Channel.WHATSAPP and self.customer.phone is not None:
            return Channel.WHATSAPP, self.customer.phone
        return self.customer.reach()


async def identify(
    uow_factory: UnitOfWorkFactory,
    phone_number_id: str | None,
    default_phone_id: str,
    sender: str,
    at: datetime,
    name: str | None,
) -> AdminActor | CustomerActor | None:
    """The vendor's admin or the customer behind ``sender`` on this business number, with the inbound
    time recorded (it opens WhatsApp's 24-hour window). A stranger becomes a customer of the number's
    first vendor."""
    async with uow_factory() as uow:
        vendors, admin = await uow.vendors.for_number_and_admin(phone_number_id, default_phone_id, sender)
        if not vendors:
            log.warning("message to business number %s, which no vendor uses", phone_number_id)
            return None
        if admin is not None:
            vendor = next(v for v in vendors if v.id == admin.vendor_id)
            if admin.last_inbound_at is None or admin.last_inbound_at < at - ADMIN_SEEN_SLACK:
                await uow.vendors.touch_admin(vendor.id, sender, at)
                await uow.commit()
            return AdminActor(vendor, sender)
        vendor, customer = await _who_knows(vendors, lambda v: uow.customers.by_phone(v, sender))
        if customer is None:
            customer = await uow.customers.get_or_create(vendor.id, sender, at, name)
        await uow.customers.touch(customer.id, at, name)
        if customer.last_inbound_at is None or customer.last_inbound_at < at:
            customer.last_inbound_at = at
        admins = await uow.vendors.admin_phones(vendor.id)
        await uow.commit()
        return CustomerActor(vendor, customer, admins)


async def identify_on_channel(
    uow_factory: UnitOfWorkFactory,
    channel: Channel,
    address: str,
    default_phone_id: str,
    at: datetime,
    handle: str | None = None,
) -> CustomerActor | None:
    """The customer behind ``address`` on ``channel`` (Instagram Direct), with the message's time recorded
    (it opens that channel's 24-hour window). The account is the bot's own, so a stranger becomes a
    customer of the first vendor of the default business number; vendor commands come only by WhatsApp."""
    async with uow_factory() as uow:
        vendors = await uow.vendors.for_number(default_phone_id, default_phone_id)
        if not vendors:
            log.warning("%s message, but no vendor uses the default business number", channel)
            return None
        vendor, customer = await _who_knows(vendors, lambda v: uow.customers.by_address(v, channel, address))
        if customer is None:
            customer = await uow.customers.get_or_create_at(vendor.id, channel, address, at)
        await uow.customers.touch_channel(customer.id, at, handle)
        if customer.channel_inbound_at is None or customer.channel_inbound_at < at:
            customer.channel_inbound_at = at
        if handle:
            customer.handle = handle
        admins = await uow.vendors.admin_phones(vendor.id)
        await uow.commit()
        return CustomerActor(vendor, customer, admins, channel)


async def _who_knows(
    vendors: list[Vendor], find: Callable[[uuid.UUID], Awaitable[Customer | None]]
) -> tuple[Vendor, Customer | None]:
    """The vendor of the number who knows this customer, with them; the first vendor when none does."""
    for candidate in vendors:
        customer = await find(candidate.id)
        if customer is not None:
            return candidate, customer
    return vendors[0], None


async def customer_of_note(uow_factory: UnitOfWorkFactory, vendor: Vendor, wamid: str) -> Customer | None:
    """The customer a note to the vendor was about (a forwarded message), by the id WhatsApp gave it."""
    async with uow_factory() as uow:
        row = await uow.outbox.by_wamid(wamid)
        about = row.payload.get("about_customer") if row is not None and row.vendor_id == vendor.id else None
        if not isinstance(about, str):
            return None
        try:
            customer = await uow.customers.get(uuid.UUID(about))
        except ValueError:
            return None
    return customer if customer is not None and customer.vendor_id == vendor.id else None


@dataclass(frozen=True, slots=True)
class OpenRequest:
    order: Order
    transaction: PaymentTransaction
    link: PaymentLinkRecord | None
    ledger: Ledger


async def open_requests(uow_factory: UnitOfWorkFactory, actor: CustomerActor) -> list[OpenRequest]:
    async with uow_factory() as uow:
        waiting = await uow.transactions.open_for_customer(actor.vendor.id, actor.customer.id)
        links = await uow.transactions.links([t.payment_link_id for t in waiting if t.payment_link_id])
        found = []
        for transaction in waiting:
            order = await uow.orders.get(transaction.commande_id)
            if order is None or order.price is None:
                continue
            ledger = Ledger.of(order.price, await uow.transactions.for_order(order.id))
            link = links.get(transaction.payment_link_id) if transaction.payment_link_id else None
            found.append(OpenRequest(order, transaction, link, ledger))
        return found


@dataclass(frozen=True, slots=True)
class OrderBalance:
    order: Order
    ledger: Ledger


async def balances(uow_factory: UnitOfWorkFactory, actor: CustomerActor) -> list[OrderBalance]:
    async with uow_factory() as uow:
        orders = await uow.orders.open_for_customer(actor.vendor.id, actor.customer.id)
        return [
            OrderBalance(order, Ledger.of(order.price, await uow.transactions.for_order(order.id)))
            for order in orders
            if order.price is not None
        ]


async def recent_payments(uow_factory: UnitOfWorkFactory, actor: CustomerActor) -> list[PaymentTransaction]:
    async with uow_factory() as uow:
        orders = await uow.orders.open_for_customer(actor.vendor.id, actor.customer.id)
        paid: list[PaymentTransaction] = []
        for order in orders:
            paid += [t for t in await uow.transactions.for_order(order.id) if t.received]
        return paid


async def set_reminders_opt_out(
    uow_factory: UnitOfWorkFactory, actor: CustomerActor, opted_out: bool, at: datetime
) -> None:
    async with uow_factory() as uow:
        await uow.customers.set_opted_out(actor.customer.id, opted_out, at)
        await uow.commit()
