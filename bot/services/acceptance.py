"""An order accepted with a price, and its payment request sent at once when the vendor asks for it
(``request_on_accept=on``, roadmap step 6): sized by ``deposit_mode`` (none asks nothing, full asks the
price, fixed and percent ask the deposit). The order stands whatever happens to the request: a request
that cannot be made is reported next to it, never instead of it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.domain.deposit import AskKind, DepositMode
from bot.domain.errors import DomainError
from bot.domain.order import Order, OrderStatus
from bot.domain.product import OrderLine
from bot.domain.vendor import Vendor
from bot.services import orders, payments
from bot.services.context import PaymentDeps
from bot.services.order_lines import ItemRequest
from bot.services.vendors import VendorRef

log = logging.getLogger(__name__)
_ASKS = {
    DepositMode.FULL: AskKind.FULL,
    DepositMode.FIXED: AskKind.DEPOSIT,
    DepositMode.PERCENT: AskKind.DEPOSIT,
}


@dataclass(frozen=True, slots=True)
class Accepted:
    order: Order
    request: payments.RequestOutcome | None = None
    # Why the automatic request was not made (the order itself is there).
    problem: DomainError | None = None
    # The order's lines, when it was just made of products.
    lines: tuple[OrderLine, ...] = ()


async def create_order(
    deps: PaymentDeps,
    vendor_reference: VendorRef,
    customer_phone: str,
    price_text: str | None,
    label: str,
    accept: bool,
    *,
    items: Sequence[ItemRequest] = (),
) -> Accepted:
    """A new order, with a price or made of ``items`` (a product's SKU or name, and a quantity)."""
    created = await orders.create_order_with_lines(
        deps.uow, vendor_reference, customer_phone, price_text, label, accept, deps.clock(), items=items
    )
    accepted = await _after_acceptance(deps, created.order)
    return replace(accepted, lines=tuple(created.lines))


async def accept_order(deps: PaymentDeps, vendor_reference: VendorRef, number: int) -> Accepted:
    order = await orders.accept_order(deps.uow, vendor_reference, number, deps.clock())
    return await _after_acceptance(deps, order)


async def _after_acceptance(deps: PaymentDeps, order: Order) -> Accepted:
    if order.status is not OrderStatus.ACCEPTED or order.price is None:
        return Accepted(order)
    async with deps.uow() as uow:
        vendor = await uow.vendors.get(order.vendor_id)
    if vendor is None or not vendor.payment.request_on_accept:
        return Accepted(order)
    return await _request(deps, vendor, order)


async def _request(deps: PaymentDeps, vendor: Vendor, order: Order) -> Accepted:
    ask = _ASKS.get(vendor.payment.deposit_mode)
    if ask is None:
        return Accepted(order)
    try:
        outcome = await payments.request_payment(deps, vendor, order.number, ask)
    except DomainError as error:
        log.warning("automatic request for order %s not made: %s", order.reference, error)
        return Accepted(order, problem=error)
    return Accepted(outcome.order, outcome)
