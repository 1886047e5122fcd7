"""What a provider's news about a guarantee does: held, captured (by us or at the provider), released;
and the card a customer agreed to save while paying, kept once."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import timedelta
from functools import partial

from bot.domain.card_token import CardToken, ConsentSource
from bot.domain.deposit import Ledger
from bot.domain.guarantee import HOLD_WINDOW_DAYS
from bot.domain.transaction import PaymentTransaction, TransactionStatus
from bot.payments.port import PaymentEvent, ProviderError, SavedCard, SavedCardCharge
from bot.services import guarantee_messages, messages, push_notes
from bot.services.context import PaymentDeps, with_retries
from bot.services.guarantees import capture_in, card_hold, guarantee_provider, record_release
from bot.services.payments import new_request
from bot.services.providers import provider_of
from bot.services.settlement import Outcome, locked

log = logging.getLogger(__name__)


async def record_hold(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    """The card authorised the guarantee: held until captured or released (at the latest when the
    provider lets it go); the customer and the vendor are told. A hold on a guarantee cancelled
    meanwhile is let go at once."""
    now = deps.clock()
    stale = False
    async with deps.uow() as uow:
        located = await locked(uow, event)
        if located is None:
            return Outcome.UNKNOWN
        order, guarantee = located
        if not guarantee.is_guarantee:
            log.warning("hold event %s on a payment request %s: ignored", event.event_id, guarantee.id)
            return Outcome.FLAGGED
        vendor = await uow.vendors.get(order.vendor_id)
        customer = await uow.customers.get(order.customer_id)
        if vendor is None or customer is None:  # pragma: no cover
            return Outcome.UNKNOWN
        provider = guarantee.provider or event.provider
        window = timedelta(days=HOLD_WINDOW_DAYS.get(provider, 7))
        lapses_at = event.hold_lapses_at or now + window
        release_at = now + vendor.payment.guarantee.release_after(provider)
        held = event.amount or guarantee.amount
        second = (
            guarantee.is_held
            and event.reference is not None
            and event.reference != guarantee.provider_reference
        )
        if guarantee.status in {TransactionStatus.CANCELLED, TransactionStatus.EXPIRED} or second:
            # A hold on a guarantee cancelled meanwhile, or a second hold (a second page opened and paid):
            # neither may stay on the customer's card.
            stale = True
        elif not guarantee.hold(
            held, event.reference, lapses_at, release_at, now, card_on_file=event.card_on_file
        ):
            return Outcome.DUPLICATE
        if not stale:
            await uow.transactions.update(guarantee)
            if guarantee.payment_link_id is not None:
                await uow.links.deactivate(guarantee.payment_link_id, now)
            admins = await uow.vendors.admin_phones(vendor.id)
            await uow.outbox.add(guarantee_messages.held(vendor, customer, order, guarantee), now)
            for note in guarantee_messages.held_note(vendor, admins, customer, order, guarantee):
                await uow.outbox.add(note, now)
            await push_notes.guarantee_held(uow, vendor, order, guarantee, now)
            await uow.commit()
    if stale:
        await _let_go(deps, guarantee, event)
        return Outcome.FLAGGED
    await _stop_other_pages(deps, guarantee)
    return Outcome.RECORDED


async def _stop_other_pages(deps: PaymentDeps, guarantee: PaymentTransaction) -> None:
    """Once held, the guarantee's other provider pages (a Checkout Session still open) stop: no second
    hold can be authorised. Best effort: a second hold that still comes is let go (``record_hold``)."""
    async with deps.uow() as uow:
        provider = await provider_of(deps, uow, guarantee.vendor_id)
        links = await uow.transactions.links([guarantee.payment_link_id] if guarantee.payment_link_id else [])
    if provider is None:
        return
    for link in links.values():
        try:
            await with_retries(partial(provider.deactivate_link, link.provider_link_id), deps.retry_delay)
        except ProviderError as error:
            log.warning("guarantee %s's page not stopped at %s: %s", guarantee.id, provider.name, error)


async def _let_go(deps: PaymentDeps, guarantee: PaymentTransaction, event: PaymentEvent) -> None:
    """A hold that came after its guarantee was cancelled must not stay on the card."""
    async with deps.uow() as uow:
        vendor = await uow.vendors.get(guarantee.vendor_id)
        if vendor is None:  # pragma: no cover
            return
        _provider, holds = guarantee_provider(deps, vendor, await uow.vendors.credentials(vendor.id))
        hold = await card_hold(uow, guarantee)
    if event.reference:
        hold = replace(hold, reference=event.reference)
    await with_retries(lambda: holds.release_hold(hold), deps.retry_delay)
    log.warning("hold %s on cancelled guarantee %s released at once", event.reference, guarantee.id)


async def record_captured(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    """The provider says the hold was captured: our capture told again (nothing changes), a capture
    whose answer we missed (its pending payment recorded), or one made at the provider itself (a
    payment of its own)."""
    now = deps.clock()
    async with deps.uow() as uow:
        located = await locked(uow, event)
        if located is None:
            return Outcome.UNKNOWN
        order, guarantee = located
        if not guarantee.is_guarantee or guarantee.status is TransactionStatus.CAPTURED:
            return Outcome.DUPLICATE
        if not (guarantee.is_held or guarantee.status in _TAKEN_FOR_OVER):
            log.warning(
                "capture event %s on guarantee %s in %s", event.event_id, guarantee.id, guarantee.status
            )
            return Outcome.FLAGGED
        vendor = await uow.vendors.get(order.vendor_id)
        if vendor is None:  # pragma: no cover
            return Outcome.UNKNOWN
        transactions = await uow.transactions.for_order(order.id)
        amount = event.amount or guarantee.capturable
        pending = [t for t in transactions if t.guarantee_id == guarantee.id and t.is_open]
        if pending:
            payment = pending[0]
            if payment.amount != amount:
                payment.amount = amount
        else:
            ledger = Ledger.of(order.price or amount, transactions)
            payment = new_request(vendor, order, ledger, amount, now, guarantee.provider)
            payment.guarantee_id = guarantee.id
            payment.label = messages.transaction_label(vendor, order, "capture")
            await uow.transactions.add(payment)
        outcome = await capture_in(uow, order, guarantee, payment, event.reference, now)
        await uow.commit()
    return outcome


# A capture told for a guarantee we had taken for released or lapsed: the money was taken all the same.
_TAKEN_FOR_OVER = frozenset({TransactionStatus.RELEASED, TransactionStatus.EXPIRED})


async def record_released(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    """The provider let the hold go (cancelled there, or lapsed): recorded and told."""
    if event.transaction_id is None:
        return Outcome.UNKNOWN
    async with deps.uow() as uow:
        located = await locked(uow, event)
    if located is None:
        return Outcome.UNKNOWN
    _order, guarantee = located
    if not guarantee.is_held:
        return Outcome.DUPLICATE
    # Stripe cancels a hold it let lapse with reason "automatic" (older API versions: "expired").
    lapsed = event.detail in {"lapsed", "automatic", "expired"}
    done = await record_release(deps, guarantee.id, "lapsed" if lapsed else "provider", lapsed=lapsed)
    return Outcome.RECORDED if done else Outcome.DUPLICATE


async def remember_card(deps: PaymentDeps, event: PaymentEvent) -> CardToken | None:
    """Keeps the card an event names, once, if the customer agreed (the provider shows it saved with
    their consent), or only for the capture of the guarantee it secures. A card the vendor never
    offered to save is not kept."""
    candidate = event.saved_card
    if candidate is None or event.transaction_id is None:
        return None
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(event.transaction_id)
        if transaction is None:
            return None
        order = await uow.orders.get(transaction.commande_id)
        vendor = await uow.vendors.get(transaction.vendor_id)
        provider = await provider_of(deps, uow, transaction.vendor_id)
        phone_link = await uow.phone_links.for_transaction(transaction.id)
        known = await uow.cards.by_token(transaction.vendor_id, event.provider, candidate.token)
    if known is not None or order is None or vendor is None or not isinstance(provider, SavedCardCharge):
        return known
    offered = vendor.payment.guarantee.saved_cards or (phone_link is not None and phone_link.save_card)
    details = None
    if offered and (not transaction.is_guarantee or provider.guarantee_pages_ask_consent):
        details = await with_retries(lambda: provider.card_details(candidate), deps.retry_delay)
    if details is not None:
        source = ConsentSource.PHONE if phone_link is not None else ConsentSource.CHECKOUT
    elif transaction.is_guarantee:
        # Kept for the guarantee's capture only (the customer did not ask to keep it, or the provider's
        # page cannot tell), and forgotten when the guarantee is over.
        source = ConsentSource.GUARANTEE
    else:
        return None
    card = _card(vendor.id, order.customer_id, event.provider, details or candidate, source, deps)
    async with deps.uow() as uow:
        kept = await uow.cards.keep(card)
        if transaction.is_guarantee and transaction.card_token_id is None:
            fresh = await uow.transactions.get(transaction.id)
            if fresh is not None:
                fresh.card_token_id = kept.id
                await uow.transactions.update(fresh)
        await uow.commit()
    log.info("card %s kept for customer %s (%s)", kept.label, order.customer_id, kept.consent_source)
    return kept


def _card(
    vendor_id: uuid.UUID, customer_id: uuid.UUID, provider: str, card: SavedCard, source: ConsentSource,
    deps: PaymentDeps,
) -> CardToken:  # fmt: skip
    now = deps.clock()
    return CardToken(
        id=uuid.uuid4(), vendor_id=vendor_id, customer_id=customer_id, provider=provider, token=card.token,
        consent_at=now, consent_source=source, created_at=now, brand=card.brand, last4=card.last4,
        exp_month=card.exp_month, exp_year=card.exp_year, provider_customer_id=card.provider_customer_id,
    )  # fmt: skip
