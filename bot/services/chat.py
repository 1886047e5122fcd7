"""Who is writing (an admin of a vendor, or a customer), and what customers can ask by themselves."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.domain.customer import Customer
from bot.domain.deposit import Ledger
from bot.domain.order import Order
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.store.repositories.transactions import PaymentLinkRecord
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AdminActor:
    vendor: Vendor
    phone: str


@dataclass(frozen=True, slots=True)
class CustomerActor:
    vendor: Vendor
    customer: Customer
    admin_phones: list[str]


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
        vendors = await uow.vendors.for_number(phone_number_id, default_phone_id)
        if not vendors:
            log.warning("message to business number %s, which no vendor uses", phone_number_id)
            return None
        admin_of = await uow.vendors.admin_of([v.id for v in vendors], sender)
        if admin_of is not None:
            vendor = next(v for v in vendors if v.id == admin_of)
            await uow.vendors.touch_admin(vendor.id, sender, at)
            await uow.commit()
            return AdminActor(vendor, sender)
        vendor, customer = vendors[0], None
        for candidate in vendors:
            customer = await uow.customers.by_phone(candidate.id, sender)
            if customer is not None:
                vendor = candidate
                break
        if customer is None:
            customer = await uow.customers.get_or_create(vendor.id, sender, at, name)
        await uow.customers.touch(customer.id, at, name)
        if customer.last_inbound_at is None or customer.last_inbound_at < at:
            customer.last_inbound_at = at
        admins = await uow.vendors.admin_phones(vendor.id)
        await uow.commit()
        return CustomerActor(vendor, customer, admins)


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
