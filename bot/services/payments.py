"""Payment requests: ask the customer for money and complete requests a crash left without a link.

``request_payment`` follows three steps so that no network call happens inside a database
transaction and a crash at any point loses nothing:
1. the ``payment_transactions`` row is committed;
2. the provider link is created with an idempotency key derived from the transaction id;
3. one transaction writes the ``payment_links`` row and the customer's message in the outbox.
A request left between 1 and 3 is completed by ``complete_unlinked_requests`` at the next start.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from bot.domain.customer import Customer
from bot.domain.deposit import AskKind, Ledger
from bot.domain.errors import (
    DomainError,
    NoOpenRequest,
    PaymentLinkDelayed,
    PaymentLinkFailed,
)
from bot.domain.money import Money, Percent, parse_amount_or_percent
from bot.domain.order import Order
from bot.domain.transaction import PaymentTransaction, TransactionStatus, TransactionType
from bot.domain.vendor import Vendor
from bot.payments.port import ClientSync, LineItem, LinkRequest, PaymentProvider, ProviderError
from bot.services import guarantee_messages, messages
from bot.services.context import PaymentDeps, with_retries
from bot.services.order_lines import provider_lines
from bot.services.orders import order_by_number
from bot.services.providers import ensure_provider_client
from bot.services.vendors import VendorRef, find_vendor
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    """What the vendor's reply needs: the order, the request, its link and who it went to."""

    order: Order
    transaction: PaymentTransaction
    url: str
    customer: Customer


def new_request(
    vendor: Vendor, order: Order, ledger: Ledger, amount: Money, now: datetime, provider: str | None
) -> PaymentTransaction:
    """A pending request of ``amount``, typed and labelled as the source does (Acompte, Solde, ...)."""
    kind = ledger.request_type(amount)
    return PaymentTransaction(
        id=uuid.uuid4(),
        commande_id=order.id,
        vendor_id=vendor.id,
        amount=amount,
        type=kind,
        label=messages.transaction_label(vendor, order, kind.value),
        status=TransactionStatus.PENDING,
        created_at=now,
        updated_at=now,
        provider=provider,
        user_id=vendor.owner_user_id,
    )


async def request_payment(
    deps: PaymentDeps,
    vendor_reference: VendorRef,
    number: int,
    ask: AskKind,
    typed: str | Money | Percent | None = None,
) -> RequestOutcome:
    """Asks the customer of order ``number`` for a deposit (an amount, or ``30%``, typed or already
    read), the full price or the balance; returns the transaction and its link once the customer's
    message is queued."""
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        price = order.check_payable(vendor.payment.confirmation_rule)
        ledger = Ledger.of(price, await uow.transactions.for_order(order.id))
        wanted = parse_amount_or_percent(typed, vendor.currency) if isinstance(typed, str) else typed
        amount = ledger.amount_for(ask, wanted, vendor.payment.deposit_policy)
        provider = deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
        transaction = new_request(vendor, order, ledger, amount, now, provider.name)
        await uow.transactions.add(transaction)
        customer = await uow.customers.get(order.customer_id)
        if customer is None:  # pragma: no cover - a foreign key guarantees it
            raise LookupError(order.customer_id)
        await uow.commit()
    url = await _link_and_message(
        deps, provider, transaction.id, _RequestParts(transaction, order, vendor, customer)
    )
    return RequestOutcome(order, transaction, url, customer)


@dataclass(frozen=True, slots=True)
class RequestPreview:
    """What a request would ask, shown before the vendor confirms: its amount and its kind."""

    order: Order
    amount: Money
    kind: TransactionType


async def preview_request(
    deps: PaymentDeps,
    vendor_reference: VendorRef,
    number: int,
    ask: AskKind,
    typed: str | Money | Percent | None = None,
) -> RequestPreview:
    """Checks a request the vendor is about to confirm, by the rules ``request_payment`` applies;
    nothing is changed."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number)
        price = order.check_payable(vendor.payment.confirmation_rule)
        ledger = Ledger.of(price, await uow.transactions.for_order(order.id))
    wanted = parse_amount_or_percent(typed, vendor.currency) if isinstance(typed, str) else typed
    amount = ledger.amount_for(ask, wanted, vendor.payment.deposit_policy)
    return RequestPreview(order, amount, ledger.request_type(amount))


@dataclass(frozen=True, slots=True)
class _RequestParts:
    transaction: PaymentTransaction
    order: Order
    vendor: Vendor
    customer: Customer
    # The order's lines the page shows (a full payment of an order of products); None: not read yet.
    lines: tuple[LineItem, ...] | None = None


async def _lines(uow: UnitOfWork, transaction: PaymentTransaction, order: Order) -> tuple[LineItem, ...]:
    """A full payment of an order made of products shows its lines; a guarantee holds, it sells nothing."""
    if transaction.is_guarantee:
        return ()
    return await provider_lines(uow, order, transaction.amount)


async def _request_parts(uow: UnitOfWork, transaction: PaymentTransaction) -> _RequestParts:
    order = await uow.orders.get(transaction.commande_id)
    vendor = await uow.vendors.get(transaction.vendor_id)
    if order is None or vendor is None:  # pragma: no cover - foreign keys guarantee both
        raise LookupError(transaction.id)
    customer = await uow.customers.get(order.customer_id)
    if customer is None:  # pragma: no cover
        raise LookupError(order.customer_id)
    return _RequestParts(transaction, order, vendor, customer, await _lines(uow, transaction, order))


async def _link_request(deps: PaymentDeps, uow: UnitOfWork, transaction: PaymentTransaction) -> LinkRequest:
    return _to_link_request(deps, await _request_parts(uow, transaction))


def _to_link_request(deps: PaymentDeps, parts: _RequestParts) -> LinkRequest:
    transaction, vendor, customer = parts.transaction, parts.vendor, parts.customer
    return LinkRequest(
        transaction_id=transaction.id,
        vendor_id=vendor.id,
        order_id=parts.order.id,
        amount=transaction.amount,
        description=f"{vendor.name} {transaction.label}",
        vendor_name=vendor.name,
        customer_phone=customer.phone,
        customer_name=customer.name,
        locale=messages.customer_locale(vendor, customer),
        success_url=f"{deps.base_url}/pay/success?tx={transaction.id}",
        cancel_url=f"{deps.base_url}/pay/cancelled?tx={transaction.id}",
        provider_client_id=customer.provider_client_id,
        hold=transaction.is_guarantee,
        offer_save_card=vendor.payment.guarantee.saved_cards,
        lines=parts.lines or (),
    )


async def link_request_for(deps: PaymentDeps, transaction_id: uuid.UUID) -> LinkRequest | None:
    """What a provider needs to make (or make again) the payment page of a transaction."""
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        return None if transaction is None else await _link_request(deps, uow, transaction)


async def _link_and_message(
    deps: PaymentDeps,
    provider: PaymentProvider,
    transaction_id: uuid.UUID,
    parts: _RequestParts | None = None,
) -> str:
    """Steps 2 and 3 of a request; safe to run again for the same transaction. ``parts``: what step 1
    has just read and committed (a recovery reads them afresh)."""
    if parts is None:
        async with deps.uow() as uow:
            transaction = await uow.transactions.get(transaction_id)
            if transaction is None:  # pragma: no cover
                raise LookupError(transaction_id)
            parts = await _request_parts(uow, transaction)
    elif parts.lines is None:
        async with deps.uow() as uow:
            parts = replace(parts, lines=await _lines(uow, parts.transaction, parts.order))
    transaction = parts.transaction
    request = _to_link_request(deps, parts)
    wants_client = isinstance(provider, ClientSync) and (
        provider.clients_for_every_link or request.needs_card_customer
    )
    if request.provider_client_id is None and wants_client:
        # The customer's client at the provider (iCount; Stripe's Customer for a card it may keep)
        # comes before their first link.
        client_id = await ensure_provider_client(deps, provider, parts.customer.id)
        if client_id is not None:
            request = replace(request, provider_client_id=client_id)
    order_ref = parts.order.reference
    try:
        link = await with_retries(lambda: provider.create_link(request), deps.retry_delay)
    except ProviderError as error:
        if error.transient:
            raise PaymentLinkDelayed(provider=provider.name, order=order_ref) from error
        await _give_up(deps, transaction_id, str(error))
        raise PaymentLinkFailed(provider=provider.name, order=order_ref, reason=str(error)) from error
    now = deps.clock()
    async with deps.uow() as uow:
        order = await uow.orders.get(transaction.commande_id, for_update=True)
        current = await uow.transactions.get(transaction_id)
        if order is None or current is None:  # pragma: no cover
            raise LookupError(transaction_id)
        if current.payment_link_id is not None:
            existing = await uow.links.get(current.payment_link_id)
            return existing.url if existing else link.url
        record = await uow.links.add(
            current.vendor_id, link.provider, link.provider_link_id, link.url, current.amount, now
        )
        current.payment_link_id = record.id
        current.updated_at = now
        await uow.transactions.update(current)
        cancelled_meanwhile = current.status is not TransactionStatus.PENDING
        if cancelled_meanwhile:
            await uow.links.deactivate(record.id, now)
        else:
            # The vendor and customer read for the link a moment ago are still the ones to write to.
            vendor, customer = parts.vendor, parts.customer
            if current.is_guarantee:
                await uow.outbox.add(
                    guarantee_messages.request(vendor, customer, order, current, link.url), now
                )
            else:
                await uow.outbox.add(
                    messages.payment_request(vendor, customer, order, current, link.url), now
                )
            # A guarantee is not money owed: the customer is not reminded of it.
            if vendor.reminders.enabled and order.reminders_enabled and not current.is_guarantee:
                due = vendor.reminders.due_times(current.created_at, vendor.timezone)
                await uow.reminders.plan(vendor.id, current.id, due, now)
        await uow.commit()
    if cancelled_meanwhile:
        # The vendor cancelled while the link was being made: it must not take money.
        await with_retries(partial(provider.deactivate_link, link.provider_link_id), deps.retry_delay)
        raise NoOpenRequest(order=order.reference)
    return link.url


async def complete_request(
    deps: PaymentDeps,
    provider: PaymentProvider,
    transaction: PaymentTransaction,
    order: Order,
    vendor: Vendor,
    customer: Customer,
) -> str:
    """Steps 2 and 3 for a request (or a guarantee) whose row was just committed: its link, then the
    customer's message; returns the link."""
    return await _link_and_message(
        deps, provider, transaction.id, _RequestParts(transaction, order, vendor, customer)
    )


async def _give_up(deps: PaymentDeps, transaction_id: uuid.UUID, reason: str) -> None:
    async with deps.uow() as uow:
        found = await uow.transactions.get(transaction_id)
        if found is None:
            return
        await uow.orders.get(found.commande_id, for_update=True)
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None or not transaction.is_open:
            return
        transaction.cancel(deps.clock())
        await uow.transactions.update(transaction)
        await uow.transactions.set_failure_reason(transaction.id, reason)
        await uow.commit()


async def complete_unlinked_requests(deps: PaymentDeps, grace: timedelta = timedelta(0)) -> int:
    """Finishes the requests a crash left without their link (made more than ``grace`` ago); returns
    how many were completed. Safe beside a request in flight: same idempotency key, same link."""
    completed = 0
    async with deps.uow() as uow:
        waiting = await uow.transactions.awaiting_link(deps.clock() - grace)
        providers = {}
        for transaction in waiting:
            vendor = await uow.vendors.get(transaction.vendor_id)
            if vendor is None:
                continue
            try:
                sealed = await uow.vendors.credentials(vendor.id)
                providers[transaction.id] = deps.providers.for_vendor(vendor, sealed)
            except (DomainError, ValueError) as error:
                log.warning("request %s cannot be completed now: %s", transaction.id, error)
    for transaction in waiting:
        provider = providers.get(transaction.id)
        if provider is None or provider.name != transaction.provider:
            log.warning(
                "request %s needs provider %s, which is not configured", transaction.id, transaction.provider
            )
            continue
        try:
            await _link_and_message(deps, provider, transaction.id)
            completed += 1
        except (DomainError, ProviderError) as error:
            log.warning("could not complete request %s: %s", transaction.id, error)
    return completed
