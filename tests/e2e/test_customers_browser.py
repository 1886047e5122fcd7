"""The customers page (/admin/customers) in a real browser (Chromium through Playwright), with screenshots, on
the seeded month's customers (tests/report_support.py) and the iCount fake: the list with each customer's
orders and sync state, a search, a customer's page, an email refused beside its field then saved, iCount
refusing the client (failed, with its reason) then taking it (synced), and both pages at a phone's width,
in French and in Hebrew."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_dashboard_browser import (
    DESKTOP,
    SECRET_KEY,
    base_of,
    choose_icount,
    dashboard_page,
    fits,
    icount_fake,
    sandbox_page,
    save_icount_credentials,
    sign_in,
)
from tests.e2e.test_payments_browser import seeded_vendor, switch_language
from tests.e2e.test_sandbox_browser import (
    PHONE,
    Steps,
    browser,  # noqa: F401 - the fixtures
    serve,
    shots,  # noqa: F401
)
from tests.report_support import DANA, ELOISE

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect

# No pass of the client_sync job during the test: every sync state seen is the one a save left.
QUIET_JOB = {"CLIENT_SYNC_SECONDS": "3600"}


def row_of(page: Page, phone: str) -> playwright_api.Locator:
    return page.locator("table.customers tbody tr", has_text=phone)


def save(page: Page, **typed: str) -> None:
    for key, value in typed.items():
        page.locator(f"#f-{key}").fill(value)
    page.locator("form.customer button[type=submit]").click()


def test_a_customer_is_found_edited_and_their_sync_to_icount_shows_failed_then_synced(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    seeded_vendor(tmp_path)
    with (
        icount_fake() as fake,
        serve(tmp_path, ICOUNT_API_BASE=fake.base_url, SECRET_KEY=SECRET_KEY, **QUIET_JOB) as served,
    ):
        sandbox = sandbox_page(browser, served, problems)
        dashboard = dashboard_page(browser, DESKTOP, "fr-FR", problems)
        sign_in(dashboard, sandbox, served, steps)
        dashboard.locator("nav.main").get_by_role("link", name="Clients").click()
        expect(dashboard.get_by_role("heading", name="Clients", exact=True)).to_be_visible()
        expect(dashboard.locator("table.customers tbody tr")).to_have_count(2)
        dana, eloise = row_of(dashboard, DANA.lstrip("+")), row_of(dashboard, ELOISE.lstrip("+"))
        expect(dana.locator("td.who")).to_contain_text("Dana")
        expect(dana.locator("td.orders")).to_contain_text("5")
        expect(eloise.locator("td.orders")).to_contain_text("4")
        expect(eloise.locator("td.sync")).to_have_text("non synchronisé")  # the sandbox keeps no clients
        steps.shot(dashboard, "list")
        dashboard.locator("#q").fill("Élo")  # on SQLite, only ASCII letters match whatever their case
        dashboard.locator("form[role=search] button[type=submit]").click()
        expect(dashboard.locator("table.customers tbody tr")).to_have_count(1)
        expect(eloise).to_be_visible()
        steps.shot(dashboard, "searched")

        choose_icount(dashboard, served)
        save_icount_credentials(
            dashboard, icount_cid=fake.cid, icount_user=fake.user, icount_pass=fake.password,
            icount_paypage_id=fake.paypage_id,
        )  # fmt: skip
        dashboard.goto(f"{base_of(served)}/admin/customers?q=%C3%89lo")
        eloise.locator("td.who a").click()
        expect(dashboard.get_by_role("heading", name="Éloïse")).to_be_visible()
        expect(dashboard.locator("#f-email")).to_have_value("")
        steps.shot(dashboard, "customer")

        save(dashboard, email="eloise@")
        expect(dashboard.locator("[role=alert]")).to_contain_text("Rien n'a été enregistré")
        expect(dashboard.locator("#f-email-error")).to_be_visible()
        expect(dashboard.locator("#f-email")).to_have_attribute("aria-invalid", "true")
        steps.shot(dashboard, "email-refused-beside-its-field")

        fake.refuse_clients("client_refused")
        save(dashboard, email="eloise@example.fr")
        expect(dashboard.locator("[role=status]")).to_contain_text("Enregistré")
        expect(dashboard.locator("#f-email")).to_have_value("eloise@example.fr")
        sync = dashboard.locator(".card.sync")
        expect(sync.locator(".badge")).to_have_text("échec")
        expect(sync).to_contain_text("client_refused")
        steps.shot(dashboard, "saved-icount-refused")

        fake.clear_faults()
        save(dashboard)  # saved again as it is: the failed sync is tried again
        expect(sync.locator(".badge")).to_have_text("synchronisé")
        expect(sync).to_contain_text("dernière synchronisation le")
        [client] = [c for c in fake.clients.values() if c.get("email") == "eloise@example.fr"]
        assert client["client_name"] == "Éloïse"
        steps.shot(dashboard, "synced")
        dashboard.locator("a", has_text="← Clients").click()
        expect(row_of(dashboard, ELOISE.lstrip("+")).locator("td.sync")).to_have_text("synchronisé")
        expect(row_of(dashboard, ELOISE.lstrip("+")).locator("td.email")).to_have_text("eloise@example.fr")
        expect(row_of(dashboard, DANA.lstrip("+")).locator("td.sync")).to_have_text("non synchronisé")
        steps.shot(dashboard, "list-after")

        phone = dashboard_page(browser, PHONE, "fr-FR", problems)
        phone.context.add_cookies(dashboard.context.cookies())
        phone.goto(f"{base_of(served)}/admin/customers")
        expect(phone.locator("table.customers tbody tr")).to_have_count(2)
        fits(phone)
        steps.shot(phone, "phone-list")
        row_of(phone, ELOISE.lstrip("+")).locator("td.who a").click()
        expect(phone.locator("#f-email")).to_have_value("eloise@example.fr")
        fits(phone)
        steps.shot(phone, "phone-customer", full_page=True)

        switch_language(dashboard, served, "he")
        phone.reload()
        expect(phone.locator("html")).to_have_attribute("dir", "rtl")
        fits(phone)
        steps.shot(phone, "hebrew-phone-customer", full_page=True)
        phone.goto(f"{base_of(served)}/admin/customers")
        expect(phone.locator("table.customers tbody tr")).to_have_count(2)
        fits(phone)
        steps.shot(phone, "hebrew-phone-list")
        dashboard.goto(f"{base_of(served)}/admin/customers")
        fits(dashboard)
        steps.shot(dashboard, "hebrew-desktop-list")
        # The one refused form: answered 400 with its messages beside the fields, as meant.
        assert problems == [
            "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
