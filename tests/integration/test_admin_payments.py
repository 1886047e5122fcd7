"""The dashboard's payments page (/admin/payments) on a seeded month (tests/report_support.py), on SQLite and
a real Postgres: the filters, the SVG chart with its numbers in a table, the method breakdown, the rows,
the CSV download of exactly the filtered rows, another vendor's payments never shown, bad filters a
message and never a 500."""

from __future__ import annotations

import csv
import re

import pytest

from tests.admin_support import OTHER_ADMIN, Dashboard, add_vendor
from tests.integration.test_admin_orders import text_of
from tests.report_support import seed_month

NOVEMBER = "from=2026-11-01&to=2026-12-01"


@pytest.fixture
async def seeded(dashboard: Dashboard) -> Dashboard:
    await seed_month(dashboard.uow, dashboard.vendor)
    return dashboard


async def test_the_page_shows_totals_per_currency_a_chart_and_the_method_breakdown(seeded: Dashboard) -> None:
    browser = await seeded.sign_in()
    response = await browser.get(f"/admin/payments?{NOVEMBER}&by=week")
    html = await response.text()
    assert response.status == 200
    shown = text_of(html)
    assert "Totaux en EUR" in shown and "Totaux en USD" in shown
    assert (
        "Total 280.00 EUR 45.00 EUR 235.00 EUR 6" in shown and "Total 70.00 USD 0.00 USD 70.00 USD 1" in shown
    )
    [eur_chart, usd_chart] = re.findall(r'<svg class="chart".*?</svg>', html, flags=re.S)
    assert 'role="img"' in eur_chart and "<title id=" in eur_chart and "aria-labelledby" in eur_chart
    bars = [float(h) for h in re.findall(r'<rect class="bar"[^>]*height="([0-9.]+)"', eur_chart)]
    assert len(bars) == 6, "one bar a week, 26 October to 30 November"
    assert bars[1] == max(bars) == 156.0 and bars[0] == 19.5, "the largest week fills the chart"
    assert "2026-11-02 — 160.00 EUR" in eur_chart and "2026-11-16 — 70.00 USD" in usd_chart
    assert "2026-11-02 160.00 EUR 15.00 EUR 145.00 EUR 3" in shown, "the chart's numbers in a table too"
    methods = re.findall(r'<tr data-method="(\w+)"><td>[^<]+</td>\s*<td class="money"[^>]*>([^<]+)', html)
    assert methods == [
        ("card", "120.00 EUR"), ("cash", "60.00 EUR"), ("saved_card", "40.00 EUR"), ("capture", "60.00 EUR"),
        ("card", "70.00 USD"),
    ]  # fmt: skip
    assert html.count('class="payment"') == 7


async def test_filters_narrow_the_totals_and_the_rows(seeded: Dashboard) -> None:
    browser = await seeded.sign_in()
    cash = await (await browser.get(f"/admin/payments?{NOVEMBER}&method=cash")).text()
    assert cash.count('class="payment"') == 2 and "Totaux en USD" not in text_of(cash)
    assert 'value="cash" selected' in cash
    order = await (await browser.get(f"/admin/payments?{NOVEMBER}&order=2")).text()
    assert order.count('class="payment"') == 1 and 'href="/admin/orders/2"' in order
    customer = await (
        await browser.get(f"/admin/payments?{NOVEMBER}&customer=%2B33699887766&status=paid")
    ).text()
    assert customer.count('class="payment"') == 3
    empty = text_of(await (await browser.get("/admin/payments?from=2025-01-01&to=2025-02-01")).text())
    assert "Aucun paiement sur cette période." in empty


async def test_the_csv_download_is_exactly_the_filtered_rows(seeded: Dashboard) -> None:
    browser = await seeded.sign_in()
    page = await (await browser.get(f"/admin/payments?{NOVEMBER}&method=card")).text()
    [link] = re.findall(r'id="export-csv" href="([^"]+)"', page)
    response = await browser.get(link.replace("&amp;", "&"))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="payments-2026-11-01-2026-12-01.csv"'
    )
    raw = await response.read()
    assert raw.startswith(b"\xef\xbb\xbfdate,order,customer,type,method,provider,status,amount")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert [(row["order"], row["method"], row["amount"], row["currency"]) for row in rows] == [
        ("#8", "card", "70.00", "USD"), ("#2", "card", "100.00", "EUR"), ("#3", "card", "20.00", "EUR"),
    ]  # fmt: skip
    assert page.count('class="payment"') == len(rows)


async def test_another_vendors_admin_never_sees_these_payments(seeded: Dashboard) -> None:
    await add_vendor(seeded.uow, "Fleuriste", OTHER_ADMIN)
    other = await seeded.sign_in(phone=OTHER_ADMIN)
    page = await (await other.get(f"/admin/payments?{NOVEMBER}")).text()
    assert 'class="payment"' not in page and "Totaux en EUR" not in text_of(page)
    exported = await (await other.get(f"/admin/payments.csv?{NOVEMBER}")).read()
    assert exported.decode("utf-8-sig").splitlines() == [
        "date,order,customer,type,method,provider,status,amount,refunded,net,currency"
    ]


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-11-10&to=2026-11-01",
        "from=hier",
        "by=year",
        "method=cheque",
        "status=pending",
        "customer=abc",
        "order=-3",
        "provider=%3Cscript%3E",
        "from=" + "9" * 500,
    ],
)
async def test_a_bad_filter_shows_a_message_never_a_500(seeded: Dashboard, query: str) -> None:
    browser = await seeded.sign_in()
    for path in ("/admin/payments", "/admin/payments.csv"):
        response = await browser.get(f"{path}?{query}")
        html = await response.text()
        assert response.status == 400, (path, html)
        assert 'id="problem"' in html and "<script>" not in html
        assert 'name="from"' in html, "the form is still there to correct it"


async def test_the_page_reads_right_to_left_in_hebrew(seeded: Dashboard) -> None:
    from bot.services import vendors as vendor_service
    from tests.conftest import NOW

    await vendor_service.change_settings(seeded.uow, seeded.vendor, [("locale", "he")], None, NOW)
    browser = await seeded.sign_in()
    html = await (await browser.get(f"/admin/payments?{NOVEMBER}")).text()
    assert 'dir="rtl"' in html and "ייצוא CSV" in html and 'dir="ltr"' in html
