"""Card guarantees (roadmap step 9): asked by a link, captured in part or in full ("Débiter garantie"),
or released. A capture is a payment of its own, recorded in the same transaction that marks the
guarantee captured, so a crash can never let a hold be charged twice.

No provider call runs inside a database transaction: the row is committed, the provider is called, then
the answer is recorded. A capture without an answer stays pending and is looked up at the provider by the
guarantee job before anything else is charged.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from bot.domain.customer import Customer
from bot.domain.deposit import Ledger
from bot.domain.errors import (
    CardsNotSupported,
    ChargeFailed,
    ChargePending,
    GuaranteeAlreadyActive,
    HoldNotActive,
    NoGuarantee,
)
from bot.domain.guarantee import GuaranteeMode
from bot.domain.money import Money, Percent, parse_amount, parse_amount_or_percent
from bot.domain.order import Order
from bot.domain.transaction import PaymentTransaction, TransactionStatus, TransactionType
from bot.domain.vendor import Vendor
from bot.payments.port import (
    CardGuarantee,
    CardHold,
    ChargeAttempt,
    ChargeStatus,
    PaymentEvent,
    PaymentEventKind,
    PaymentProvider,
)
from bot.services import guarantee_messages, messages
from bot.services.closing import close_requests, deactivate_at_provider
from bot.services.context import PaymentDeps, with_retries
from bot.services.orders import order_by_number
from bot.services.payments import RequestOutcome, complete_request, new_request
from bot.services.settlement import Outcome, record_paid
from bot.services.vendors import VendorRef, find_vendor
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def guarantee_provider(
    deps: PaymentDeps, vendor: Vendor, sealed: str | None
) -> tuple[PaymentProvider, CardGuarantee]:
    """The vendor's provider, as a provider and as the holder of guarantees it must be."""
    provider = deps.providers.for_vendor(vendor, sealed)
    if not isinstance(provider, CardGuarantee):
        raise CardsNotSupported(provider=provider.name)
    return provider, provider


async def active_guarantee(uow: UnitOfWork, order_id: uuid.UUID) -> PaymentTransaction | None:
    """The order's guarantee still asked (its link open) or held: one at a time."""
    for transaction in reversed(await uow.transactions.for_order(order_id)):
        if transaction.is_guarantee and (transaction.is_open or transaction.is_held):
            return transaction
    return None


async def card_hold(uow: UnitOfWork, guarantee: PaymentTransaction) -> CardHold:
    """The guarantee as its provider needs it to capture, release or look it up."""
    link = None if guarantee.payment_link_id is None else await uow.links.get(guarantee.payment_link_id)
    card = None if guarantee.card_token_id is None else await uow.cards.get(guarantee.card_token_id)
    order = await uow.orders.get(guarantee.commande_id)
    customer = None if order is None else await uow.customers.get(order.customer_id)
    return CardHold(
        transaction_id=guarantee.id,
        vendor_id=guarantee.vendor_id,
        held=guarantee.held or guarantee.amount,
        reference=guarantee.provider_reference,
        provider_link_id=None if link is None else link.provider_link_id,
        created_at=guarantee.created_at,
        lapses_at=guarantee.hold_lapses_at,
        token=None if card is None else card.token,
        provider_client_id=None if customer is None else customer.provider_client_id,
        card_on_file=guarantee.card_on_file,
        known_references=frozenset()
        if order is None or guarantee.provider is None
        else await uow.transactions.customer_references(
            guarantee.vendor_id, order.customer_id, guarantee.provider, guarantee.id
        ),
    )


def new_guarantee(
    vendor: Vendor, order: Order, amount: Money, now: datetime, provider: str
) -> PaymentTransaction:
    return PaymentTransaction(
        id=uuid.uuid4(), commande_id=order.id, vendor_id=vendor.id, amount=amount,
        # The source's type column has no "guarantee": partiel says it is not the order's payment.
        type=TransactionType.PARTIEL, label=messages.transaction_label(vendor, order, "garantie"),
        status=TransactionStatus.PENDING, created_at=now, updated_at=now, provider=provider,
        is_guarantee=True, user_id=vendor.owner_user_id,
    )  # fmt: skip


def _amount(vendor: Vendor, order: Order, typed: str | Money | Percent | None) -> Money:
    wanted = parse_amount_or_percent(typed, vendor.currency) if isinstance(typed, str) else typed
    price = order.price if order.price is not None else None
    if price is None and not isinstance(wanted, Money):
        order.require_price()  # raises OrderHasNoPrice: a percent or the default needs a price
    base = price if price is not None else Money.zero(vendor.currency)
    amount = vendor.payment.guarantee.amount_for(base, wanted)
    if not amount.is_positive():
        order.require_price()
    return amount


async def request_guarantee(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int, typed: str | Money | Percent | None = None
) -> RequestOutcome:
    """Sends the customer of order ``number`` a link that authorises a hold of ``typed`` (an amount, a
    percent of the price) or of the vendor's guarantee_amount; returns it once the message is queued."""
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        vendor.payment.guarantee.check_enabled()
        order = await order_by_number(uow, vendor, number, lock=True)
        order.check_payable(vendor.payment.confirmation_rule)
        existing = await active_guarantee(uow, order.id)
        if existing is not None:
            raise GuaranteeAlreadyActive(order=order.reference, state=existing.status.value)
        provider, _holds = guarantee_provider(deps, vendor, await uow.vendors.credentials(vendor.id))
        guarantee = new_guarantee(vendor, order, _amount(vendor, order, typed), now, provider.name)
        await uow.transactions.add(guarantee)
        customer = await _customer(uow, order)
        await uow.commit()
    url = await complete_request(deps, provider, guarantee, order, vendor, customer)
    return RequestOutcome(order, guarantee, url, customer)


async def required_guarantee(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int
) -> RequestOutcome | None:
    """With guarantee_mode required, an order's payment request comes with a guarantee request, once:
    asked now unless the order has had one (asked, held or captured)."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        if vendor.payment.guarantee.mode is not GuaranteeMode.REQUIRED:
            return None
        order = await order_by_number(uow, vendor, number)
        had = [
            t for t in await uow.transactions.for_order(order.id)
            if t.is_guarantee and (t.is_open or t.status in _HAD_ONE)
        ]  # fmt: skip
    if had:
        return None
    return await request_guarantee(deps, vendor, number)


_HAD_ONE = frozenset({TransactionStatus.HELD, TransactionStatus.CAPTURED})


async def _customer(uow: UnitOfWork, order: Order) -> Customer:
    customer = await uow.customers.get(order.customer_id)
    if customer is None:  # pragma: no cover - a foreign key guarantees it
        raise LookupError(order.customer_id)
    return customer


async def _held(uow: UnitOfWork, order: Order) -> PaymentTransaction:
    guarantee = await active_guarantee(uow, order.id)
    if guarantee is None:
        raise NoGuarantee(order=order.reference)
    if not guarantee.is_held:
        raise HoldNotActive(order=order.reference, status=guarantee.status.value, state="requested")
    return guarantee


@dataclass(frozen=True, slots=True)
class CapturePreview:
    order: Order
    guarantee: PaymentTransaction
    amount: Money


async def preview_capture(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int, typed: str | Money | None = None
) -> CapturePreview:
    """What ``debiter N [montant]`` would charge, checked; nothing is changed (the vendor confirms)."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number)
        guarantee = await _held(uow, order)
    amount = _capture_amount(vendor, guarantee, typed)
    guarantee.check_capture(amount)
    return CapturePreview(order, guarantee, amount)


def _capture_amount(vendor: Vendor, guarantee: PaymentTransaction, typed: str | Money | None) -> Money:
    if typed is None:
        return guarantee.capturable
    return parse_amount(typed, vendor.currency) if isinstance(typed, str) else typed


@dataclass(frozen=True, slots=True)
class CaptureOutcome:
    order: Order
    guarantee: PaymentTransaction
    payment: PaymentTransaction
    ledger: Ledger


async def capture_guarantee(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int, typed: str | Money | None = None
) -> CaptureOutcome:
    """Charges ``typed`` (by default all) of the order's held guarantee; the rest is released."""
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        guarantee = await _held(uow, order)
        amount = _capture_amount(vendor, guarantee, typed)
        guarantee.check_capture(amount)
        transactions = await uow.transactions.for_order(order.id)
        if any(t.guarantee_id == guarantee.id and t.is_open for t in transactions):
            raise ChargePending(order=order.reference)
        provider, holds = guarantee_provider(deps, vendor, await uow.vendors.credentials(vendor.id))
        ledger = Ledger.of(order.price or amount, transactions)
        payment = new_request(vendor, order, ledger, amount, now, provider.name)
        payment.guarantee_id = guarantee.id
        payment.label = messages.transaction_label(vendor, order, "capture")
        await uow.transactions.add(payment)
        hold = await card_hold(uow, guarantee)
        await uow.commit()
    attempt = await holds.capture_hold(hold, amount, f"capture-{payment.id}")
    return await apply_capture(deps, payment.id, attempt)


async def apply_capture(deps: PaymentDeps, payment_id: uuid.UUID, attempt: ChargeAttempt) -> CaptureOutcome:
    """Records what the provider answered to a capture: the guarantee captured and its payment paid in
    one transaction; a refusal closes the pending payment; no answer leaves it for the guarantee job."""
    now = deps.clock()
    async with deps.uow() as uow:
        payment = await uow.transactions.get(payment_id)
        if payment is None or payment.guarantee_id is None:  # pragma: no cover
            raise LookupError(payment_id)
        order = await uow.orders.get(payment.commande_id, for_update=True)
        guarantee = await uow.transactions.get(payment.guarantee_id)
        payment = await uow.transactions.get(payment_id)
        if order is None or guarantee is None or payment is None:  # pragma: no cover
            raise LookupError(payment_id)
        if attempt.status is ChargeStatus.UNKNOWN:
            raise ChargePending(order=order.reference)
        if attempt.status is not ChargeStatus.SUCCEEDED:
            payment.cancel(now)
            await uow.transactions.update(payment)
            await uow.transactions.set_failure_reason(payment.id, attempt.reason or attempt.status.value)
            await uow.commit()
            raise ChargeFailed(order=order.reference, reason=attempt.reason or attempt.status.value)
        if attempt.amount is not None and attempt.amount != payment.amount:
            # What the provider says it took is what was paid.
            payment.amount = attempt.amount
        await capture_in(uow, order, guarantee, payment, attempt.reference, now)
        await uow.commit()
        ledger = Ledger.of(order.require_price(), await uow.transactions.for_order(order.id))
        payment = await uow.transactions.get(payment_id) or payment
    return CaptureOutcome(order, guarantee, payment, ledger)


async def capture_in(
    uow: UnitOfWork, order: Order, guarantee: PaymentTransaction, payment: PaymentTransaction,
    reference: str | None, now: datetime,
) -> Outcome:  # fmt: skip
    """Under the order's lock: the guarantee is captured for the payment's amount, and the payment is
    recorded (receipt, vendor's note, order settled when covered). Told twice, nothing changes."""
    if guarantee.status is TransactionStatus.CAPTURED:
        return Outcome.DUPLICATE
    if guarantee.is_held:
        guarantee.capture(payment.amount, now)
    else:
        # Released (or lapsed) here while the capture's answer was lost: the money was taken all the same.
        log.warning("guarantee %s captured after it was taken for %s", guarantee.id, guarantee.status)
        guarantee.captured_after_all(payment.amount, now)
    await uow.transactions.update(guarantee)
    await forget_guarantee_card(uow, guarantee, now)
    event = PaymentEvent(
        provider=payment.provider or "", event_id=f"capture:{payment.id}", kind=PaymentEventKind.PAID,
        occurred_at=now, transaction_id=payment.id, reference=reference, amount=payment.amount,
        method="card",
    )  # fmt: skip
    return await record_paid(uow, order, payment, event, now)


async def forget_guarantee_card(uow: UnitOfWork, guarantee: PaymentTransaction, now: datetime) -> None:
    """A card kept only for this guarantee's capture is forgotten once the guarantee is over (the
    guarantee job deletes it at the provider); a card the customer chose to save stays."""
    if guarantee.card_token_id is None:
        return
    card = await uow.cards.get(guarantee.card_token_id)
    if card is not None and card.consent_source.value == "guarantee":
        await uow.cards.forget(card.id, now)


async def release_guarantee(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int
) -> PaymentTransaction:
    """``liberer N``: the hold is let go (or the request for it cancelled, its link stopped first)."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number)
        guarantee = await active_guarantee(uow, order.id)
        if guarantee is None:
            raise NoGuarantee(order=order.reference)
        sealed = await uow.vendors.credentials(vendor.id)
        links = await uow.transactions.links([guarantee.payment_link_id] if guarantee.payment_link_id else [])
    if guarantee.is_held:
        await release(deps, guarantee.id, "asked")
    else:
        provider = deps.providers.for_vendor(vendor, sealed)
        await deactivate_at_provider(deps, provider, links)
        async with deps.uow() as uow:
            await uow.orders.get(order.id, for_update=True)
            fresh = await uow.transactions.get(guarantee.id)
            await close_requests(uow, [fresh] if fresh is not None else [], deps.clock())
            await uow.commit()
    async with deps.uow() as uow:
        return await uow.transactions.get(guarantee.id) or guarantee


async def _capture_in_flight(uow: UnitOfWork, guarantee: PaymentTransaction) -> bool:
    return any(
        t.guarantee_id == guarantee.id and t.is_open
        for t in await uow.transactions.for_order(guarantee.commande_id)
    )


async def release(deps: PaymentDeps, guarantee_id: uuid.UUID, reason: str) -> bool:
    """Lets a held guarantee go at its provider, then records it and tells the customer and the vendor.
    False when it was not held (any more). A provider error is raised: the guarantee job tries again."""
    async with deps.uow() as uow:
        guarantee = await uow.transactions.get(guarantee_id)
        if guarantee is None or not guarantee.is_held:
            return False
        vendor = await uow.vendors.get(guarantee.vendor_id)
        order = await uow.orders.get(guarantee.commande_id)
        if vendor is None or order is None:  # pragma: no cover
            return False
        if await _capture_in_flight(uow, guarantee):
            # Its answer decides: a hold let go now could be a capture made and never recorded.
            raise ChargePending(order=order.reference)
        _provider, holds = guarantee_provider(deps, vendor, await uow.vendors.credentials(vendor.id))
        hold = await card_hold(uow, guarantee)
    await with_retries(partial(holds.release_hold, hold), deps.retry_delay)
    return await record_release(deps, guarantee_id, reason, lapsed=False)


async def record_release(deps: PaymentDeps, guarantee_id: uuid.UUID, reason: str, *, lapsed: bool) -> bool:
    now = deps.clock()
    async with deps.uow() as uow:
        found = await uow.transactions.get(guarantee_id)
        if found is None:
            return False
        order = await uow.orders.get(found.commande_id, for_update=True)
        guarantee = await uow.transactions.get(guarantee_id)
        vendor = await uow.vendors.get(found.vendor_id)
        if order is None or guarantee is None or vendor is None:  # pragma: no cover
            return False
        if await _capture_in_flight(uow, guarantee):
            return False
        changed = guarantee.lapse(now) if lapsed else guarantee.release(now)
        if not changed:
            return False
        await uow.transactions.update(guarantee)
        await forget_guarantee_card(uow, guarantee, now)
        customer = await _customer(uow, order)
        admins = await uow.vendors.admin_phones(vendor.id)
        await uow.outbox.add(guarantee_messages.released(vendor, customer, order, guarantee), now)
        for note in guarantee_messages.released_note(vendor, admins, order, guarantee, reason):
            await uow.outbox.add(note, now)
        await uow.commit()
    log.info("guarantee %s released (%s)", guarantee_id, reason)
    return True
