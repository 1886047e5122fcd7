"""The dashboard's payments page (/admin/payments): the report's filters as a GET form, totals per period with
a bar chart drawn here as inline SVG, the method breakdown and the rows, paged; and /admin/payments.csv,
exactly the filtered rows streamed in chunks (memory stays flat however many there are)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.domain.errors import ReportFilterError
from bot.domain.money import Money
from bot.domain.vendor import Vendor
from bot.rendering import explain
from bot.services import reports
from bot.services.dashboard import PaymentMethod
from bot.web.admin.session import current
from bot.web.admin.ui import NO_STORE, page_locale, render_admin
from bot.web.keys import clock_key, uow_key

FILTERS = ("from", "to", "by", "status", "method", "provider", "customer", "order")
_MAX_VALUE = 64
# The chart's drawing area, in its own units (the SVG scales to the page's width).
CHART_WIDTH = 600
CHART_HEIGHT = 160
HEADROOM = 4  # the top of the largest bar, under a dashed line the page labels with its amount
_GAP = 0.2


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    period: str
    collected: Money


@dataclass(frozen=True, slots=True)
class Chart:
    currency: str
    bars: tuple[Bar, ...]
    largest: Money
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    headroom: int = HEADROOM


def _label(by: str, line: reports.PeriodLine) -> str:
    return line.period.strftime("%Y-%m") if by == "month" else line.period.isoformat()


def chart(found: reports.Report, report: reports.CurrencyReport) -> Chart:
    """The bars of collected per period: heights in proportion to the largest period (zero: no bar)."""
    periods = report.periods
    largest = report.largest_collected
    slot = CHART_WIDTH / max(len(periods), 1)
    bars = []
    for index, line in enumerate(periods):
        share = Decimal(0) if not largest.is_positive() else line.figures.collected.amount / largest.amount
        height = round(float(share) * (CHART_HEIGHT - HEADROOM), 2)
        bars.append(
            Bar(
                x=round(index * slot + slot * _GAP / 2, 2),
                y=round(CHART_HEIGHT - height, 2),
                width=round(slot * (1 - _GAP), 2),
                height=height,
                period=_label(found.query.by, line),
                collected=line.figures.collected,
            )  # fmt: skip
        )
    return Chart(report.currency, tuple(bars), largest)


def _vendor(request: web.Request) -> Vendor:
    vendor = current(request).vendor
    if vendor is None:
        # An admin of several vendors who has not picked one yet.
        raise web.HTTPSeeOther("/admin/vendors")
    return vendor


def _typed(request: web.Request) -> dict[str, str]:
    """The filters as typed (cut short), to parse and to show back in the form."""
    return {name: (request.query.get(name) or "").strip()[:_MAX_VALUE] for name in FILTERS}


def _query(request: web.Request, typed: dict[str, str]) -> reports.ReportQuery:
    vendor = _vendor(request)
    today = reports.local_today(request.app[clock_key](), vendor.timezone)
    return reports.parse_query(
        today, start=typed["from"], end=typed["to"], by=typed["by"], status=typed["status"],
        method=typed["method"], provider=typed["provider"], customer=typed["customer"], order=typed["order"],
    )  # fmt: skip


def _page(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 7 else 1


def _as_money(amount: Decimal, currency: str) -> Money:
    return Money(amount, currency)


def _render(
    request: web.Request, typed: dict[str, str], *, status: int = 200, **context: Any
) -> web.Response:
    context.setdefault("error", None)
    context.setdefault("found", None)
    context.setdefault("rows", None)
    context.setdefault("charts", ())
    filled = {name: value for name, value in typed.items() if value}
    return render_admin(
        request, "payments", "payments", status=status, typed=typed, filled=filled, as_money=_as_money,
        methods=[m.value for m in PaymentMethod], statuses=reports.STATUSES, periods=reports.PERIODS,
        **context,
    )  # fmt: skip


async def payments_page(request: web.Request) -> web.Response:
    typed = _typed(request)
    try:
        query = _query(request, typed)
    except ReportFilterError as error:
        return _render(request, typed, status=400, error=explain(error, page_locale(request)))
    vendor = _vendor(request)
    uow = request.app[uow_key]
    found = await reports.report(uow, vendor, query)
    rows = await reports.payments_page(uow, vendor, query, _page(request.query.get("page")))
    charts = tuple(chart(found, report) for report in found.currencies)
    return _render(request, typed, found=found, rows=rows, charts=charts)


async def payments_csv(request: web.Request) -> web.StreamResponse:
    typed = _typed(request)
    try:
        query = _query(request, typed)
    except ReportFilterError as error:
        return _render(request, typed, status=400, error=explain(error, page_locale(request)))
    vendor = _vendor(request)
    name = f"payments-{query.first_day.isoformat()}-{query.end_day.isoformat()}.csv"
    response = web.StreamResponse(
        headers={
            **NO_STORE,
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )
    await response.prepare(request)
    rows = reports.payment_rows(request.app[uow_key], vendor, query)
    async for chunk in reports.csv_chunks(rows, vendor.timezone):
        await response.write(chunk.encode("utf-8"))
    await response.write_eof()
    return response


def payments_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/admin/payments", payments_page),
        web.get("/admin/payments.csv", payments_csv),
    ]
