"""Money taken at the register: booked as paid at once, and open requests it makes too much are closed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain.deposit import Ledger, settlement_type
from bot.domain.errors import AmountExceedsBalance, ChargePending, DomainError, NothingToRequest
from bot.domain.money import Money, parse_amount
from bot.domain.order import Order
from bot.domain.transaction import CASH_REGISTER, PaymentTransaction
from bot.domain.vendor import ProviderName
from bot.payments.port import ProviderError
from bot.services import email_receipts, messages
from bot.services.closing import close_requests, deactivate_at_provider
from bot.services.context import PaymentDeps
from bot.services.guarantees import active_guarantee, release
from bot.services.invoices import issue_invoice
from bot.services.orders import order_by_number
from bot.services.payments import new_request
from bot.services.vendors import VendorRef, find_vendor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CashOutcome:
    order: Order
    transaction: PaymentTransaction
    ledger: Ledger
    # Open requests the cash made too much (their links stopped): the customer must not pay them as well.
    cancelled: list[PaymentTransaction]


def _crowded_out(
    transactions: list[PaymentTransaction], ledger: Ledger, cash: Money
) -> list[PaymentTransaction]:
    """The open requests, the newest first, that no longer fit once ``cash`` is paid: what stays
    requested never goes over what stays to pay."""
    room = ledger.balance - cash
    pending = ledger.pending
    crowded = []
    for transaction in sorted(
        (t for t in transactions if t.is_payment_request), key=lambda t: t.created_at, reverse=True
    ):
        if pending <= room:
            break
        crowded.append(transaction)
        pending = pending - transaction.amount
    return crowded


def _cash_amount(ledger: Ledger, typed: str | None, currency: str) -> Money:
    """What was taken at the register: by default all that is left to pay, never more."""
    if ledger.balance.is_zero():
        raise NothingToRequest(price=ledger.price, paid=ledger.paid, pending=ledger.pending)
    amount = ledger.balance if typed is None else parse_amount(typed, currency)
    if amount > ledger.balance:
        raise AmountExceedsBalance(
            amount=amount, available=ledger.balance, pending=ledger.pending, has_pending=False
        )
    return amount


async def _release_guarantee(deps: PaymentDeps, order: Order) -> None:
    """Cash that covers the order lets its held guarantee go (roadmap step 10); a provider that cannot be
    reached now leaves it to the guarantee job, which releases guarantees of paid orders."""
    async with deps.uow() as uow:
        guarantee = await active_guarantee(uow, order.id)
    if guarantee is None or not guarantee.is_held:
        return
    try:
        await release(deps, guarantee.id, "paid")
    except (ProviderError, DomainError) as error:
        log.warning("guarantee %s of paid order %s not released yet: %s", guarantee.id, order.id, error)


async def record_cash_payment(
    deps: PaymentDeps, vendor_reference: VendorRef, number: int, typed: str | None = None
) -> CashOutcome:
    """Records money taken at the register (``payment_method = cash_register``), by default all that is
    left to pay. Open requests it makes too much are cancelled, their links stopped first."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        order = await order_by_number(uow, vendor, number, lock=True)
        price = order.check_payable(vendor.payment.confirmation_rule)
        transactions = await uow.transactions.for_order(order.id)
        if any(t.is_charge_in_flight for t in transactions):
            # A card charge without an answer may have been made: cash now could be paid twice.
            raise ChargePending(order=order.reference)
        ledger = Ledger.of(price, transactions)
        crowded = _crowded_out(transactions, ledger, _cash_amount(ledger, typed, vendor.currency))
        if crowded:
            provider = deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
            links = await uow.transactions.links([t.payment_link_id for t in crowded if t.payment_link_id])
    if crowded:
        await deactivate_at_provider(deps, provider, links)
    now = deps.clock()
    async with deps.uow() as uow:
        order = await order_by_number(uow, vendor, number, lock=True)
        price = order.check_payable(vendor.payment.confirmation_rule)
        transactions = await uow.transactions.for_order(order.id)
        ledger = Ledger.of(price, transactions)
        amount = _cash_amount(ledger, typed, vendor.currency)
        fresh = {t.id: t for t in transactions}
        cancelled = await close_requests(uow, [fresh[t.id] for t in crowded if t.id in fresh], now)
        # With iCount the cash is booked there too (a receipt): the transaction names it for the invoice pass.
        books = vendor.payment.provider is ProviderName.ICOUNT
        transaction = new_request(
            vendor, order, ledger, amount, now, ProviderName.ICOUNT.value if books else None
        )
        transaction.mark_paid(now, CASH_REGISTER, None)
        await uow.transactions.add(transaction)
        transactions.append(transaction)
        after = Ledger.of(price, transactions)
        if after.is_covered and order.settle(after.paid, settlement_type(transactions), now):
            await uow.orders.update(order)
        customer = await uow.customers.get(order.customer_id)
        if customer is None:  # pragma: no cover
            raise LookupError(order.customer_id)
        await uow.outbox.add(messages.receipt(vendor, customer, order, transaction, after), now)
        await email_receipts.queue_receipt(uow, vendor, customer, order, transaction, after, now)
        await uow.commit()
    if after.is_covered:
        await _release_guarantee(deps, order)
    if books:
        try:
            await issue_invoice(deps, transaction.id)
        except (ProviderError, DomainError, ValueError) as error:
            log.warning(
                "receipt of cash payment %s delayed (invoice pass retries): %s", transaction.id, error
            )
    return CashOutcome(order, transaction, after, cancelled)
