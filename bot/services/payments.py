"""Payment requests: ask the customer for money and complete requests a crash left without a link.

``request_payment`` follows three steps so that no network call happens inside a database
transaction and a crash at any point loses nothing:
1. the ``payment_transactions`` row is committed;
2. the provider link is created with an idempotency key derived from the transaction id;
3. one transaction writes the ``payment_links`` row and the customer's message in the outbox.
A request left between 1 and 3 is completed by ``complete_unlinked_requests`` at the next start; one
whose link is recorded but whose message is not gets it from ``complete_unsent_requests``, with that link.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from bot.domain.channel import Channel
from bot.domain.customer import Customer
from bot.domain.deposit import AskKind, Ledger
from bot.domain.errors import (
    DomainError,
    NoOpenRequest,
    OrderNotFound,
    PaymentLinkDelayed,
    PaymentLinkFailed,
)
from bot.domain.money import Money, Percent, parse_amount_or_percent
from bot.domain.order import Order
from bot.domain.outgoing import OutgoingMessage
from bot.domain.transaction import PaymentTransaction, TransactionStatus, TransactionType
from bot.domain.vendor import Vendor
from bot.payments.port import ClientSync, LineItem, LinkRequest, PaymentProvider, ProviderError
from bot.services import guarantee_messages, messages
from bot.services.context import PaymentDeps, with_retries
from bot.services.order_lines import provider_lines
from bot.services.orders import order_by_number
from bot.services.providers import ensure_provider_client
from bot.services.vendors import VendorRef, find_vendor
from bot.store.repositories.outbox import OutboxRow
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)


class HandOver(Protocol):
    """A running sender of this process, given outbox rows written already claimed for it."""

    async def send_claimed(self, rows: Sequence[OutboxRow]) -> None:
        """Starts their sends; returns once they are under way."""
        ...

    async def pace_in(self, uow: UnitOfWork, vendor: Vendor, to: str) -> float | None:
        """The WhatsApp pace of a message to ``to``, taken in ``uow``'s transaction: the seconds until the
        number's slot, or None when the recipient has none now (the message is queued as usual)."""
        ...

    async def send_paced(self, row: OutboxRow, wait: float) -> None:
        """Sends a row written claimed whose pace ``pace_in`` took with its commit (returns once under
        way)."""
        ...

    def wake(self) -> None:
        """A message was queued as usual: look now."""
        ...


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
    *,
    send_claimed: HandOver | None = None,
) -> RequestOutcome:
    """Asks the customer of order ``number`` for a deposit (an amount, or ``30%``, typed or already
    read), the full price or the balance; returns the transaction and its link once the customer's
    message is queued. ``send_claimed``: a sender of this process, handed the customer's message with its
    commit (it skips the outbox's claim)."""
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        provider, parts = await _record_request(deps, uow, vendor, number, ask, typed, now)
        await uow.commit()
    url = await _link_and_message(deps, provider, parts.transaction.id, parts, send_claimed)
    return RequestOutcome(parts.order, parts.transaction, url, parts.customer)


@dataclass(frozen=True, slots=True)
class PendingStep:
    """The admin's chat step a request confirms (``conversations``): taken in the request's own
    transaction, so the request is made once and a step is never used up by a request that was not."""

    phone: str
    flow: str
    state: dict[str, Any]


async def request_confirmed(
    deps: PaymentDeps,
    vendor: Vendor,
    step: PendingStep,
    number: int,
    ask: AskKind,
    typed: str | Money | Percent | None = None,
    *,
    send_claimed: HandOver | None = None,
) -> RequestOutcome | None:
    """``request_payment`` behind the admin's confirmation: None when the step is gone or was for
    another request (a double click, an older button). A refused request uses the step up too."""
    now = deps.clock()
    async with deps.uow() as uow:
        # The step on this order: a step on another order is not this one (steps are kept per order).
        subject = None if step.state.get("order") is None else str(step.state["order"])
        taken = await uow.conversations.take(vendor.id, step.phone, step.flow, now, subject)
        if taken is None or taken.state != step.state:
            await uow.commit()
            return None
        try:
            provider, parts = await _record_request(deps, uow, vendor, number, ask, typed, now)
        except DomainError:
            await uow.commit()  # only the step's removal: the refusal is answered, not asked again
            raise
        await uow.commit()
    url = await _link_and_message(deps, provider, parts.transaction.id, parts, send_claimed)
    return RequestOutcome(parts.order, parts.transaction, url, parts.customer)


async def _record_request(
    deps: PaymentDeps,
    uow: UnitOfWork,
    vendor: Vendor,
    number: int,
    ask: AskKind,
    typed: str | Money | Percent | None,
    now: datetime,
) -> tuple[PaymentProvider, _RequestParts]:
    """Step 1, in the caller's transaction: the order locked and checked, the request's row written,
    and everything step 2 needs read with it (nothing is read again before the provider is called)."""
    found = await uow.orders.by_number_with_customer(vendor.id, number, for_update=True)
    if found is None:
        raise OrderNotFound(order=f"#{number}")
    order, customer = found
    price = order.check_payable(vendor.payment.confirmation_rule)
    ledger = Ledger.of(price, await uow.transactions.for_order(order.id))
    wanted = parse_amount_or_percent(typed, vendor.currency) if isinstance(typed, str) else typed
    amount = ledger.amount_for(ask, wanted, vendor.payment.deposit_policy)
    provider = deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
    transaction = new_request(vendor, order, ledger, amount, now, provider.name)
    await uow.transactions.add(transaction)
    lines = await _lines(uow, transaction, order)
    return provider, _RequestParts(transaction, order, vendor, customer, lines)


@dataclass(frozen=True, slots=True)
class RequestPreview:
    """What a request would ask, shown before the vendor confirms: its amount and its kind."""

    order: Order
    amount: Money
    kind: TransactionType
    # The link goes to Instagram for such a customer, which the confirmation says.
    on_instagram: bool = False


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
        customer = await uow.customers.get(order.customer_id)
    wanted = parse_amount_or_percent(typed, vendor.currency) if isinstance(typed, str) else typed
    amount = ledger.amount_for(ask, wanted, vendor.payment.deposit_policy)
    on_instagram = customer is not None and customer.on_instagram
    return RequestPreview(order, amount, ledger.request_type(amount), on_instagram)


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
        # Who they are at the provider when no number is known (an Instagram customer): ig:username.
        customer_name=customer.name or (None if customer.phone else customer.contact),
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
    send_claimed: HandOver | None = None,
) -> str:
    """Steps 2 and 3 of a request; safe to run again for the same transaction. ``parts``: what step 1
    has just read and committed (a recovery reads them afresh). ``send_claimed``: the customer's message
    is written claimed and handed to this process's sender after the commit."""
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
    claimed: OutboxRow | None = None
    paced: float | None = None
    queued = False
    async with deps.uow() as uow:
        # The order's lock keeps a cancellation or a payment from writing the request meanwhile.
        order = await uow.orders.get(transaction.commande_id, for_update=True)
        if order is None:  # pragma: no cover - a foreign key guarantees it
            raise LookupError(transaction_id)
        record = await uow.links.add(
            transaction.vendor_id, link.provider, link.provider_link_id, link.url, transaction.amount, now
        )
        current = await uow.transactions.attach_link(transaction_id, record.id, now)
        if current is None:
            # Linked already (a recovery, a retry): that link is the request's; nothing here is kept.
            linked = await uow.transactions.get(transaction_id)
            existing = None
            if linked is not None and linked.payment_link_id is not None:
                existing = await uow.links.get(linked.payment_link_id)
            return existing.url if existing else link.url
        cancelled_meanwhile = current.status is not TransactionStatus.PENDING
        if cancelled_meanwhile:
            await uow.links.deactivate(record.id, now)
        else:
            # The vendor and customer read for the link a moment ago are still the ones to write to.
            vendor, customer = parts.vendor, parts.customer
            message = _request_message(vendor, customer, order, current, link.url)
            if send_claimed is not None and message.channel is Channel.WHATSAPP:
                # The pace in this transaction too: the link, the message and its pace, one commit.
                paced = await send_claimed.pace_in(uow, vendor, message.to_phone)
            if send_claimed is None or (paced is None and message.channel is Channel.WHATSAPP):
                # No sender here, or the customer's pace is used up: queued, sent when it comes back.
                await _queue_request(
                    uow, vendor, customer, order, current, link.url, now, plan_reminders=True
                )
                queued = True
            else:
                # The customer was read with the order in step 1: their window as the sender needs it.
                claimed = await uow.outbox.add_claimed(
                    message,
                    now,
                    last_inbound_at=customer.last_inbound_at,
                    channel_inbound_at=customer.channel_inbound_at,
                    customer_phone=customer.phone,
                )
                if claimed is not None:
                    await _plan_reminders(uow, vendor, order, current, now)
        await uow.commit()
    if cancelled_meanwhile:
        # The vendor cancelled while the link was being made: it must not take money.
        await with_retries(partial(provider.deactivate_link, link.provider_link_id), deps.retry_delay)
        raise NoOpenRequest(order=order.reference)
    if send_claimed is not None:
        # The customer's message is under way before the vendor's reply is written.
        if claimed is not None and paced is not None:
            await send_claimed.send_paced(claimed, paced)
        elif claimed is not None:
            await send_claimed.send_claimed([claimed])
        elif queued:
            send_claimed.wake()
    return link.url


def _request_message(
    vendor: Vendor, customer: Customer, order: Order, transaction: PaymentTransaction, url: str
) -> OutgoingMessage:
    if transaction.is_guarantee:
        return guarantee_messages.request(vendor, customer, order, transaction, url)
    return messages.payment_request(vendor, customer, order, transaction, url)


async def _plan_reminders(
    uow: UnitOfWork, vendor: Vendor, order: Order, transaction: PaymentTransaction, now: datetime
) -> None:
    # A guarantee is not money owed: the customer is not reminded of it.
    if vendor.reminders.enabled and order.reminders_enabled and not transaction.is_guarantee:
        due = vendor.reminders.due_times(transaction.created_at, vendor.timezone)
        await uow.reminders.plan(vendor.id, transaction.id, due, now)


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
    return completed + await complete_unsent_requests(deps, grace)


async def complete_unsent_requests(deps: PaymentDeps, grace: timedelta = timedelta(0)) -> int:
    """Queues the customer's message of the requests whose link is recorded but whose message never was
    (made more than ``grace`` ago), with that same link: the provider is not called. Returns how many."""
    async with deps.uow() as uow:
        waiting = [t.id for t in await uow.transactions.linked_without_message(deps.clock() - grace)]
    completed = 0
    for transaction_id in waiting:
        try:
            completed += await _queue_unsent(deps, transaction_id)
        except DomainError as error:
            log.warning("could not queue the message of request %s: %s", transaction_id, error)
    return completed


async def _queue_request(
    uow: UnitOfWork,
    vendor: Vendor,
    customer: Customer,
    order: Order,
    request: PaymentTransaction,
    url: str,
    now: datetime,
    *,
    plan_reminders: bool,
) -> bool:
    """Step 3's writes for a request already linked: the customer's message with ``url`` and, unless
    planned already, the reminders; False when the message was queued before (its dedupe key)."""
    if not await uow.outbox.add(_request_message(vendor, customer, order, request, url), now):
        return False
    if plan_reminders:
        await _plan_reminders(uow, vendor, order, request, now)
    return True


async def _queue_unsent(deps: PaymentDeps, transaction_id: uuid.UUID) -> int:
    now = deps.clock()
    async with deps.uow() as uow:
        found = await uow.transactions.get(transaction_id)
        if found is None:  # pragma: no cover - selected a moment ago
            return 0
        # The order's lock: a cancellation or a payment in flight is seen before the message is written.
        order = await uow.orders.get(found.commande_id, for_update=True)
        current = await uow.transactions.get(transaction_id)
        if order is None or current is None or current.status is not TransactionStatus.PENDING:
            return 0
        link = None if current.payment_link_id is None else await uow.links.get(current.payment_link_id)
        if link is None or not link.active:
            return 0
        parts = await _request_parts(uow, current)
        planned = bool(await uow.reminders.for_transaction(current.id))
        queued = await _queue_request(
            uow, parts.vendor, parts.customer, order, current, link.url, now, plan_reminders=not planned
        )
        await uow.commit()
    if queued:
        log.warning("request %s had its link but no message: the message is queued now", transaction_id)
    return int(queued)
