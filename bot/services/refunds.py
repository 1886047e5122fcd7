"""Refunds, whichever way the money came: cash, the sandbox, Stripe or an iCount card payment, in full or
in part, over one or several payments of an order.

Each refund is a row written before the provider is asked (``pending``), so a crash or a timeout never
leaves a refund untold: its outcome is recorded as ``succeeded``, ``failed`` or ``unknown``. An unknown
one (or one left pending by a stopped process) is checked at the provider before anything else is
refunded on that order, and is never asked again blindly: Stripe is asked for the refund made with our
key, iCount's card transaction is read. A refund never gives back more than was paid minus what was
refunded and what is being refunded. Each success updates the payment and the order under the order's
lock and tells the customer and the vendor.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.deposit import Ledger
from bot.domain.errors import (
    DomainError,
    NothingToRefund,
    NoUnknownRefund,
    RefundFailed,
    RefundNotSupported,
    RefundPending,
    RefundResolved,
    RefundUncertain,
)
from bot.domain.money import Money, parse_amount
from bot.domain.order import Order
from bot.domain.refund import BY_CLI, Refund, RefundPlan, RefundStatus, in_flight_by_transaction, plan_refund
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.payments.port import Invoicing, PaidPayment, PaymentProvider, ProviderError, RefundAttempt, Refunds
from bot.services.context import PaymentDeps
from bot.services.invoices import paid_payment
from bot.services.orders import order_by_number
from bot.services.settlement import record_refund_success
from bot.services.vendors import VendorRef, find_vendor
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)
# A refund still pending after this was being asked by a process that stopped: its outcome is unknown.
PENDING_GRACE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class RefundPreview:
    """What ``rembourser 12 20`` would do, shown before the vendor confirms."""

    order: Order
    amount: Money
    paid: Money
    refunded: Money
    available: Money
    plan: RefundPlan


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    order: Order
    refunds: list[Refund]
    ledger: Ledger

    @property
    def amount(self) -> Money:
        total = Money.zero(self.ledger.price.currency)
        for refund in self.refunds:
            total = total + refund.amount
        return total

    @property
    def refunded(self) -> Money:
        """Everything refunded on the order so far."""
        return self.ledger.refunded


def _route(vendor: Vendor, transaction: PaymentTransaction, provider: PaymentProvider | None) -> None:
    """Refuses a payment no refund path can give back (a provider the vendor no longer uses, or one
    that cannot refund)."""
    if transaction.is_cash:
        return
    if provider is None or provider.name != transaction.provider:
        raise RefundNotSupported(provider=transaction.provider or vendor.payment.provider.value)
    if not isinstance(provider, Refunds):
        raise RefundNotSupported(provider=provider.name)


async def _provider(deps: PaymentDeps, uow: UnitOfWork, vendor: Vendor) -> PaymentProvider | None:
    try:
        return deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
    except (DomainError, ValueError) as error:
        log.warning("vendor %s's provider is not usable for refunds: %s", vendor.id, error)
        return None


async def preview(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int, amount_text: str | None
) -> RefundPreview:
    """Checks a refund the vendor is about to confirm; nothing is changed."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number)
        transactions = await uow.transactions.for_order(order.id)
        in_flight = in_flight_by_transaction(await uow.refunds.for_order(order.id))
        provider = await _provider(deps, uow, vendor)
    return _preview(vendor, order, transactions, in_flight, amount_text, provider)


def _preview(
    vendor: Vendor,
    order: Order,
    transactions: list[PaymentTransaction],
    in_flight: dict[uuid.UUID, Money],
    amount_text: str | None,
    provider: PaymentProvider | None,
) -> RefundPreview:
    received = [t for t in transactions if t.received]
    if not received:
        raise NothingToRefund(order=order.reference)
    if in_flight:
        total = sum((m.amount for m in in_flight.values()), start=Money.zero(vendor.currency).amount)
        raise RefundPending(amount=Money(total, vendor.currency), order=order.reference)
    amount = None if amount_text is None else parse_amount(amount_text, vendor.currency)
    plan = plan_refund(received, in_flight, amount)
    for transaction, _share in plan.parts:
        _route(vendor, transaction, provider)
    ledger = Ledger.of(order.require_price(), transactions)
    return RefundPreview(
        order=order,
        amount=plan.total,
        paid=ledger.received,
        refunded=ledger.refunded,
        available=ledger.paid,
        plan=plan,
    )


async def refund(
    deps: PaymentDeps,
    vendor_reference: VendorRef,
    number: int,
    amount_text: str | None = None,
    requested_by: str = BY_CLI,
) -> RefundOutcome:
    """Refunds ``amount_text`` (None: all that may be refunded) of the order, the latest payments first.

    Raises RefundFailed when the provider refused, RefundUncertain when it did not answer (the refund is
    kept as unknown and checked before anything else), RefundPending while an earlier one is unknown."""
    await resolve_order_refunds(deps, vendor_reference, number)
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        transactions = await uow.transactions.for_order(order.id)
        in_flight = in_flight_by_transaction(await uow.refunds.for_order(order.id))
        provider = await _provider(deps, uow, vendor)
        planned = _preview(vendor, order, transactions, in_flight, amount_text, provider).plan
        rows = []
        for transaction, share in planned.parts:
            cash = transaction.is_cash
            row = Refund(
                id=uuid.uuid4(), vendor_id=vendor.id, transaction_id=transaction.id, amount=share,
                status=RefundStatus.PENDING, requested_by=requested_by, created_at=now, updated_at=now,
                provider=None if cash else transaction.provider,
            )  # fmt: skip
            await uow.refunds.add(row)
            rows.append((row, transaction))
        await uow.commit()
    done: list[Refund] = []
    for row, transaction in rows:
        attempt = await _ask(deps, vendor, provider, transaction, row)
        recorded = await _record(deps, row.id, attempt)
        if attempt.status is RefundStatus.FAILED:
            raise RefundFailed(
                amount=row.amount, order=order.reference, provider=row.provider or "cash",
                reason=attempt.reason or "",
            )  # fmt: skip
        if attempt.status is RefundStatus.UNKNOWN:
            raise RefundUncertain(amount=row.amount, order=order.reference, provider=row.provider or "")
        if recorded is not None:
            done.append(recorded)
    async with deps.uow() as uow:
        current = await uow.orders.get(order.id)
        ledger = Ledger.of(order.require_price(), await uow.transactions.for_order(order.id))
    return RefundOutcome(current or order, done, ledger)


async def _payment(deps: PaymentDeps, transaction: PaymentTransaction) -> PaidPayment:
    async with deps.uow() as uow:
        return await paid_payment(uow, transaction, deps.clock().date())


async def _ask(
    deps: PaymentDeps,
    vendor: Vendor,
    provider: PaymentProvider | None,
    transaction: PaymentTransaction,
    row: Refund,
) -> RefundAttempt:
    """Asks the provider once for ``row`` (never again blindly when it may have been made)."""
    payment = await _payment(deps, transaction)
    if transaction.is_cash:
        return await _cash_back(provider, payment, row)
    if not isinstance(provider, Refunds):  # pragma: no cover - _route refused it before the row was written
        return RefundAttempt(RefundStatus.FAILED, reason="the provider cannot refund")
    return await provider.refund_payment(payment, row.amount, row.idempotency_key)


async def _cash_back(provider: PaymentProvider | None, payment: PaidPayment, row: Refund) -> RefundAttempt:
    """Money handed back at the register; given back in full, its receipt at the provider is cancelled."""
    if payment.invoice is None or row.amount != payment.amount or not isinstance(provider, Invoicing):
        return RefundAttempt(RefundStatus.SUCCEEDED)
    try:
        await provider.cancel_invoice(payment.invoice, "refund")
    except ProviderError as error:
        log.warning("cash refunded, but receipt %s was not cancelled: %s", payment.invoice.number, error)
        return RefundAttempt(RefundStatus.SUCCEEDED)
    return RefundAttempt(RefundStatus.SUCCEEDED, invoice_cancelled=True)


async def _check(
    deps: PaymentDeps, provider: PaymentProvider | None, transaction: PaymentTransaction, row: Refund
) -> RefundAttempt:
    """What the provider shows of a refund whose outcome we do not know."""
    if not isinstance(provider, Refunds) or provider.name != row.provider:
        return RefundAttempt(RefundStatus.UNKNOWN, reason="the provider is not configured")
    payment = await _payment(deps, transaction)
    return await provider.check_refund(payment, row.amount, row.idempotency_key, row.updated_at, deps.clock())


async def _record(deps: PaymentDeps, refund_id: uuid.UUID, attempt: RefundAttempt) -> Refund | None:
    """Writes the outcome of one refund; a success moves the payment and the order and tells the
    customer and the vendor. Returns the refund when it succeeded now."""
    now = deps.clock()
    async with deps.uow() as uow:
        found = await uow.refunds.get(refund_id)
        if found is None:  # pragma: no cover
            return None
        transaction = await uow.transactions.get(found.transaction_id)
        if transaction is None:  # pragma: no cover - a foreign key guarantees it
            return None
        order = await uow.orders.get(transaction.commande_id, for_update=True)
        row = await uow.refunds.get(refund_id)
        if order is None or row is None or not row.in_flight:
            return None  # recorded meanwhile (a provider's webhook told it first)
        row.updated_at = now
        row.provider_reference = attempt.reference or row.provider_reference
        row.failure_reason = attempt.reason
        row.status = attempt.status
        if attempt.status is RefundStatus.SUCCEEDED:
            row.failure_reason = None
            await record_refund_success(uow, order, row, now)
        if attempt.invoice_cancelled:
            await uow.invoices.mark_invoice_cancelled(transaction.id, now)
        await uow.refunds.update(row)
        await uow.commit()
    if attempt.status is not RefundStatus.SUCCEEDED:
        log.warning("refund %s of %s: %s (%s)", refund_id, found.amount, attempt.status, attempt.reason)
        return None
    return row


async def resolve_order_refunds(deps: PaymentDeps, vendor_reference: VendorRef, number: int) -> None:
    """Before a new refund: the order's refunds of unknown outcome are checked at the provider. One found
    made or not made is reported (RefundResolved) and nothing new is done, since the vendor asking again
    may mean that same refund; one still unknown, or being asked right now, stops it (RefundPending)."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number)
        waiting = [r for r in await uow.refunds.for_order(order.id) if r.in_flight]
    for row in waiting:
        status = await resolve(deps, row)
        if status in {RefundStatus.SUCCEEDED, RefundStatus.FAILED}:
            raise RefundResolved(
                amount=row.amount, order=order.reference, made=status is RefundStatus.SUCCEEDED,
                provider=row.provider or "",
            )  # fmt: skip
    if waiting:
        raise RefundPending(amount=waiting[0].amount, order=order.reference)


async def resolve(deps: PaymentDeps, row: Refund) -> RefundStatus:
    """Checks one refund of unknown outcome at the provider and records what it shows. A pending one
    younger than PENDING_GRACE is being asked right now and is left alone."""
    if row.status is RefundStatus.PENDING and row.updated_at > deps.clock() - PENDING_GRACE:
        return row.status
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(row.transaction_id)
        vendor = await uow.vendors.get(row.vendor_id)
        if transaction is None or vendor is None:  # pragma: no cover - foreign keys
            return row.status
        provider = await _provider(deps, uow, vendor)
    if transaction.is_cash:
        # Cash never waits on anyone: a row left pending was cut off before it was written as done.
        attempt = RefundAttempt(RefundStatus.SUCCEEDED)
    else:
        attempt = await _check(deps, provider, transaction, row)
    if attempt.status is RefundStatus.PENDING:  # pragma: no cover - checks never answer pending
        attempt = RefundAttempt(RefundStatus.UNKNOWN, reason=attempt.reason)
    await _record(deps, row.id, attempt)
    log.info("refund %s of unknown outcome checked: %s", row.id, attempt.status)
    return attempt.status


async def resolve_uncertain_refunds(deps: PaymentDeps) -> int:
    """The recovery pass: every refund of unknown outcome is checked; returns how many became known."""
    async with deps.uow() as uow:
        waiting = await uow.refunds.in_flight(deps.clock() - PENDING_GRACE)
    known = 0
    for row in waiting:
        try:
            known += (await resolve(deps, row)) not in {RefundStatus.UNKNOWN, RefundStatus.PENDING}
        except (DomainError, ProviderError) as error:
            log.warning("refund %s still unknown: %s", row.id, error)
    return known


async def settle_by_hand(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int, made: bool
) -> list[Refund]:
    """The vendor read their provider's dashboard: the order's refunds of unknown outcome were made (or
    not). The only way out when the provider cannot tell (two partial iCount refunds look alike)."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number)
        waiting = [r for r in await uow.refunds.for_order(order.id) if r.status is RefundStatus.UNKNOWN]
    if not waiting:
        raise NoUnknownRefund(order=order.reference)
    status = RefundStatus.SUCCEEDED if made else RefundStatus.FAILED
    reason = None if made else "not made, as the vendor checked at the provider"
    for row in waiting:
        await _record(deps, row.id, RefundAttempt(status, reason=reason))
    return waiting
