"""The payment reports on a seeded month (tests/report_support.py), on SQLite and a real Postgres: totals per
period and currency, refunds apart and by their own day, the method and provider breakdowns, periods cut
at the vendor's local midnight, the filters, the rows, the CSV and the chat's summary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from bot.domain.errors import InvalidReportFilter, InvertedDateRange
from bot.domain.money import Money
from bot.domain.vendor import Vendor
from bot.services import reports, vendors as vendor_service
from bot.services.reports import CurrencyReport, Report, ReportQuery
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW
from tests.report_support import NOVEMBER, seed_month

TODAY = date(2026, 11, 21)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.fixture
async def vendor(uow_factory: UnitOfWorkFactory) -> Vendor:
    new = vendor_service.NewVendor(name="Boulangerie", admin_phones=["+33612345678"], timezone="Europe/Paris")
    found = (await vendor_service.add_vendor(uow_factory, new, NOW)).vendor
    await seed_month(uow_factory, found)
    return found


def november(**filters: str) -> ReportQuery:
    return reports.parse_query(TODAY, start="2026-11-01", end="2026-12-01", **filters)


def currency(found: Report, code: str) -> CurrencyReport:
    [wanted] = [c for c in found.currencies if c.currency == code]
    return wanted


async def test_a_month_collects_payments_by_the_day_they_came_in_and_refunds_apart_by_their_own_day(
    uow_factory: UnitOfWorkFactory, vendor: Vendor
) -> None:
    found = await reports.report(uow_factory, vendor, november())
    assert [c.currency for c in found.currencies] == ["EUR", "USD"], "the vendor's own currency first"
    total = currency(found, "EUR").total
    # 50 + 100 + 20 (Paris's 1 November) + 40 + 60 (the capture, never the guarantee) + 10 cash refunded.
    assert total.collected == eur("280") and total.payments == 6
    # 30 on the card link, 10 on the cash, 5 on October's link; the failed 15 is not a refund.
    assert total.refunded == eur("45") and total.refunds == 3
    assert total.net == eur("235")
    dollars = currency(found, "USD").total
    assert (dollars.collected, dollars.refunded, dollars.net) == (
        Money(Decimal(70), "USD"),
        Money.zero("USD"),
        Money(Decimal(70), "USD"),
    )


async def test_the_method_and_provider_breakdowns_keep_each_currency_apart(
    uow_factory: UnitOfWorkFactory, vendor: Vendor
) -> None:
    found = await reports.report(uow_factory, vendor, november())
    methods = {s.key: (s.figures.collected, s.figures.refunded) for s in currency(found, "EUR").methods}
    assert methods == {
        "card": (eur("120"), eur("35")),
        "saved_card": (eur("40"), eur("0")),
        "cash": (eur("60"), eur("10")),
        "capture": (eur("60"), eur("0")),
    }
    providers = {s.key: s.figures.collected for s in currency(found, "EUR").providers}
    assert providers == {"icount": eur("20"), "stripe": eur("200"), None: eur("60")}
    assert [(s.key, s.figures.collected.amount) for s in currency(found, "USD").methods] == [("card", 70)]


async def test_days_are_cut_at_the_vendors_local_midnight(
    uow_factory: UnitOfWorkFactory, vendor: Vendor
) -> None:
    found = await reports.report(uow_factory, vendor, november(by="day"))
    days = {line.period: line.figures for line in currency(found, "EUR").periods}
    assert len(days) == 30, "every day of the month, the empty ones at zero"
    assert days[date(2026, 11, 1)].collected == eur("20"), "31 October 23:30 UTC is 1 November in Paris"
    assert days[date(2026, 11, 10)].refunded == eur("30") and days[date(2026, 11, 10)].collected == eur("0")
    assert days[date(2026, 11, 30)].collected == eur("0"), "30 November 23:30 UTC is December in Paris"
    december = await reports.report(
        uow_factory, vendor, reports.parse_query(TODAY, start="2026-12-01", end="2026-12-02")
    )
    assert currency(december, "EUR").total.collected == eur("80")


async def test_weeks_start_on_monday_and_months_on_the_first(
    uow_factory: UnitOfWorkFactory, vendor: Vendor
) -> None:
    weekly = await reports.report(uow_factory, vendor, november(by="week"))
    weeks = {line.period: line.figures.collected for line in currency(weekly, "EUR").periods}
    assert min(weeks) == date(2026, 10, 26) and all(day.weekday() == 0 for day in weeks)
    assert weeks[date(2026, 10, 26)] == eur("20"), "Sunday 1 November ends the week of 26 October"
    assert weeks[date(2026, 11, 2)] == eur("160") and weeks[date(2026, 11, 9)] == eur("100")
    assert weeks[date(2026, 11, 30)] == eur("0"), "the last week starts in the month and is shown"
    assert sum(m.amount for m in weeks.values()) == 280
    monthly = await reports.report(
        uow_factory, vendor, reports.parse_query(TODAY, start="2026-10-01", end="2026-12-01", by="month")
    )
    months = {line.period: line.figures for line in currency(monthly, "EUR").periods}
    assert months[date(2026, 10, 1)].collected == eur("30")
    assert months[date(2026, 11, 1)].collected == eur("280") and months[date(2026, 11, 1)].refunded == eur(
        "45"
    )


@pytest.mark.parametrize(
    ("filters", "collected", "refunded"),
    [
        ({"method": "cash"}, "60", "10"),
        ({"method": "card"}, "120", "35"),
        ({"method": "capture"}, "60", "0"),
        ({"status": "refunded"}, "10", "10"),
        ({"provider": "icount"}, "20", "0"),
        ({"customer": "+33 6 99 88 77 66"}, "120", "10"),
        ({"order": "#2"}, "100", "30"),
    ],
    ids=["cash", "card link", "capture", "refunded status", "provider", "customer", "order"],
)
async def test_each_filter_narrows_the_totals_and_the_rows_alike(
    uow_factory: UnitOfWorkFactory, vendor: Vendor, filters: dict[str, str], collected: str, refunded: str
) -> None:
    query = november(**filters)
    total = currency(await reports.report(uow_factory, vendor, query), "EUR").total
    assert (total.collected, total.refunded) == (eur(collected), eur(refunded))
    page = await reports.payments_page(uow_factory, vendor, query)
    eur_rows = [row for row in page.rows if row.currency == "EUR"]
    assert sum(row.amount for row in eur_rows) == Decimal(collected)


async def test_the_rows_are_the_payments_the_totals_count_the_latest_first_and_paged(
    uow_factory: UnitOfWorkFactory, vendor: Vendor
) -> None:
    every = await reports.payments_page(uow_factory, vendor, november())
    assert every.total == 7 and [row.order_number for row in every.rows] == [8, 5, 4, 2, 6, 1, 3]
    assert {row.method for row in every.rows} == {"card", "cash", "saved_card", "capture"}
    second = await reports.payments_page(uow_factory, vendor, november(), page=2, per_page=3)
    assert [row.order_number for row in second.rows] == [2, 6, 1] and second.pages == 3
    assert second.has_previous and second.has_next


async def _collect(rows: AsyncIterator[str]) -> str:
    return "".join([chunk async for chunk in rows])


async def test_the_csv_has_a_bom_a_header_and_one_line_per_payment_dated_where_the_vendor_is(
    uow_factory: UnitOfWorkFactory, vendor: Vendor
) -> None:
    rows = reports.payment_rows(uow_factory, vendor, november(method="card"))
    text = await _collect(reports.csv_chunks(rows, vendor.timezone))
    assert text.startswith(
        "\ufeffdate,order,customer,type,method,provider,status,amount,refunded,net,currency\r\n"
    )
    lines = text.removeprefix("\ufeff").splitlines()[1:]
    assert lines == [
        "2026-11-18 13:00:00,#8,+33611223344,acompte,card,stripe,paid,70.00,0.00,70.00,USD",
        "2026-11-05 13:00:00,#2,+33611223344,acompte,card,stripe,partially_refunded,100.00,30.00,70.00,EUR",
        "2026-11-01 00:30:00,#3,+33699887766,acompte,card,icount,paid,20.00,0.00,20.00,EUR",
    ]


async def test_another_vendors_payments_never_count(uow_factory: UnitOfWorkFactory, vendor: Vendor) -> None:
    new = vendor_service.NewVendor(name="Fleuriste", admin_phones=["+33611112222"], timezone="Asia/Jerusalem")
    other = (await vendor_service.add_vendor(uow_factory, new, NOW)).vendor
    found = await reports.report(uow_factory, other, november())
    assert found.empty
    assert (await reports.payments_page(uow_factory, other, november())).total == 0


@pytest.mark.parametrize(
    ("filters", "error", "field"),
    [
        ({"start": "2026-11-10", "end": "2026-11-01"}, InvertedDateRange, None),
        ({"start": "2026-11-10", "end": "2026-11-10"}, InvertedDateRange, None),
        ({"start": "10/11/2026"}, InvalidReportFilter, "from"),
        ({"end": "soon"}, InvalidReportFilter, "to"),
        ({"by": "year"}, InvalidReportFilter, "by"),
        ({"method": "cheque"}, InvalidReportFilter, "method"),
        ({"status": "pending"}, InvalidReportFilter, "status"),
        ({"customer": "abc"}, InvalidReportFilter, "customer"),
        ({"order": "x1"}, InvalidReportFilter, "order"),
        ({"provider": "<script>"}, InvalidReportFilter, "provider"),
    ],
)
def test_a_bad_filter_is_a_clear_error(
    filters: dict[str, str], error: type[Exception], field: str | None
) -> None:
    with pytest.raises(error) as raised:
        reports.parse_query(TODAY, **filters)
    if field is not None:
        assert getattr(raised.value, "params", {})["field"] == field


def test_no_dates_mean_this_month_and_a_start_alone_means_its_month() -> None:
    query = reports.parse_query(TODAY, start="", end=None, by="", method="")
    assert (query.first_day, query.end_day, query.by, query.method) == (*NOVEMBER, "month", None)
    alone = reports.parse_query(TODAY, start="2026-02-10")
    assert (alone.first_day, alone.end_day) == (date(2026, 2, 10), date(2026, 3, 1))


@pytest.mark.parametrize(
    ("span", "collected", "refunded"),
    [("today", "0", "0"), ("week", "0", "0"), ("month", "280", "45")],
)
async def test_the_chats_summary_gives_collected_refunded_open_requests_and_unpaid_balances(
    uow_factory: UnitOfWorkFactory, vendor: Vendor, span: reports.Span, collected: str, refunded: str
) -> None:
    found = await reports.summary(uow_factory, vendor, span, NOW)
    first = {"today": date(2026, 11, 21), "week": date(2026, 11, 16), "month": date(2026, 11, 1)}[span]
    assert found.first_day == first
    eur_collected = [m for m in found.collected if m.currency == "EUR"]
    assert eur_collected == ([] if collected == "0" else [eur(collected)])
    assert [m for m in found.refunded if m.currency == "EUR"] == ([] if refunded == "0" else [eur(refunded)])
    assert found.open_requests == 1 and found.open_requests_total == (eur("25"),)
    # Nine orders of 500 (one in USD), each paid in part: the balances left, per currency.
    assert found.unpaid_orders == 9 and [m.currency for m in found.unpaid_balances] == ["EUR", "USD"]


async def test_a_week_summary_counts_the_days_since_monday(
    uow_factory: UnitOfWorkFactory, vendor: Vendor
) -> None:
    found = await reports.summary(uow_factory, vendor, "week", NOW - timedelta(days=9))
    assert found.first_day == date(2026, 11, 9) and found.last_day == date(2026, 11, 15)
    # 12 November: the saved card 40; 15 November: the capture 60; 10 November: the refund of 30.
    assert found.collected == (eur("100"),) and found.refunded == (eur("30"),)
