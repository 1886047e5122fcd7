"""Payment reports: what a vendor collected over a period, per day, week or month, per currency, payment
method and provider, with refunds apart and the net; the rows behind it, as a page or as a CSV stream; and
the short summary the chat's ``rapport`` gives.

Collected is the money received (paid, refunded since in part or in full) by the day it came in; a
guarantee never counts, only what is captured of one (a payment of its own). Refunds count by the day they
were made, apart. Money is summed per currency, never across: each currency has its own lines. Periods
are cut in the vendor's time zone (local midnight); a period ``[first_day, end_day)`` is given as local
days, the end excluded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from bot.domain.deposit import Ledger
from bot.domain.errors import InvalidPhone, InvalidReportFilter, InvertedDateRange
from bot.domain.money import Money
from bot.domain.order import OrderStatus
from bot.domain.phone import normalise_phone
from bot.domain.transaction import RECEIVED_STATUSES
from bot.domain.vendor import Vendor
from bot.services.dashboard import PaymentMethod
from bot.services.vendors import VendorRef, find_vendor
from bot.store.repositories.dashboard import DashboardRepository
from bot.store.repositories.reports import (
    PERIODS,
    Group,
    PaymentRow,
    Period,
    ReportFilter,
    ReportRepository,
    period_start,
)
from bot.store.uow import UnitOfWorkFactory

__all__ = [
    "CSV_HEADER",
    "PERIODS",
    "CurrencyReport",
    "Figures",
    "PaymentRow",
    "Period",
    "PeriodLine",
    "Report",
    "ReportQuery",
    "RowsPage",
    "Share",
    "Summary",
    "csv_chunks",
    "parse_query",
    "payment_rows",
    "payments_page",
    "report",
    "summary",
    "vendor_query",
]

Span = Literal["today", "week", "month"]
SPANS: tuple[Span, ...] = ("today", "week", "month")
STATUSES = tuple(sorted(status.value for status in RECEIVED_STATUSES))
# Empty periods are drawn (as zero) up to this many; past it only the periods with money are listed.
MAX_FILLED_PERIODS = 400
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
_MAX_ORDER_DIGITS = 9
_MAX_FILTER_TEXT = 64
CSV_HEADER = (
    "date", "order", "customer", "type", "method", "provider", "status",
    "amount", "refunded", "net", "currency",
)  # fmt: skip
_CSV_CHUNK_ROWS = 500
BOM = "\ufeff"
# Orders that may still owe something (a paid order owes nothing; a cancelled one is not asked).
_OWING = (OrderStatus.PENDING, OrderStatus.ACCEPTED)


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What a report covers: the local days ``[first_day, end_day)``, cut by ``by``, and its filters."""

    first_day: date
    end_day: date
    by: Period = "month"
    method: PaymentMethod | None = None
    status: str | None = None
    provider: str | None = None
    # Digits only, as stored (``33699887766``); None: every customer.
    customer: str | None = None
    order: int | None = None

    @property
    def last_day(self) -> date:
        """The last local day covered (included)."""
        return self.end_day - timedelta(days=1)

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """``[first_day, end_day)`` in UTC: each end at local midnight where the vendor is."""
        zone = ZoneInfo(timezone)
        start = datetime.combine(self.first_day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(self.end_day, time(0), tzinfo=zone).astimezone(UTC)
        return start, end

    def filter(self, vendor: Vendor) -> ReportFilter:
        start, end = self.bounds(vendor.timezone)
        method = None if self.method is None else self.method.value
        return ReportFilter(
            vendor.id, start, end, method, self.status, self.provider, self.customer, self.order
        )


def month_of(today: date) -> tuple[date, date]:
    first = today.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


def local_today(now: datetime, timezone: str) -> date:
    if now.tzinfo is None:
        raise ValueError("naive datetime: give an aware UTC datetime")
    return now.astimezone(ZoneInfo(timezone)).date()


def _day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidReportFilter(field=name, value=text[:_MAX_FILTER_TEXT]) from None


def _blank(text: str | None) -> str | None:
    cleaned = (text or "").strip()
    return cleaned or None


def parse_query(
    today: date,
    *,
    start: str | None = None,
    end: str | None = None,
    by: str | None = None,
    method: str | None = None,
    status: str | None = None,
    provider: str | None = None,
    customer: str | None = None,
    order: str | None = None,
) -> ReportQuery:
    """A report's query from what was typed (a blank is no filter): days as YYYY-MM-DD (default: the
    month ``today`` falls in; ``end`` excluded). InvalidReportFilter or InvertedDateRange when it cannot
    be."""
    start, end, by, method, status = _blank(start), _blank(end), _blank(by), _blank(method), _blank(status)
    provider, customer, order = _blank(provider), _blank(customer), _blank(order)
    month_first, month_end = month_of(today)
    first_day = month_first if start is None else _day("from", start)
    if end is not None:
        end_day = _day("to", end)
    elif start is None:
        end_day = month_end
    else:
        end_day = month_of(first_day)[1]
    if end_day <= first_day:
        raise InvertedDateRange(start=first_day.isoformat(), end=end_day.isoformat())
    if by is not None and by not in PERIODS:
        raise InvalidReportFilter(field="by", value=by[:_MAX_FILTER_TEXT])
    try:
        chosen = None if method is None else PaymentMethod(method)
    except ValueError:
        raise InvalidReportFilter(field="method", value=(method or "")[:_MAX_FILTER_TEXT]) from None
    if status is not None and status not in STATUSES:
        raise InvalidReportFilter(field="status", value=status[:_MAX_FILTER_TEXT])
    if provider is not None and (len(provider) > 16 or not provider.isascii() or not provider.isalnum()):
        raise InvalidReportFilter(field="provider", value=provider[:_MAX_FILTER_TEXT])
    phone = None
    if customer is not None:
        try:
            phone = normalise_phone(customer)
        except InvalidPhone:
            raise InvalidReportFilter(field="customer", value=customer[:_MAX_FILTER_TEXT]) from None
    number = None
    if order is not None:
        digits = order.removeprefix("#").strip()
        if not digits.isdigit() or len(digits) > _MAX_ORDER_DIGITS or int(digits) == 0:
            raise InvalidReportFilter(field="order", value=order[:_MAX_FILTER_TEXT])
        number = int(digits)
    period: Period = "month"
    for known in PERIODS:
        if by == known:
            period = known
    return ReportQuery(
        first_day, end_day, period, chosen, status, provider and provider.lower(), phone, number
    )


async def vendor_query(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, now: datetime, **typed: str | None
) -> tuple[Vendor, ReportQuery]:
    """The vendor named, and ``parse_query`` of what was typed, its days where the vendor is at ``now``."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
    return vendor, parse_query(local_today(now, vendor.timezone), **typed)


# The report


@dataclass(frozen=True, slots=True)
class Figures:
    """Collected (received, by the day it came in), refunded (by the refund's day) and the net, in one
    currency; ``payments`` and ``refunds`` count them."""

    currency: str
    collected: Money
    refunded: Money
    payments: int = 0
    refunds: int = 0

    @property
    def net(self) -> Money:
        return self.collected - self.refunded

    @classmethod
    def zero(cls, currency: str) -> Figures:
        return cls(currency, Money.zero(currency), Money.zero(currency))


@dataclass(frozen=True, slots=True)
class PeriodLine:
    # The period's first local day (a week starts on Monday).
    period: date
    figures: Figures


@dataclass(frozen=True, slots=True)
class Share:
    """One payment method's (card, saved_card, cash, capture) or one provider's part (None: none, as
    cash at the register may have)."""

    key: str | None
    figures: Figures


@dataclass(frozen=True, slots=True)
class CurrencyReport:
    currency: str
    total: Figures
    periods: tuple[PeriodLine, ...]
    methods: tuple[Share, ...]
    providers: tuple[Share, ...]

    @property
    def largest_collected(self) -> Money:
        return max((line.figures.collected for line in self.periods), key=lambda m: m.amount,
                   default=Money.zero(self.currency))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Report:
    query: ReportQuery
    timezone: str
    start: datetime
    end: datetime
    # One per currency with money in the period (the vendor's own first), never summed together.
    currencies: tuple[CurrencyReport, ...]

    @property
    def empty(self) -> bool:
        return not self.currencies


@dataclass
class _Sum:
    collected: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    payments: int = 0
    refunds: int = 0

    def figures(self, currency: str) -> Figures:
        return Figures(currency, Money(self.collected, currency), Money(self.refunded, currency),
                       self.payments, self.refunds)  # fmt: skip


@dataclass
class _Currency:
    total: _Sum = field(default_factory=_Sum)
    periods: dict[date, _Sum] = field(default_factory=dict)
    methods: dict[str, _Sum] = field(default_factory=dict)
    providers: dict[str | None, _Sum] = field(default_factory=dict)


def _add(payments: Iterable[Group], refunds: Iterable[Group]) -> dict[str, _Currency]:
    found: dict[str, _Currency] = {}
    for group, is_refund in [*((g, False) for g in payments), *((g, True) for g in refunds)]:
        currency = found.setdefault(group.currency, _Currency())
        targets = (
            currency.total,
            currency.periods.setdefault(group.period, _Sum()),
            currency.methods.setdefault(group.method, _Sum()),
            currency.providers.setdefault(group.provider, _Sum()),
        )
        for target in targets:
            if is_refund:
                target.refunded += group.amount
                target.refunds += group.count
            else:
                target.collected += group.amount
                target.payments += group.count
    return found


def period_starts(query: ReportQuery) -> list[date]:
    """The first day of every period ``query`` covers, in order."""
    starts: list[date] = []
    day = period_start(query.first_day, query.by)
    while day < query.end_day and len(starts) <= MAX_FILLED_PERIODS:
        starts.append(day)
        if query.by == "day":
            day += timedelta(days=1)
        elif query.by == "week":
            day += timedelta(days=7)
        else:
            day = (day + timedelta(days=32)).replace(day=1)
    return starts


def _currency_report(query: ReportQuery, currency: str, sums: _Currency) -> CurrencyReport:
    starts = period_starts(query)
    days = (
        sorted(set(sums.periods) | set(starts)) if len(starts) <= MAX_FILLED_PERIODS else sorted(sums.periods)
    )
    periods = tuple(PeriodLine(day, sums.periods.get(day, _Sum()).figures(currency)) for day in days)
    methods = tuple(
        Share(method.value, sums.methods[method.value].figures(currency))
        for method in PaymentMethod
        if method.value in sums.methods
    )
    providers = tuple(
        Share(key, sums.providers[key].figures(currency))
        for key in sorted(sums.providers, key=lambda k: (k is None, k or ""))
    )
    return CurrencyReport(currency, sums.total.figures(currency), periods, methods, providers)


async def report(uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, query: ReportQuery) -> Report:
    """The vendor's report for ``query``: two statements (payments, refunds), each grouped in SQL on
    Postgres, whatever the number of payments."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        repository = ReportRepository(uow.connection)
        wanted = query.filter(vendor)
        payments = await repository.payments_by_group(wanted, query.by, vendor.timezone)
        refunds = await repository.refunds_by_group(wanted, query.by, vendor.timezone)
    sums = _add(payments, refunds)
    order = sorted(sums, key=lambda code: (code != vendor.currency, code))
    currencies = tuple(_currency_report(query, code, sums[code]) for code in order)
    return Report(query, vendor.timezone, wanted.start, wanted.end, currencies)


# The rows


@dataclass(frozen=True, slots=True)
class RowsPage:
    rows: tuple[PaymentRow, ...]
    page: int
    per_page: int
    total: int
    pages: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


async def payments_page(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    query: ReportQuery,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> RowsPage:
    """A page of the payments the report counts, the latest first: two statements."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        repository = ReportRepository(uow.connection)
        wanted = query.filter(vendor)
        total = await repository.count_payments(wanted)
        pages = max(1, -(-total // per_page))
        rows: list[PaymentRow] = []
        if (page - 1) * per_page < total:
            rows = await repository.payments_page(wanted, per_page, (page - 1) * per_page)
    return RowsPage(tuple(rows), page, per_page, total, pages)


async def payment_rows(
    uow_factory: UnitOfWorkFactory, vendor: Vendor, query: ReportQuery
) -> AsyncIterator[PaymentRow]:
    """Every payment the report counts, the latest first, streamed from one statement."""
    async with uow_factory() as uow:
        async for row in ReportRepository(uow.connection).stream_payments(query.filter(vendor)):
            yield row


def _csv_line(row: PaymentRow, zone: ZoneInfo) -> list[str]:
    return [
        row.paid_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), f"#{row.order_number}",
        f"+{row.customer_phone}", row.type, row.method, row.provider or "", row.status,
        f"{row.amount:f}", f"{row.refunded:f}", f"{row.amount - row.refunded:f}", row.currency,
    ]  # fmt: skip


async def csv_chunks(rows: AsyncIterator[PaymentRow], timezone: str) -> AsyncIterator[str]:
    """The rows as CSV text, in chunks of a few hundred rows: a byte-order mark (so that spreadsheets read
    accents and Hebrew as UTF-8), a header row, then one row per payment, its date where the vendor is."""
    zone = ZoneInfo(timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(CSV_HEADER)
    count = 0
    async for row in rows:
        writer.writerow(_csv_line(row, zone))
        count += 1
        if count % _CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# The chat's summary


@dataclass(frozen=True, slots=True)
class Summary:
    span: Span
    first_day: date
    # The last local day it covers (included).
    last_day: date
    # Per currency, the vendor's own first; empty when nothing came in (or went back).
    collected: tuple[Money, ...]
    refunded: tuple[Money, ...]
    net: tuple[Money, ...]
    # Now, whatever the span: requests for money still waiting, and orders with something left to pay.
    open_requests: int
    open_requests_total: tuple[Money, ...]
    unpaid_orders: int
    unpaid_balances: tuple[Money, ...]


def span_days(span: Span, today: date) -> tuple[date, date]:
    """``[first, end)`` local days of today, this week (from Monday) or this month."""
    if span == "today":
        return today, today + timedelta(days=1)
    if span == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=7)
    return month_of(today)


def _per_currency(amounts: Iterable[Money], first: str) -> tuple[Money, ...]:
    sums: dict[str, Money] = {}
    for amount in amounts:
        sums[amount.currency] = sums.get(amount.currency, Money.zero(amount.currency)) + amount
    return tuple(sums[code] for code in sorted(sums, key=lambda code: (code != first, code)))


async def summary(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, span: Span, now: datetime
) -> Summary:
    """Collected, refunded and net over today, this week or this month where the vendor is; with the
    requests still open and the balances still unpaid now."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
    first, end = span_days(span, local_today(now, vendor.timezone))
    found = await report(uow_factory, vendor, ReportQuery(first, end, "month"))
    async with uow_factory() as uow:
        repository = DashboardRepository(uow.connection)
        requests = await repository.open_requests(vendor.id)
        owing = await repository.orders_owing(vendor.id, _OWING)
    balances = [
        Ledger.of(order.price, transactions).balance
        for order, transactions in owing
        if order.price is not None
    ]
    balances = [balance for balance in balances if balance.is_positive()]
    currency = vendor.currency
    totals = [c.total for c in found.currencies]
    return Summary(
        span=span, first_day=first, last_day=end - timedelta(days=1),
        collected=tuple(t.collected for t in totals if t.payments),
        refunded=tuple(t.refunded for t in totals if t.refunds),
        net=tuple(t.net for t in totals),
        open_requests=len(requests),
        open_requests_total=_per_currency((t.amount for t in requests), currency),
        unpaid_orders=len(balances), unpaid_balances=_per_currency(balances, currency),
    )  # fmt: skip
