"""Holds under the ``paid_only`` confirmation rule: a new order stays ``pending`` (its slot held) until it
is paid; when the vendor's ``hold_minutes`` pass without any payment, the order is freed (cancelled), its
open requests expire and their links stop working, and the vendor's admins are told.

An order with money already paid on it (a deposit) is never freed by the job: the vendor decides.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from bot.domain.errors import DomainError
from bot.domain.order import OrderStatus
from bot.payments.port import ProviderError
from bot.rendering import render_for
from bot.services import messages
from bot.services.closing import close_requests, deactivate_at_provider
from bot.services.context import PaymentDeps

log = logging.getLogger(__name__)


async def _deactivate_links(deps: PaymentDeps, order_id: uuid.UUID) -> None:
    """Stops the provider's pages of the order's open requests first: no payment can start meanwhile."""
    async with deps.uow() as uow:
        order = await uow.orders.get(order_id)
        if order is None:
            return
        vendor = await uow.vendors.get(order.vendor_id)
        open_requests = [t for t in await uow.transactions.for_order(order_id) if t.is_open]
        links = await uow.transactions.links([t.payment_link_id for t in open_requests if t.payment_link_id])
        if vendor is None or not links:
            return
        try:
            provider = deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
        except (DomainError, ValueError) as error:
            log.warning("links of order %s not deactivated at the provider: %s", order_id, error)
            return
    await deactivate_at_provider(deps, provider, links)


async def free_order(deps: PaymentDeps, order_id: uuid.UUID) -> bool:
    """Frees one held order if it is still held and unpaid; True when it did."""
    try:
        await _deactivate_links(deps, order_id)
    except ProviderError as error:
        log.warning("order %s stays held for now: %s", order_id, error)
        return False
    now = deps.clock()
    async with deps.uow() as uow:
        order = await uow.orders.get(order_id, for_update=True)
        if order is None or order.status is not OrderStatus.PENDING:
            return False
        transactions = await uow.transactions.for_order(order.id)
        if any(t.received for t in transactions):
            return False
        if await uow.inbox.has_callback_waiting([t.id for t in transactions]):
            log.info("held order %s stays held: a payment of it is being confirmed", order_id)
            return False
        await close_requests(uow, transactions, now, expire=True)
        order.cancel(now)
        await uow.orders.update(order)
        vendor = await uow.vendors.get(order.vendor_id)
        customer = await uow.customers.get(order.customer_id)
        if vendor is not None and customer is not None:
            admins = await uow.vendors.admin_phones(vendor.id)
            text = render_for(
                vendor, "messages/vendor_hold_expired", vendor.locale,
                order=order.reference, label=order.label, customer=customer.contact,
                minutes=vendor.payment.hold_minutes,
            )  # fmt: skip
            for note in messages.to_admins(vendor, admins, "vendor_hold_expired", str(order.id), text):
                await uow.outbox.add(note, now)
        await uow.commit()
    log.info("held order %s freed: not paid in time", order_id)
    return True


async def release_expired_holds(deps: PaymentDeps) -> int:
    """The scheduled job: frees every held order whose hold has expired; returns how many."""
    now = deps.clock()
    async with deps.uow() as uow:
        held = await uow.orders.held_orders(now)
    freed = 0
    for order in held:
        if order.created_at + timedelta(minutes=order.hold_minutes) <= now:
            freed += await free_order(deps, order.order_id)
    return freed
