"""Reads for the payment reports: totals per period, currency, payment method and provider, and the rows.

One statement per figure, whatever the number of payments. Postgres groups and sums in SQL (SUM over
NUMERIC is exact and uses the (vendor_id, paid_at) index); SQLite keeps amounts as text, where a SQL SUM
would be a float, so its rows are streamed and summed here in Decimal, with the same grouping. Periods
are cut in the vendor's time zone: a period is named by its first local day.

A payment's method is worked out as ``services.dashboard.payment_method`` does: cash at the register, a
guarantee's capture, a saved card, else a card on a payment page (a link).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, DateTime, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.refund import RefundStatus
from bot.domain.transaction import CASH_REGISTER, RECEIVED_STATUSES
from bot.store.tables import commandes, customers, payment_transactions, refunds

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
# The method codes, as services.dashboard.PaymentMethod spells them.
METHODS = ("card", "saved_card", "cash", "capture")
_RECEIVED = sorted(status.value for status in RECEIVED_STATUSES)
_STREAM_ROWS = 1000

_t = payment_transactions
method_code = case(
    (_t.c.payment_method == CASH_REGISTER, literal("cash")),
    (_t.c.guarantee_id.is_not(None), literal("capture")),
    (_t.c.card_token_id.is_not(None), literal("saved_card")),
    else_=literal("card"),
)


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Which payments a report counts: the vendor's, received (paid, partly or wholly refunded since;
    never a guarantee) with ``start <= paid_at < end`` (UTC); each part left None is not a filter."""

    vendor_id: uuid.UUID
    start: datetime
    end: datetime
    method: str | None = None
    status: str | None = None
    provider: str | None = None
    # As stored: country code and number, digits only.
    customer_phone: str | None = None
    order_number: int | None = None

    @property
    def needs_order(self) -> bool:
        return self.customer_phone is not None or self.order_number is not None


@dataclass(frozen=True, slots=True)
class Group:
    """Money of one period (its first local day), currency, method and provider: ``count`` payments (or
    refunds) and their ``amount``; for payments, ``refunded`` is what refunds gave back of them since."""

    period: date
    currency: str
    method: str
    provider: str | None
    count: int
    amount: Decimal
    refunded: Decimal


@dataclass(frozen=True, slots=True)
class PaymentRow:
    paid_at: datetime
    order_number: int
    order_label: str
    customer_phone: str
    customer_name: str | None
    type: str
    method: str
    provider: str | None
    status: str
    amount: Decimal
    refunded: Decimal
    currency: str


def period_start(day: date, by: Period) -> date:
    """The first day of the period ``day`` falls in: itself, its week's Monday, its month's first."""
    if by == "day":
        return day
    if by == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _payment_filters(wanted: ReportFilter, *, by_date: bool = True) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = [
        _t.c.vendor_id == wanted.vendor_id,
        _t.c.is_guarantee.is_(False),
        _t.c.status.in_([wanted.status] if wanted.status is not None else _RECEIVED),
    ]
    if by_date:
        filters += [_t.c.paid_at >= wanted.start, _t.c.paid_at < wanted.end]
    if wanted.method is not None:
        filters.append(method_code == wanted.method)
    if wanted.provider is not None:
        filters.append(_t.c.provider == wanted.provider)
    if wanted.customer_phone is not None:
        filters.append(customers.c.phone == wanted.customer_phone)
    if wanted.order_number is not None:
        filters.append(commandes.c.number == wanted.order_number)
    return filters


_WITH_ORDER = _t.join(commandes, commandes.c.id == _t.c.commande_id).join(
    customers, customers.c.id == commandes.c.customer_id
)


class ReportRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    @property
    def _postgres(self) -> bool:
        return self._conn.dialect.name == "postgresql"

    def _local_day(self, moment: ColumnElement[Any], by: Period, timezone: str) -> ColumnElement[Any]:
        local = func.timezone(timezone, moment, type_=DateTime())
        return cast(func.date_trunc(by, local, type_=DateTime()), Date)

    async def payments_by_group(self, wanted: ReportFilter, by: Period, timezone: str) -> list[Group]:
        """The received payments of ``wanted``, grouped by period, currency, method and provider."""
        source = _WITH_ORDER if wanted.needs_order else _t
        where = _payment_filters(wanted)
        if self._postgres:
            period = self._local_day(_t.c.paid_at, by, timezone).label("period")
            method = method_code.label("method")
            query = (
                select(
                    period,
                    _t.c.devise,
                    method,
                    _t.c.provider,
                    func.count(),
                    func.sum(_t.c.montant),
                    func.sum(_t.c.refunded_amount),
                )  # fmt: skip
                .select_from(source)
                .where(*where)
                .group_by(period, _t.c.devise, method, _t.c.provider)
            )
            return [
                Group(row[0], row[1], row[2], row[3], int(row[4]), Decimal(row[5]), Decimal(row[6]))
                for row in await self._conn.execute(query)
            ]
        query = (
            select(_t.c.paid_at, _t.c.devise, method_code, _t.c.provider, _t.c.montant, _t.c.refunded_amount)
            .select_from(source)
            .where(*where)
        )
        return await self._summed(query, by, timezone, refunds=False)

    async def refunds_by_group(self, wanted: ReportFilter, by: Period, timezone: str) -> list[Group]:
        """The refunds that succeeded with ``start <= created_at < end`` on the payments ``wanted``
        names (whenever those were paid), grouped by the refund's period and currency and the payment's
        method and provider."""
        joined = refunds.join(_t, _t.c.id == refunds.c.transaction_id)
        if wanted.needs_order:
            joined = joined.join(commandes, commandes.c.id == _t.c.commande_id).join(
                customers, customers.c.id == commandes.c.customer_id
            )
        where = [
            refunds.c.vendor_id == wanted.vendor_id,
            refunds.c.status == RefundStatus.SUCCEEDED.value,
            refunds.c.created_at >= wanted.start,
            refunds.c.created_at < wanted.end,
            *_payment_filters(wanted, by_date=False),
        ]
        if self._postgres:
            period = self._local_day(refunds.c.created_at, by, timezone).label("period")
            method = method_code.label("method")
            query = (
                select(
                    period,
                    refunds.c.currency,
                    method,
                    _t.c.provider,
                    func.count(),
                    func.sum(refunds.c.amount),
                )
                .select_from(joined)
                .where(*where)
                .group_by(period, refunds.c.currency, method, _t.c.provider)
            )
            return [
                Group(row[0], row[1], row[2], row[3], int(row[4]), Decimal(row[5]), Decimal(0))
                for row in await self._conn.execute(query)
            ]
        query = (
            select(refunds.c.created_at, refunds.c.currency, method_code, _t.c.provider, refunds.c.amount)
            .select_from(joined)
            .where(*where)
        )
        return await self._summed(query, by, timezone, refunds=True)

    async def _summed(self, query: Any, by: Period, timezone: str, *, refunds: bool) -> list[Group]:
        """SQLite: the rows of ``query`` (a moment, a currency, a method, a provider, an amount and, for
        payments, what was refunded of it) streamed and summed in Decimal by group."""
        zone = ZoneInfo(timezone)
        sums: dict[tuple[date, str, str, str | None], list[Any]] = {}
        result = await self._conn.stream(query.execution_options(yield_per=_STREAM_ROWS))
        async for row in result:
            moment: datetime = row[0]
            day = period_start(moment.astimezone(zone).date(), by)
            key = (day, row[1], row[2], row[3])
            found = sums.setdefault(key, [0, Decimal(0), Decimal(0)])
            found[0] += 1
            found[1] += row[4]
            if not refunds:
                found[2] += row[5]
        return [Group(*key, count, amount, refunded) for key, (count, amount, refunded) in sums.items()]

    def _rows_query(self, wanted: ReportFilter) -> Any:
        return (
            select(
                _t.c.paid_at,
                commandes.c.number,
                commandes.c.label,
                customers.c.phone,
                customers.c.name,
                _t.c.type,
                method_code.label("method"),
                _t.c.provider,
                _t.c.status,
                _t.c.montant,
                _t.c.refunded_amount,
                _t.c.devise,
            )  # fmt: skip
            .select_from(_WITH_ORDER)
            .where(*_payment_filters(wanted))
            .order_by(_t.c.paid_at.desc(), _t.c.id.desc())
        )

    async def count_payments(self, wanted: ReportFilter) -> int:
        source = _WITH_ORDER if wanted.needs_order else _t
        query = select(func.count()).select_from(source).where(*_payment_filters(wanted))
        return int((await self._conn.execute(query)).scalar_one())

    async def payments_page(self, wanted: ReportFilter, limit: int, offset: int) -> list[PaymentRow]:
        """A page of the payments ``wanted`` names, the latest first."""
        query = self._rows_query(wanted).limit(limit).offset(offset)
        return [_row(row) for row in await self._conn.execute(query)]

    async def stream_payments(self, wanted: ReportFilter) -> AsyncIterator[PaymentRow]:
        """Every payment ``wanted`` names, the latest first, fetched a thousand at a time (a server-side
        cursor on Postgres): memory stays flat however many there are."""
        result = await self._conn.stream(self._rows_query(wanted).execution_options(yield_per=_STREAM_ROWS))
        async for row in result:
            yield _row(row)


def _row(row: Any) -> PaymentRow:
    paid_at: datetime = row[0]
    return PaymentRow(
        paid_at=paid_at.astimezone(UTC), order_number=row[1], order_label=row[2], customer_phone=row[3],
        customer_name=row[4], type=str(row[5]), method=row[6], provider=row[7], status=str(row[8]),
        amount=row[9], refunded=row[10], currency=row[11],
    )  # fmt: skip
