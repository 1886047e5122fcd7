"""Saved cards (roadmap step 8's "Carte enregistrée"): a payment charged on the card the customer saved,
with no link; the customer's cards listed and forgotten.

A charge follows the request's three steps: the transaction is committed, the provider is called with
a key derived from it, then the answer is recorded. A charge without an answer is never made again
blindly: the next attempt (or the guarantee job) first looks it up at the provider.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from bot.domain.card_token import CardToken
from bot.domain.customer import Customer
from bot.domain.deposit import AskKind, Ledger
from bot.domain.errors import CardsNotSupported, ChargeFailed, ChargePending, NoSavedCard
from bot.domain.money import Money, Percent, parse_amount_or_percent
from bot.domain.order import Order
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.payments.port import (
    ChargeAttempt,
    ChargeStatus,
    PaymentEvent,
    PaymentEventKind,
    PaymentProvider,
    SavedCard,
    SavedCardCharge,
    SavedCardRequest,
)
from bot.services.context import PaymentDeps, with_retries
from bot.services.customers import customer_by_phone
from bot.services.orders import order_by_number
from bot.services.payments import complete_request, new_request
from bot.services.settlement import Outcome, record_paid
from bot.services.vendors import VendorRef, find_vendor
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def card_provider(
    deps: PaymentDeps, vendor: Vendor, sealed: str | None
) -> tuple[PaymentProvider, SavedCardCharge]:
    provider = deps.providers.for_vendor(vendor, sealed)
    if not isinstance(provider, SavedCardCharge):
        raise CardsNotSupported(provider=provider.name)
    return provider, provider


def as_saved(card: CardToken) -> SavedCard:
    return SavedCard(
        card.token, card.brand, card.last4, card.exp_month, card.exp_year, card.provider_customer_id
    )


@dataclass(frozen=True, slots=True)
class CardChargeOutcome:
    """What the vendor is told: paid on the card, or (the bank wants the customer there) a normal link
    sent instead; ``earlier``: a charge that had no answer was found made, and nothing more was charged."""

    order: Order
    transaction: PaymentTransaction
    card: CardToken
    ledger: Ledger | None = None
    link_url: str | None = None
    earlier: bool = False


def _request(
    transaction: PaymentTransaction,
    card: CardToken,
    vendor: Vendor,
    customer: Customer,
    known: frozenset[str],
) -> SavedCardRequest:
    return SavedCardRequest(
        transaction_id=transaction.id, vendor_id=vendor.id, order_id=transaction.commande_id,
        card=as_saved(card), amount=transaction.amount, description=f"{vendor.name} {transaction.label}",
        asked_at=transaction.created_at, provider_client_id=customer.provider_client_id,
        known_references=known,
    )  # fmt: skip


async def _usable_card(uow: UnitOfWork, vendor: Vendor, order: Order, now: datetime) -> CardToken:
    customer = await uow.customers.get(order.customer_id)
    cards = [c for c in await uow.cards.usable_for(vendor.id, order.customer_id) if not c.expired(now)]
    ours = [c for c in cards if c.provider == vendor.payment.provider.value]
    if not ours:
        raise NoSavedCard(customer=customer.contact if customer else "-", order=order.reference)
    return ours[0]


async def charge_saved_card(
    deps: PaymentDeps,
    vendor_reference: VendorRef,
    number: int,
    ask: AskKind,
    typed: str | Money | Percent | None = None,
) -> CardChargeOutcome:
    """Charges the customer's saved card for a deposit, the full price or the balance of order
    ``number``, with no link. An earlier charge on the order without an answer is looked up first."""
    earlier = await _resolve_earlier(deps, vendor_reference, number)
    if earlier is not None:
        return earlier
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        price = order.check_payable(vendor.payment.confirmation_rule)
        card = await _usable_card(uow, vendor, order, now)
        transactions = await uow.transactions.for_order(order.id)
        if any(t.is_charge_in_flight for t in transactions):
            raise ChargePending(order=order.reference)  # another admin's charge, right now
        ledger = Ledger.of(price, transactions)
        wanted = parse_amount_or_percent(typed, vendor.currency) if isinstance(typed, str) else typed
        amount = ledger.amount_for(ask, wanted, vendor.payment.deposit_policy)
        provider, cards = card_provider(deps, vendor, await uow.vendors.credentials(vendor.id))
        transaction = new_request(vendor, order, ledger, amount, now, provider.name)
        transaction.card_token_id = card.id
        await uow.transactions.add(transaction)
        customer = await uow.customers.get(order.customer_id)
        known = await uow.transactions.customer_references(
            vendor.id, order.customer_id, provider.name, transaction.id
        )
        await uow.commit()
    if customer is None:  # pragma: no cover - a foreign key guarantees it
        raise LookupError(order.customer_id)
    attempt = await cards.charge_saved_card(_request(transaction, card, vendor, customer, known))
    return await _record(deps, provider, transaction.id, attempt, card)


async def _resolve_earlier(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int
) -> CardChargeOutcome | None:
    """A saved-card charge on this order that got no answer: made (recorded now, and nothing more is
    charged), not made (closed, and a new charge may go), or still unknown (ChargePending)."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number)
        waiting = [
            t for t in await uow.transactions.for_order(order.id)
            if t.card_token_id is not None and t.is_open and t.payment_link_id is None
        ]  # fmt: skip
    for transaction in waiting:
        outcome = await resolve_charge(deps, transaction.id)
        if outcome is ChargeStatus.UNKNOWN:
            raise ChargePending(order=order.reference)
        if outcome is ChargeStatus.SUCCEEDED:
            async with deps.uow() as uow:
                paid = await uow.transactions.get(transaction.id) or transaction
                card = await uow.cards.get(transaction.card_token_id) if transaction.card_token_id else None
            if card is not None:
                return CardChargeOutcome(order, paid, card, earlier=True)
    return None


async def resolve_charge(deps: PaymentDeps, transaction_id: uuid.UUID) -> ChargeStatus:
    """Looks an unanswered saved-card charge up at the provider and records what it finds."""
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None or not transaction.is_open or transaction.card_token_id is None:
            return ChargeStatus.FAILED
        vendor = await uow.vendors.get(transaction.vendor_id)
        order = await uow.orders.get(transaction.commande_id)
        card = await uow.cards.get(transaction.card_token_id)
        customer = None if order is None else await uow.customers.get(order.customer_id)
        if vendor is None or card is None or customer is None:  # pragma: no cover
            return ChargeStatus.FAILED
        provider, cards = card_provider(deps, vendor, await uow.vendors.credentials(vendor.id))
        known = await uow.transactions.customer_references(
            vendor.id, customer.id, provider.name, transaction.id
        )
    found = await cards.find_saved_card_charge(_request(transaction, card, vendor, customer, known))
    if found.status is ChargeStatus.UNKNOWN:
        return ChargeStatus.UNKNOWN
    try:
        await _record(deps, provider, transaction_id, found, card, resolving=True)
    except ChargeFailed:
        return ChargeStatus.FAILED
    return found.status


async def _record(
    deps: PaymentDeps, provider: PaymentProvider, transaction_id: uuid.UUID, attempt: ChargeAttempt,
    card: CardToken, *, resolving: bool = False,
) -> CardChargeOutcome:  # fmt: skip
    now = deps.clock()
    async with deps.uow() as uow:
        found = await uow.transactions.get(transaction_id)
        if found is None:  # pragma: no cover
            raise LookupError(transaction_id)
        order = await uow.orders.get(found.commande_id, for_update=True)
        transaction = await uow.transactions.get(transaction_id)
        vendor = await uow.vendors.get(found.vendor_id)
        if order is None or transaction is None or vendor is None:  # pragma: no cover
            raise LookupError(transaction_id)
        customer = await uow.customers.get(order.customer_id)
        if attempt.status is ChargeStatus.SUCCEEDED:
            event = PaymentEvent(
                provider=provider.name, event_id=f"saved-card:{transaction.id}", kind=PaymentEventKind.PAID,
                occurred_at=now, transaction_id=transaction.id, reference=attempt.reference,
                amount=transaction.amount, method="card",
            )  # fmt: skip
            outcome = await record_paid(uow, order, transaction, event, now)
            await uow.commit()
            ledger = Ledger.of(order.require_price(), await uow.transactions.for_order(order.id))
            paid = await uow.transactions.get(transaction_id) or transaction
            if outcome is Outcome.FLAGGED:
                log.warning("saved-card charge %s recorded as an anomaly", transaction_id)
            return CardChargeOutcome(order, paid, card, ledger, earlier=resolving)
        if attempt.status is ChargeStatus.UNKNOWN:
            raise ChargePending(order=order.reference)
        if attempt.status is ChargeStatus.AUTHENTICATION_REQUIRED and not resolving and customer is not None:
            # The bank wants the customer there: the same request goes to them as a normal link.
            transaction.card_token_id = None
            await uow.transactions.update(transaction)
            await uow.commit()
            url = await complete_request(deps, provider, transaction, order, vendor, customer)
            return CardChargeOutcome(order, transaction, card, link_url=url)
        transaction.cancel(now)
        await uow.transactions.update(transaction)
        await uow.transactions.set_failure_reason(transaction.id, attempt.reason or attempt.status.value)
        await uow.commit()
    raise ChargeFailed(order=order.reference, reason=attempt.reason or attempt.status.value)


async def customer_cards(
    deps: PaymentDeps, vendor_reference: VendorRef, phone: str
) -> tuple[Customer, list[CardToken]]:
    """The cards a customer saved with this vendor and may still be charged."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        customer = await customer_by_phone(uow, vendor, phone)
        return customer, await uow.cards.usable_for(vendor.id, customer.id)


async def forget_cards(deps: PaymentDeps, vendor_reference: VendorRef, phone: str) -> list[CardToken]:
    """``oublier carte``: the customer's cards are never charged again (from this instant), then deleted
    at the provider (a failed delete is tried again by the guarantee job)."""
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        customer = await customer_by_phone(uow, vendor, phone)
        cards = await uow.cards.usable_for(vendor.id, customer.id)
        for card in cards:
            await uow.cards.forget(card.id, now)
        await uow.commit()
    await delete_forgotten(deps)
    return cards


async def delete_forgotten(deps: PaymentDeps) -> int:
    """Deletes at their provider the cards forgotten here and not deleted there yet."""
    async with deps.uow() as uow:
        waiting = await uow.cards.to_delete_at_provider()
    deleted = 0
    for card in waiting:
        async with deps.uow() as uow:
            vendor = await uow.vendors.get(card.vendor_id)
            sealed = None if vendor is None else await uow.vendors.credentials(vendor.id)
        if vendor is None:
            continue
        try:
            provider, cards = card_provider(deps, vendor, sealed)
            if provider.name != card.provider:
                continue
            await with_retries(partial(cards.forget_card, as_saved(card)), deps.retry_delay)
        except Exception as error:  # noqa: BLE001 - tried again by the next pass; the card is never charged
            log.warning("card %s not deleted at %s yet: %s", card.id, card.provider, error)
            continue
        async with deps.uow() as uow:
            await uow.cards.deleted_at_provider(card.id, deps.clock())
            await uow.commit()
        deleted += 1
    return deleted
