"""Closing open payment requests: the provider's page stops first, then the rows, links and reminders."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import partial

from bot.domain.errors import NoOpenRequest
from bot.domain.transaction import PaymentTransaction
from bot.payments.port import PaymentProvider
from bot.services.context import PaymentDeps, with_retries
from bot.services.orders import order_by_number
from bot.services.vendors import VendorRef, find_vendor
from bot.store.repositories.transactions import PaymentLinkRecord
from bot.store.uow import UnitOfWork


async def cancel_requests(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int
) -> list[PaymentTransaction]:
    """Cancels the order's open requests: their links stop working first, then the rows change."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        # A charge asked of the provider and not answered may have been made: never cancelled, looked up.
        open_requests = [
            t for t in await uow.transactions.for_order(order.id) if t.is_open and not t.is_charge_in_flight
        ]
        if not open_requests:
            raise NoOpenRequest(order=order.reference)
        provider = deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
        link_ids = [t.payment_link_id for t in open_requests if t.payment_link_id is not None]
        links = await uow.transactions.links(link_ids)
    await deactivate_at_provider(deps, provider, links)
    now = deps.clock()
    async with deps.uow() as uow:
        await uow.orders.get(order.id, for_update=True)
        fresh = [await uow.transactions.get(stale.id) for stale in open_requests]
        cancelled = await close_requests(uow, [t for t in fresh if t is not None], now)
        await uow.commit()
    return cancelled


async def deactivate_at_provider(
    deps: PaymentDeps, provider: PaymentProvider, links: Mapping[uuid.UUID, PaymentLinkRecord]
) -> None:
    """Stops the provider's pages of these links first, so that no payment can start meanwhile."""
    for link in links.values():
        if link.active and link.provider == provider.name:
            await with_retries(partial(provider.deactivate_link, link.provider_link_id), deps.retry_delay)


async def close_requests(
    uow: UnitOfWork, transactions: list[PaymentTransaction], now: datetime, *, expire: bool = False
) -> list[PaymentTransaction]:
    """Cancels (or expires) those of ``transactions`` still open: their links stop working and their
    reminders are cancelled. Runs under the order's lock; returns the requests it closed."""
    closed = []
    for transaction in transactions:
        if not transaction.is_open:
            continue
        if expire:
            transaction.expire(now)
        else:
            transaction.cancel(now)
        await uow.transactions.update(transaction)
        if transaction.payment_link_id is not None:
            await uow.links.deactivate(transaction.payment_link_id, now)
        await uow.reminders.cancel_pending(transaction.id, now)
        closed.append(transaction)
    return closed
