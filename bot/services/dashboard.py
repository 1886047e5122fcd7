"""What the vendor's dashboard shows: the orders list, the home page's figures and the order page.

Read models only: nothing here changes a row. The pages' buttons call the services the chat uses
(payments, cash, refunds, closing, orders, guarantees); ``order_page`` says which of them the order allows
now, by the same domain rules those services check. Money is ``Money``, times are aware UTC datetimes;
the home page's days and months are the vendor's own (local midnight in its time zone).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.deposit import AskKind, DepositMode, DepositPolicy, Ledger
from bot.domain.errors import DomainError, InvalidPhone
from bot.domain.guarantee import GuaranteeMode
from bot.domain.money import Money, Percent, money_sum
from bot.domain.order import OrderStatus, can_move
from bot.domain.phone import normalise_phone
from bot.domain.refund import in_flight_by_transaction, refundable
from bot.domain.transaction import PaymentTransaction, TransactionStatus
from bot.domain.vendor import Vendor
from bot.services.orders import OrderView, show_order
from bot.services.vendors import VendorRef, find_vendor
from bot.store.repositories.dashboard import DashboardRepository, OrderSearch
from bot.store.uow import UnitOfWorkFactory

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Fewer digits than this are not looked for inside phone numbers (``12`` is order #12, not every phone
# with a 1 and a 2 in it); an order number, a label and a name are still matched.
MIN_PHONE_DIGITS = 4
LAST_PAYMENTS = 10
# Order numbers are INTEGER columns: a longer run of digits cannot be one.
_MAX_NUMBER_DIGITS = 9
_PHONE_SEPARATORS = re.compile(r"[\s\-().\u00a0]")
_OWING = (OrderStatus.PENDING, OrderStatus.ACCEPTED)


# The orders list


@dataclass(frozen=True, slots=True)
class OrderRow:
    number: int
    reference: str
    status: OrderStatus
    label: str
    created_at: datetime
    # As stored: country code and number, digits only (``33699887766``).
    customer_phone: str
    customer_name: str | None
    price: Money | None
    # Net of refunds; a guarantee never counts (only what is captured of it, a payment of its own).
    paid: Money
    refunded: Money
    # None for an order without a price.
    balance: Money | None
    # What the customer is asked for and has not paid yet (payment requests only, no guarantee).
    open_requests: Money
    # What guarantees hold on the customer's card now (zero when none).
    guarantee_held: Money


@dataclass(frozen=True, slots=True)
class OrderPage:
    rows: tuple[OrderRow, ...]
    # 1-based; a page past the end has no rows (``pages`` says where the last one is).
    page: int
    per_page: int
    total: int
    # At least 1: an empty list is one empty page.
    pages: int
    status: OrderStatus | None
    search: str | None

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def parse_search(status: OrderStatus | None, text: str | None) -> OrderSearch:
    """What a vendor typed in the search box: ``12`` or ``#12`` (the order number; ``#12`` only that), a
    phone written any way (``+33 6 99 88 77 66``, ``0033…``, ``06 99 88 77 66``, or some of its digits,
    at least MIN_PHONE_DIGITS), or words of the customer's name or the order's label."""
    cleaned = (text or "").strip()
    if not cleaned:
        return OrderSearch(status=status)
    if cleaned.startswith("#"):
        digits = cleaned[1:].strip()
        if digits.isdigit() and len(digits) <= _MAX_NUMBER_DIGITS:
            return OrderSearch(status=status, number=int(digits))
    number = int(cleaned) if cleaned.isdigit() and len(cleaned) <= _MAX_NUMBER_DIGITS else None
    return OrderSearch(status=status, number=number, phone_digits=_phone_digits(cleaned), text=cleaned)


def _phone_digits(text: str) -> str | None:
    """The digits to find in stored phones (which are international, digits only), or None."""
    try:
        return normalise_phone(text)
    except InvalidPhone:
        pass
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("+"):
        compact = compact[1:]
    elif compact.startswith("00"):
        compact = compact[2:]
    elif compact.startswith("0"):
        # A national number (``06 99 88 77 66``): stored phones have the country code instead of the 0.
        compact = compact[1:]
    if not compact.isdigit() or len(compact) < MIN_PHONE_DIGITS:
        return None
    return compact


async def list_orders(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    *,
    status: OrderStatus | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> OrderPage:
    """A page of the vendor's orders, the newest first, filtered by ``status`` and ``search`` (see
    ``parse_search``). Three statements whatever the page's size (with a ``Vendor`` given): the count,
    the page of orders with their customers, and all of the page's transactions at once."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    wanted = parse_search(status, search)
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        repository = DashboardRepository(uow.connection)
        total = await repository.count_orders(vendor.id, wanted)
        pages = max(1, math.ceil(total / per_page))
        found = []
        if (page - 1) * per_page < total:
            found = await repository.orders_page(vendor.id, wanted, per_page, (page - 1) * per_page)
        transactions = await repository.transactions_of([item.order.id for item in found]) if found else {}
    rows = []
    for item in found:
        order = item.order
        figures = _Figures.of(order.currency, order.price, transactions.get(order.id, []))
        rows.append(
            OrderRow(
                number=order.number, reference=order.reference, status=order.status, label=order.label,
                created_at=order.created_at, customer_phone=item.customer_phone,
                customer_name=item.customer_name, price=order.price, paid=figures.paid,
                refunded=figures.refunded, balance=figures.balance, open_requests=figures.pending,
                guarantee_held=figures.held,
            )
        )  # fmt: skip
    cleaned = (search or "").strip() or None
    return OrderPage(tuple(rows), page, per_page, total, pages, status, cleaned)


@dataclass(frozen=True, slots=True)
class _Figures:
    paid: Money
    refunded: Money
    pending: Money
    held: Money
    balance: Money | None

    @classmethod
    def of(cls, currency: str, price: Money | None, transactions: list[PaymentTransaction]) -> _Figures:
        held = money_sum([t.held or t.amount for t in transactions if t.is_held], currency)
        if price is not None:
            ledger = Ledger.of(price, transactions)
            return cls(ledger.paid, ledger.refunded, ledger.pending, held, ledger.balance)
        # No price (a guarantee of a fixed amount may have been captured): the same sums, no balance.
        paid = money_sum([t.net_paid for t in transactions], currency)
        refunded = money_sum([t.refunded_total for t in transactions if t.received], currency)
        pending = money_sum([t.amount for t in transactions if t.is_payment_request], currency)
        return cls(paid, refunded, pending, held, None)


# The home page


class PaymentMethod(StrEnum):
    CARD = "card"
    CASH = "cash"
    SAVED_CARD = "saved_card"
    CAPTURE = "capture"


def payment_method(transaction: PaymentTransaction) -> PaymentMethod:
    """How a payment came: at the register, by capturing a guarantee, on a saved card, or by a card on
    a payment page (a link, or the vendor's phone)."""
    if transaction.is_cash:
        return PaymentMethod.CASH
    if transaction.guarantee_id is not None:
        return PaymentMethod.CAPTURE
    if transaction.card_token_id is not None:
        return PaymentMethod.SAVED_CARD
    return PaymentMethod.CARD


@dataclass(frozen=True, slots=True)
class RecentPayment:
    paid_at: datetime
    order_number: int
    order_reference: str
    order_label: str
    customer_phone: str
    customer_name: str | None
    amount: Money
    # What refunds gave back of it since (zero when none).
    refunded: Money
    method: PaymentMethod


@dataclass(frozen=True, slots=True)
class HomeStats:
    currency: str
    # The vendor's today and this month, in UTC: [today_start, today_end) and [month_start, month_end).
    today_start: datetime
    today_end: datetime
    month_start: datetime
    month_end: datetime
    # Money received (by paid_at), net of what refunds gave back of it since.
    collected_today: Money
    collected_month: Money
    # Payment requests still waiting for the customer (guarantees are not money asked for).
    open_requests: int
    open_requests_total: Money
    # Pending and accepted orders with a price and something left to pay, and what is left.
    unpaid_orders: int
    unpaid_balances: Money
    guarantees_held: int
    guarantees_held_total: Money
    # The latest first.
    last_payments: tuple[RecentPayment, ...]


def local_periods(now: datetime, timezone: str) -> tuple[datetime, datetime, datetime, datetime]:
    """The day and the month ``now`` falls in, where the vendor is: each starts at local midnight;
    returned in UTC as (today_start, today_end, month_start, month_end)."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: give an aware UTC datetime")
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    first = today.replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)
    starts = [today, today + timedelta(days=1), first, next_first]
    utc = [datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) for day in starts]
    return utc[0], utc[1], utc[2], utc[3]


def _in(currency: str, items: Iterable[PaymentTransaction]) -> list[PaymentTransaction]:
    # Rows from before a change of the vendor's currency cannot be added to today's: they are left out.
    return [t for t in items if t.amount.currency == currency]


async def home(uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, now: datetime) -> HomeStats:
    """The figures of the dashboard's home page at ``now``, in the vendor's currency (amounts in another
    currency, from before the vendor changed it, are left out of the totals)."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        today_start, today_end, month_start, month_end = local_periods(now, vendor.timezone)
        repository = DashboardRepository(uow.connection)
        this_month = await repository.received_between(vendor.id, month_start, month_end)
        open_requests = await repository.open_requests(vendor.id)
        held = await repository.held_guarantees(vendor.id)
        owing = await repository.orders_owing(vendor.id, _OWING)
        recent = await repository.recent_payments(vendor.id, LAST_PAYMENTS)
    currency = vendor.currency
    month = _in(currency, this_month)
    today = [t for t in month if t.paid_at is not None and today_start <= t.paid_at < today_end]
    requests = _in(currency, open_requests)
    guarantees = _in(currency, held)
    balances = [
        Ledger.of(order.price, transactions).balance
        for order, transactions in owing
        if order.price is not None and order.price.currency == currency
    ]
    balances = [balance for balance in balances if balance.is_positive()]
    return HomeStats(
        currency=currency,
        today_start=today_start,
        today_end=today_end,
        month_start=month_start,
        month_end=month_end,
        collected_today=money_sum([t.net_paid for t in today], currency),
        collected_month=money_sum([t.net_paid for t in month], currency),
        open_requests=len(requests),
        open_requests_total=money_sum([t.amount for t in requests], currency),
        unpaid_orders=len(balances),
        unpaid_balances=money_sum(balances, currency),
        guarantees_held=len(guarantees),
        guarantees_held_total=money_sum([t.held or t.amount for t in guarantees], currency),
        last_payments=tuple(
            RecentPayment(
                paid_at=item.transaction.paid_at or item.transaction.created_at,
                order_number=item.order_number,
                order_reference=f"#{item.order_number}",
                order_label=item.order_label,
                customer_phone=item.customer_phone,
                customer_name=item.customer_name,
                amount=item.transaction.amount,
                refunded=item.transaction.refunded_total,
                method=payment_method(item.transaction),
            )  # fmt: skip
            for item in recent
        ),
    )


# The order page


@dataclass(frozen=True, slots=True)
class GuaranteeView:
    transaction: PaymentTransaction
    # pending (asked, link open), failed (may still be held), held, captured, released, expired,
    # cancelled.
    status: TransactionStatus
    asked: Money
    held: Money | None
    captured: Money | None
    created_at: datetime
    # When we release it ourselves, and when the provider lets the hold go by itself.
    release_at: datetime | None
    hold_lapses_at: datetime | None
    # The provider keeps the card but holds no money (iCount without J5).
    card_on_file: bool
    # Asked (its link open) or held: the order's one guarantee that can still be captured or released.
    active: bool
    # A capture of it was asked and the provider has not answered yet.
    capture_pending: bool


@dataclass(frozen=True, slots=True)
class QuickPick:
    percent: Percent
    amount: Money


@dataclass(frozen=True, slots=True)
class OrderActions:
    """Which buttons the order page offers now; each is what the service behind it would accept."""

    accept: bool
    # The Payé modal: a deposit (any amount up to ``requestable``), the full price, the balance.
    request_deposit: bool
    request_full: bool
    request_balance: bool
    # "Payé caisse": money taken at the register (open requests it makes too much are cancelled).
    cash: bool
    refund: bool
    # Cancels the open requests (guarantee requests included, as ``annuler`` does).
    cancel_request: bool
    ship: bool
    complete: bool
    request_guarantee: bool
    capture_guarantee: bool
    release_guarantee: bool


@dataclass(frozen=True, slots=True)
class OrderDetail:
    # The order, its customer, transactions, links, reminders (with delivery status), invoices, refunds.
    view: OrderView
    # None for an order without a price.
    ledger: Ledger | None
    # The transactions that are money (requests and payments), oldest first; guarantees are apart.
    payments: tuple[PaymentTransaction, ...]
    guarantees: tuple[GuaranteeView, ...]
    actions: OrderActions
    # Why no payment can be requested now: the error request_payment would raise (order_not_payable,
    # order_has_no_price, nothing_to_request, request_already_open), None when one can.
    refusal: DomainError | None
    deposit_policy: DepositPolicy
    # The amount pre-filled for "Acompte" (None when deposits are off or nothing can be requested), and
    # the quick picks 30% / 50% / 100% of the price, each capped at what may be requested.
    suggested_deposit: Money | None
    quick_picks: tuple[QuickPick, ...]
    # What "Paiement complet" asks (the balance, when no request is open) and "Solde" asks.
    full_amount: Money | None
    balance_amount: Money | None
    # What "Payé caisse" books by default: all that is left to pay.
    cash_amount: Money | None
    # What may be refunded now, and what refunds are still being asked or of unknown outcome.
    refundable: Money
    refund_in_flight: Money

    @property
    def number(self) -> int:
        return self.view.order.number

    @property
    def request_refused(self) -> str | None:
        return None if self.refusal is None else self.refusal.code


async def order_page(uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, number: int) -> OrderDetail:
    """The vendor's order ``number`` with what its page needs; OrderNotFound for an unknown order or
    another vendor's."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
    view = await show_order(uow_factory, vendor, number)
    return _detail(vendor, view)


def _detail(vendor: Vendor, view: OrderView) -> OrderDetail:
    order = view.order
    transactions = view.transactions
    ledger = view.ledger
    currency = order.currency
    policy = vendor.payment.deposit_policy
    refused = _request_refused(vendor, view)
    full = _asks(ledger, AskKind.FULL, policy) if refused is None else None
    balance = _asks(ledger, AskKind.BALANCE, policy) if refused is None else None
    payable = _payable(vendor, view)
    cash = ledger.balance if payable and ledger is not None and ledger.balance.is_positive() else None
    in_flight = in_flight_by_transaction(r for rows in view.refunds.values() for r in rows)
    zero = Money.zero(currency)
    waiting = money_sum(list(in_flight.values()), currency)
    can_refund = money_sum([refundable(t, in_flight) for t in transactions if t.received], currency)
    guarantees = _guarantees(transactions)
    active = next((g for g in reversed(guarantees) if g.active), None)
    suggested = None
    picks: tuple[QuickPick, ...] = ()
    if refused is None and ledger is not None:
        picks = tuple(QuickPick(percent, amount) for percent, amount in ledger.quick_picks())
        if policy.mode is not DepositMode.NONE:
            suggested = policy.suggested_deposit(ledger)
    actions = OrderActions(
        accept=can_move(order.status, OrderStatus.ACCEPTED),
        request_deposit=refused is None,
        request_full=full is not None,
        request_balance=balance is not None,
        cash=cash is not None,
        refund=ledger is not None and can_refund.is_positive() and not in_flight,
        cancel_request=any(t.is_open for t in transactions),
        ship=can_move(order.status, OrderStatus.IN_DELIVERY),
        complete=can_move(order.status, OrderStatus.COMPLETED),
        request_guarantee=(
            vendor.payment.guarantee.mode is not GuaranteeMode.OFF and payable and active is None
        ),
        capture_guarantee=active is not None and active.status is TransactionStatus.HELD
        and not active.capture_pending,
        release_guarantee=active is not None,
    )  # fmt: skip
    return OrderDetail(
        view=view, ledger=ledger, payments=tuple(t for t in transactions if not t.is_guarantee),
        guarantees=tuple(guarantees), actions=actions, refusal=refused, deposit_policy=policy,
        suggested_deposit=suggested if suggested is not None and suggested.is_positive() else None,
        quick_picks=picks, full_amount=full, balance_amount=balance, cash_amount=cash,
        refundable=can_refund if ledger is not None and not in_flight else zero, refund_in_flight=waiting,
    )  # fmt: skip


def _payable(vendor: Vendor, view: OrderView) -> bool:
    try:
        view.order.check_payable(vendor.payment.confirmation_rule)
    except DomainError:
        return False
    return True


def _request_refused(vendor: Vendor, view: OrderView) -> DomainError | None:
    """The error ``request_payment`` would raise for any amount, or None."""
    try:
        view.order.check_payable(vendor.payment.confirmation_rule)
        if view.ledger is not None:
            view.ledger.check_request(view.ledger.requestable)
    except DomainError as error:
        return error
    return None


def _asks(ledger: Ledger | None, ask: AskKind, policy: DepositPolicy) -> Money | None:
    """What ``ask`` (full or balance) would request now, or None when it would be refused."""
    if ledger is None:
        return None
    try:
        return ledger.amount_for(ask, None, policy)
    except DomainError:
        return None


def _guarantees(transactions: list[PaymentTransaction]) -> list[GuaranteeView]:
    views = []
    for t in transactions:
        if not t.is_guarantee:
            continue
        capturing = any(p.guarantee_id == t.id and p.is_open for p in transactions)
        views.append(
            GuaranteeView(
                transaction=t, status=t.status, asked=t.amount, held=t.held, captured=t.captured,
                created_at=t.created_at, release_at=t.release_at, hold_lapses_at=t.hold_lapses_at,
                card_on_file=t.card_on_file, active=t.is_open or t.is_held, capture_pending=capturing,
            )
        )  # fmt: skip
    return views
