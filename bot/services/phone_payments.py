"""Phone payments (roadmap step 8): the vendor gets a one-time, short-lived link to open on their own
device and type the card the customer reads out; the card goes straight to the provider's page.

The link's token is shown once and only its hash is kept. Opening it uses it up (one statement: two
taps race and one wins), then makes the provider's page for the request and sends the vendor there.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.deposit import AskKind, Ledger
from bot.domain.errors import GuaranteeAlreadyActive
from bot.domain.money import Money, Percent, parse_amount_or_percent
from bot.domain.order import Order
from bot.domain.transaction import PaymentTransaction
from bot.payments.port import ClientSync, HostedCheckout
from bot.services import guarantees
from bot.services.closing import close_requests
from bot.services.context import PaymentDeps, with_retries
from bot.services.orders import order_by_number
from bot.services.payments import link_request_for, new_request
from bot.services.providers import ensure_provider_client, provider_of
from bot.services.vendors import VendorRef, find_vendor
from bot.store.repositories.phone_links import PhoneLink

log = logging.getLogger(__name__)
PHONE_LINK_LIFETIME = timedelta(minutes=15)
# A phone payment not made this long after its link was given is closed (its page stops taking money).
PHONE_PAYMENT_LIFETIME = timedelta(hours=2)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PhoneLinkOutcome:
    order: Order
    transaction: PaymentTransaction
    url: str
    expires_at: datetime


async def create_phone_link(
    deps: PaymentDeps,
    vendor_reference: VendorRef,
    number: int,
    ask: AskKind | None,
    typed: str | Money | Percent | None = None,
    *,
    save_card: bool = False,
) -> PhoneLinkOutcome:
    """A one-time link for the vendor: a payment of the full price, a deposit or the balance (``ask``),
    or a guarantee (``ask=None``), with the "save the card" option when the customer agrees."""
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        price = order.check_payable(vendor.payment.confirmation_rule)
        sealed = await uow.vendors.credentials(vendor.id)
        wanted = parse_amount_or_percent(typed, vendor.currency) if isinstance(typed, str) else typed
        if ask is None:
            vendor.payment.guarantee.check_enabled()
            existing = await guarantees.active_guarantee(uow, order.id)
            if existing is not None:
                raise GuaranteeAlreadyActive(order=order.reference, state=existing.status.value)
            provider, _holds = guarantees.guarantee_provider(deps, vendor, sealed)
            amount = vendor.payment.guarantee.amount_for(price, wanted)
            transaction = guarantees.new_guarantee(vendor, order, amount, now, provider.name)
        else:
            provider = deps.providers.for_vendor(vendor, sealed)
            ledger = Ledger.of(price, await uow.transactions.for_order(order.id))
            amount = ledger.amount_for(ask, wanted, vendor.payment.deposit_policy)
            transaction = new_request(vendor, order, ledger, amount, now, provider.name)
        await uow.transactions.add(transaction)
        token = secrets.token_urlsafe(24)
        link = PhoneLink(
            uuid.uuid4(), vendor.id, transaction.id, save_card, now, now + PHONE_LINK_LIFETIME, None
        )
        await uow.phone_links.add(link, token_hash(token))
        await uow.commit()
    return PhoneLinkOutcome(order, transaction, f"{deps.base_url}/pay/phone/{token}", link.expires_at)


class PhoneLinkProblem(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    CLOSED = "closed"


async def open_phone_link(deps: PaymentDeps, token: str) -> str | PhoneLinkProblem:
    """Where the vendor's one-time link leads: the provider's page for the request, once."""
    now = deps.clock()
    async with deps.uow() as uow:
        link = await uow.phone_links.by_hash(token_hash(token))
        if link is None:
            return PhoneLinkProblem.UNKNOWN
        if not await uow.phone_links.use(link.id, now):
            return PhoneLinkProblem.USED if link.used_at is not None else PhoneLinkProblem.EXPIRED
        transaction = await uow.transactions.get(link.transaction_id)
        provider = await provider_of(deps, uow, link.vendor_id)
        await uow.commit()
    if transaction is None or not transaction.is_open or provider is None:
        return PhoneLinkProblem.CLOSED
    request = await link_request_for(deps, transaction.id)
    if request is None:  # pragma: no cover
        return PhoneLinkProblem.CLOSED
    request = replace(request, by_phone=True, offer_save_card=link.save_card)
    wants_client = isinstance(provider, ClientSync) and (
        provider.clients_for_every_link or request.needs_card_customer
    )
    if request.provider_client_id is None and wants_client:
        async with deps.uow() as uow:
            order = await uow.orders.get(transaction.commande_id)
        if order is not None:
            request = replace(
                request, provider_client_id=await ensure_provider_client(deps, provider, order.customer_id)
            )
    page = await with_retries(lambda: provider.create_link(request), deps.retry_delay)
    async with deps.uow() as uow:
        current = await uow.transactions.get(transaction.id)
        if current is not None and current.payment_link_id is None:
            record = await uow.links.add(
                current.vendor_id,
                page.provider,
                page.provider_link_id,
                page.url,
                current.amount,
                deps.clock(),
            )
            current.payment_link_id = record.id
            current.updated_at = deps.clock()
            await uow.transactions.update(current)
            await uow.commit()
    if isinstance(provider, HostedCheckout):
        return await with_retries(lambda: provider.checkout_url(request), deps.retry_delay)
    return page.url


async def close_stale_phone_payments(deps: PaymentDeps) -> int:
    """Phone payments not made well after their link was given are closed: never left open forever."""
    now = deps.clock()
    async with deps.uow() as uow:
        stale = await uow.transactions.stale_phone_payments(now - PHONE_PAYMENT_LIFETIME)
        closed = 0
        for transaction in stale:
            await uow.orders.get(transaction.commande_id, for_update=True)
            fresh = await uow.transactions.get(transaction.id)
            closed += len(await close_requests(uow, [fresh] if fresh else [], now, expire=True))
        await uow.commit()
    return closed
