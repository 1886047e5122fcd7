"""The payments page (/admin/payments) in a real browser (Chromium through Playwright), with screenshots, on a
seeded month (tests/report_support.py: November 2026, EUR and USD, cash, card links, a saved card, a
guarantee capture and refunds): the filters typed in the form, the SVG chart and the method breakdown,
"Exporter CSV" downloaded by the browser and read back (BOM, header, exactly the filtered rows), then the
page at a phone's width, in French and in Hebrew."""

from __future__ import annotations

import asyncio
import csv
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.sandbox.demo import DEMO_VENDOR_PHONE
from tests.cli_support import run_bot
from tests.e2e.test_dashboard_browser import DESKTOP, base_of, dashboard_page, fits, sandbox_page, sign_in
from tests.e2e.test_sandbox_browser import (
    PHONE,
    Served,
    Steps,
    browser,  # noqa: F401 - the fixtures
    serve,
    shots,  # noqa: F401
)
from tests.report_support import ELOISE, seed_month_in

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect

HEADER = "date,order,customer,type,method,provider,status,amount,refunded,net,currency"
NOVEMBER = "from=2026-11-01&to=2026-12-01"


def seeded_vendor(directory: Path) -> None:
    """Before `bot serve`: the vendor made as `bot vendor add` does (so the sandbox makes no demo of its
    own), named and reached like the demo's, then the seeded month in its database."""
    made = run_bot(directory, "vendor", "add", "--name", "Demo vendor", "--admin", DEMO_VENDOR_PHONE)
    assert made.returncode == 0, made.stderr
    # In a thread of its own: Playwright's event loop runs in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, seed_month_in(directory)).result(timeout=60)


def switch_language(dashboard: Page, served: Served, locale: str) -> None:
    """The vendor's language, changed on the settings page (the dashboard speaks it)."""
    dashboard.goto(f"{base_of(served)}/admin/settings")
    language = dashboard.locator("section#language")
    language.locator("#f-locale").select_option(locale)
    language.locator("button[type=submit]").click()
    expect(dashboard.locator("html")).to_have_attribute("lang", locale)


def filter_by(dashboard: Page, **chosen: str) -> None:
    """Fills the filter form as typed (an input or a select per name) and applies it."""
    form = dashboard.locator("form.filters")
    for name, value in chosen.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    with dashboard.expect_navigation():
        form.locator("button[type=submit]").click()


def shown_rows(dashboard: Page) -> list[tuple[str, str]]:
    """The rows' order numbers and amounts, as the page's table shows them."""
    return [
        (row.locator("td").nth(1).inner_text().strip(), row.locator("td.money").first.inner_text().strip())
        for row in dashboard.locator("tr.payment").all()
    ]


def chart_fits(dashboard: Page) -> None:
    """Each chart is drawn, no wider than its card, and tall enough to read."""
    charts = dashboard.locator("svg.chart")
    assert charts.count() >= 1
    for index in range(charts.count()):
        drawn = charts.nth(index)
        expect(drawn).to_be_visible()
        box, card = drawn.bounding_box(), drawn.locator("xpath=ancestor::section[1]").bounding_box()
        assert box is not None and card is not None
        assert box["width"] <= card["width"] and box["height"] >= 60, (box, card)


def test_the_filtered_payments_show_a_chart_and_a_method_breakdown_and_download_as_that_csv(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    seeded_vendor(tmp_path)
    with serve(tmp_path) as served:
        sandbox = sandbox_page(browser, served, problems)
        dashboard = dashboard_page(browser, DESKTOP, "fr-FR", problems)
        sign_in(dashboard, sandbox, served, steps)
        dashboard.locator("nav.main").get_by_role("link", name="Paiements").click()
        expect(dashboard.get_by_role("heading", name="Paiements", exact=True)).to_be_visible()
        steps.shot(dashboard, "this-month")

        filter_by(dashboard, **{"from": "2026-11-01", "to": "2026-12-01", "by": "week"})
        expect(dashboard).to_have_url(re.compile(r"from=2026-11-01&to=2026-12-01&by=week"))
        eur = dashboard.locator("section", has=dashboard.get_by_role("heading", name="Totaux en EUR"))
        usd = dashboard.locator("section", has=dashboard.get_by_role("heading", name="Totaux en USD"))
        expect(eur.locator("table.totals tfoot")).to_contain_text("280.00 EUR")
        expect(eur.locator("table.totals tfoot")).to_contain_text("235.00 EUR")  # net of 45.00 refunded
        expect(usd.locator("table.totals tfoot")).to_contain_text("70.00 USD")
        expect(eur.locator("svg.chart rect.bar")).to_have_count(6)  # a bar a week, 26 Oct to 30 Nov
        expect(usd.locator("svg.chart rect.bar")).to_have_count(6)
        chart_fits(dashboard)
        methods = eur.locator("table.methods")
        expect(methods.locator("tr[data-method=cash]")).to_contain_text("60.00 EUR")
        expect(methods.locator("tr[data-method=card]")).to_contain_text("120.00 EUR")
        expect(methods.locator("tr[data-method=saved_card]")).to_contain_text("40.00 EUR")
        expect(methods.locator("tr[data-method=capture]")).to_contain_text("60.00 EUR")
        expect(dashboard.locator("tr.payment")).to_have_count(7)
        steps.shot(dashboard, "november-by-week")
        steps.shot(dashboard, "november-by-week-page", full_page=True)

        filter_by(dashboard, **{"from": "2026-11-01", "to": "2026-12-01", "method": "card"})
        expect(dashboard.locator("tr.payment")).to_have_count(3)
        expect(dashboard.locator("[name=method]")).to_have_value("card")
        listed = shown_rows(dashboard)
        assert listed == [("#8", "70.00 USD"), ("#2", "100.00 EUR"), ("#3", "20.00 EUR")]
        steps.shot(dashboard, "card-links-only", full_page=True)
        with dashboard.expect_download() as started:
            dashboard.locator("#export-csv").click()
        download = started.value
        assert download.suggested_filename == "payments-2026-11-01-2026-12-01.csv"
        raw = Path(download.path()).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")
        rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
        assert [(row["order"], f"{row['amount']} {row['currency']}") for row in rows] == listed
        assert {row["method"] for row in rows} == {"card"}
        assert rows[1]["customer"] == ELOISE and rows[1]["refunded"] == "30.00"

        phone = dashboard_page(browser, PHONE, "fr-FR", problems)
        phone.context.add_cookies(dashboard.context.cookies())
        phone.goto(f"{base_of(served)}/admin/payments?{NOVEMBER}&by=week")
        expect(phone.locator("tr.payment")).to_have_count(7)
        fits(phone)
        chart_fits(phone)
        steps.shot(phone, "phone")
        steps.shot(phone, "phone-page", full_page=True)

        switch_language(dashboard, served, "he")
        phone.goto(f"{base_of(served)}/admin/payments?{NOVEMBER}&by=day")
        expect(phone.locator("html")).to_have_attribute("dir", "rtl")
        expect(phone.locator("tr.payment")).to_have_count(7)
        fits(phone)
        chart_fits(phone)
        steps.shot(phone, "hebrew-phone-page", full_page=True)
        dashboard.goto(f"{base_of(served)}/admin/payments?{NOVEMBER}&by=day")
        fits(dashboard)
        steps.shot(dashboard, "hebrew-desktop-page", full_page=True)
        assert problems == []
