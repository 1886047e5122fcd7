"""Provider callbacks confirmed through the provider's API (iCount's IPN): stored, then confirmed, then
recorded once.

A callback proves nothing by itself: anyone who learnt its address could post one. It names its request
by the secret in its address (``callback_is_ours``); its payment counts only once the provider's API
shows that payment, for that amount, not refunded, and not already counted for another request (by any
of its names: its reference, its document). The provider repeats callbacks: the inbox keeps one per
request and payment.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from bot.payments.port import (
    CallbackNotice,
    ConfirmedPayment,
    HoldConfirmation,
    PaymentConfirmation,
    PaymentEvent,
    PaymentEventKind,
    ProviderError,
)
from bot.services.context import PaymentDeps, with_retries
from bot.services.events import apply_event
from bot.services.inbox import run_claimed
from bot.services.invoices import issue_invoice
from bot.services.providers import provider_of
from bot.services.settlement import Outcome
from bot.store.repositories.inbox import InboundEvent

log = logging.getLogger(__name__)
EVENT_TYPE = "ipn"
BACKLOG_BATCH = 100


class UnconfirmedPayment(Exception):
    """The provider's API does not show the payment a callback claims: nothing is recorded."""


async def callback_is_ours(
    deps: PaymentDeps, provider_name: str, secret: str, transaction_id: uuid.UUID
) -> bool:
    """Whether ``secret`` is the callback secret of this request at its provider (a forged or stale
    address is not)."""
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None or transaction.provider != provider_name:
            return False
        provider = await provider_of(deps, uow, transaction.vendor_id)
    return isinstance(provider, PaymentConfirmation) and provider.accepts_callback(secret)


async def _confirmed_event(deps: PaymentDeps, stored: InboundEvent, at: datetime) -> PaymentEvent:
    notice = CallbackNotice.load(stored.payload, stored.event_key)
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(notice.transaction_id)
        if transaction is None:
            raise UnconfirmedPayment(f"no request {notice.transaction_id}")
        provider = await provider_of(deps, uow, transaction.vendor_id)
    if not isinstance(provider, PaymentConfirmation) or provider.name != stored.source:
        raise UnconfirmedPayment(f"the vendor no longer uses {stored.source}")
    currency = transaction.amount.currency
    if transaction.is_guarantee and isinstance(provider, HoldConfirmation):
        # A guarantee's callback tells of a hold (or a card kept on file), never of a payment.
        held = transaction.amount
        confirmed = await with_retries(
            lambda: provider.confirm_hold(notice, held, at.date()), deps.retry_delay
        )
    else:
        confirmed = await with_retries(
            lambda: provider.confirm_payment(notice, currency, at.date()), deps.retry_delay
        )
    if confirmed is None:
        raise UnconfirmedPayment(f"{stored.source}'s API does not show the payment of {notice.key}")
    if await _counted_elsewhere(deps, stored.source, transaction.vendor_id, transaction.id, confirmed):
        raise UnconfirmedPayment(f"payment {confirmed.reference} is already counted for another request")
    return PaymentEvent(
        provider=stored.source,
        event_id=stored.event_key,
        kind=PaymentEventKind.HELD if confirmed.held else PaymentEventKind.PAID,
        occurred_at=at,
        transaction_id=transaction.id,
        reference=confirmed.reference,
        amount=confirmed.amount,
        method="card",
        vendor_id=transaction.vendor_id,
        saved_card=confirmed.saved_card,
        hold_lapses_at=confirmed.hold_lapses_at,
        card_on_file=confirmed.card_on_file,
        customer_email=notice.fields.get("customer_email"),
    )


async def _counted_elsewhere(
    deps: PaymentDeps, provider: str, vendor_id: uuid.UUID, transaction_id: uuid.UUID, found: ConfirmedPayment
) -> bool:
    """Whether another request already counts this payment, by any of its names."""
    async with deps.uow() as uow:
        names = (found.reference, *found.other_references)
        others = [await uow.transactions.by_reference(provider, reference) for reference in names]
        for doctype, number in found.documents:
            # A payment counted by its confirmation code has the document as its invoice.
            invoice = await uow.invoices.invoice_of_document(vendor_id, provider, doctype, number)
            others.append(None if invoice is None else await uow.transactions.get(invoice.transaction_id))
    return any(other is not None and other.id != transaction_id for other in others)


async def process_callback(deps: PaymentDeps, event_id: int) -> Outcome | None:
    """Confirms a stored callback through the provider's API and records its payment once. A callback
    the API does not confirm stays in the inbox as failed (tried again a few times, in case the
    provider's lists lag)."""

    async def confirm_and_apply(stored: InboundEvent) -> tuple[uuid.UUID, Outcome]:
        event = await _confirmed_event(deps, stored, deps.clock())
        assert event.transaction_id is not None  # set by _confirmed_event
        return event.transaction_id, await apply_event(deps, event)

    _done, result = await run_claimed(
        deps.uow, deps.clock, event_id, confirm_and_apply, expected=(UnconfirmedPayment, ProviderError)
    )
    if result is None:
        return None
    transaction_id, outcome = result
    log.info("callback %s: %s", event_id, outcome)
    if outcome is Outcome.RECORDED:
        try:
            await issue_invoice(deps, transaction_id)
        except ProviderError as error:
            log.warning("invoice for %s delayed (the invoice pass will retry): %s", transaction_id, error)
    return outcome


async def process_callback_backlog(deps: PaymentDeps, grace: timedelta = timedelta(seconds=30)) -> int:
    """Callbacks a crash (or a lagging provider) left unconfirmed are tried again."""
    sources = set(deps.providers.names_with(PaymentConfirmation))
    async with deps.uow() as uow:
        waiting = await uow.inbox.unprocessed(sources, deps.clock() - grace, BACKLOG_BATCH)
    done = 0
    for event_id in waiting:
        done += (await process_callback(deps, event_id)) is not None
    return done
