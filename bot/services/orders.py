"""Order use cases: create, accept, list and show, with what is paid and what remains."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.channel import is_instagram_reference
from bot.domain.customer import Customer
from bot.domain.deposit import Ledger
from bot.domain.errors import OrderNotFound, PriceWithItems
from bot.domain.money import parse_amount
from bot.domain.order import Order, OrderStatus
from bot.domain.phone import normalise_phone
from bot.domain.product import OrderLine, lines_total
from bot.domain.refund import Refund
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.services.customers import customer_for
from bot.services.order_lines import ItemRequest, label_of, lines_for
from bot.services.vendors import VendorRef, find_vendor
from bot.store.repositories.invoices import InvoiceRecord
from bot.store.repositories.reminders import ReminderRow
from bot.store.repositories.transactions import PaymentLinkRecord
from bot.store.uow import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class OrderView:
    order: Order
    customer: Customer
    transactions: list[PaymentTransaction]
    links: dict[uuid.UUID, PaymentLinkRecord]
    reminders: dict[uuid.UUID, list[ReminderRow]] = field(default_factory=dict)
    invoices: dict[uuid.UUID, InvoiceRecord] = field(default_factory=dict)
    refunds: dict[uuid.UUID, list[Refund]] = field(default_factory=dict)
    # The order's lines, when it was made of products.
    lines: list[OrderLine] = field(default_factory=list)

    @property
    def ledger(self) -> Ledger | None:
        if self.order.price is None:
            return None
        return Ledger.of(self.order.price, self.transactions)


@dataclass(frozen=True, slots=True)
class CreatedOrder:
    order: Order
    # Its lines, when it was made of products (its price is their sum).
    lines: list[OrderLine] = field(default_factory=list)


async def create_order(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    customer_phone: str,
    price_text: str | None,
    label: str,
    accept: bool,
    now: datetime,
    *,
    items: Sequence[ItemRequest] = (),
) -> Order:
    """A new order, with a price, or made of ``items`` (a product's SKU or name, and a quantity)."""
    created = await create_order_with_lines(
        uow_factory, vendor_reference, customer_phone, price_text, label, accept, now, items=items
    )
    return created.order


async def create_order_with_lines(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    customer_phone: str,
    price_text: str | None,
    label: str,
    accept: bool,
    now: datetime,
    *,
    items: Sequence[ItemRequest] = (),
) -> CreatedOrder:
    """``create_order``, with the lines made: the order and its lines are written in one transaction."""
    if items and price_text is not None:
        raise PriceWithItems()
    if not is_instagram_reference(customer_phone):
        normalise_phone(customer_phone)  # a bad number is refused before anything else
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        price = None if price_text is None else parse_amount(price_text, vendor.currency)
        lines = await lines_for(uow, vendor, items)
        if lines:
            price = lines_total(lines, vendor.currency)
            label = label.strip() or label_of(lines)
        # A phone (a new customer is made), or ``ig:name``: an Instagram customer who wrote already.
        customer = await customer_for(uow, vendor, customer_phone, now)
        order = Order(
            id=uuid.uuid4(),
            vendor_id=vendor.id,
            number=await uow.vendors.take_order_number(vendor.id),
            customer_id=customer.id,
            label=label.strip(),
            price=price,
            currency=vendor.currency,
            status=OrderStatus.PENDING,
            payment_type=None,
            created_at=now,
            updated_at=now,
            user_id=vendor.owner_user_id,
        )
        if accept:
            order.accept(now)
        await uow.orders.add(order)
        await uow.products.add_lines(order.id, lines, now)
        await uow.commit()
        return CreatedOrder(order, lines)


async def order_by_number(uow: UnitOfWork, vendor: Vendor, number: int, *, lock: bool = False) -> Order:
    """The vendor's order ``number`` (locked for the transaction with ``lock``), or OrderNotFound."""
    order = await uow.orders.by_number(vendor.id, number, for_update=lock)
    if order is None:
        raise OrderNotFound(order=f"#{number}")
    return order


async def accept_order(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, number: int, now: datetime
) -> Order:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        order.accept(now)
        await uow.orders.update(order)
        await uow.commit()
        return order


async def list_orders(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    statuses: set[OrderStatus] | None = None,
    limit: int = 50,
) -> list[Order]:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        return await uow.orders.recent(vendor.id, statuses, limit)


async def show_order(uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, number: int) -> OrderView:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number)
        customer = await uow.customers.get(order.customer_id)
        if customer is None:  # pragma: no cover - a foreign key guarantees it
            raise OrderNotFound(order=order.reference)
        transactions = await uow.transactions.for_order(order.id)
        link_ids = [t.payment_link_id for t in transactions if t.payment_link_id is not None]
        links = await uow.transactions.links(link_ids)
        history = await uow.reminders.history([t.id for t in transactions])
        invoices = {i.transaction_id: i for i in await uow.invoices.invoices_for_order(order.id)}
        refunds: dict[uuid.UUID, list[Refund]] = {}
        for refund in await uow.refunds.for_order(order.id):
            refunds.setdefault(refund.transaction_id, []).append(refund)
        lines = await uow.products.lines_of(order.id)
        return OrderView(order, customer, transactions, links, history, invoices, refunds, lines)


async def advance_order(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, number: int, step: str, now: datetime
) -> Order:
    """Moves a paid order on: ``ship`` (paid -> in_delivery) or ``complete`` (in_delivery -> completed)."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        if step == "ship":
            order.ship(now)
        else:
            order.complete(now)
        await uow.orders.update(order)
        await uow.commit()
        return order
