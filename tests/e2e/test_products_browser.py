"""The products page in a real browser (Chromium through Playwright), with screenshots: a product created
through the dialog, edited, disabled, on a desktop and at 390 px, on the sandbox (synced at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_dashboard_browser import DESKTOP, base_of, dashboard_page, fits, sandbox_page, sign_in
from tests.e2e.test_sandbox_browser import (
    PHONE,
    WAIT_MS,
    Steps,
    browser,  # noqa: F401 - the fixtures
    serve,
    shots,  # noqa: F401
)

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect


def synced(page: Page, sku: str) -> None:
    """The row shows "synchronisé" once the background sync is done (a reload or two at most)."""
    row = page.locator(f"#product-{sku} td.sync")
    for _ in range(20):
        if "synchronisé" in row.inner_text():
            return
        page.wait_for_timeout(100)
        page.reload()
    expect(row).to_contain_text("synchronisé")


def test_a_product_is_created_edited_and_disabled_through_the_dialog_and_each_step_shows_synced(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    with serve(tmp_path) as served:
        sandbox = sandbox_page(browser, served, problems)
        dashboard = dashboard_page(browser, DESKTOP, "fr-FR", problems)
        sign_in(dashboard, sandbox, served, steps)
        dashboard.goto(f"{base_of(served)}/admin/products")
        expect(dashboard.get_by_role("heading", name="Produits")).to_be_visible()
        steps.shot(dashboard, "empty")

        dashboard.locator("#new-product").click()
        dialog = dashboard.locator("#product-dialog")
        expect(dialog).to_be_visible()
        dashboard.locator("#f-sku").fill("gateau choc")
        dashboard.locator("#f-name").fill("Gâteau au chocolat")
        dashboard.locator("#f-price").fill("-3")
        dashboard.locator("#product-save").click()
        expect(dashboard.locator("#f-sku-error")).to_be_visible()
        expect(dashboard.locator("#f-price-error")).to_contain_text("supérieur à zéro")
        steps.shot(dashboard, "create-refused-field-by-field")
        dashboard.locator("#f-sku").fill("gateau-choc")
        dashboard.locator("#f-price").fill("12,50")
        dashboard.locator("#f-description").fill("8 parts")
        steps.shot(dashboard, "create")
        dashboard.locator("#product-save").click()
        expect(dashboard.locator("#notice")).to_contain_text("Produit ajouté")
        synced(dashboard, "gateau-choc")
        expect(dashboard.locator("#product-gateau-choc")).to_contain_text("12.50 EUR")
        steps.shot(dashboard, "created")

        dashboard.locator("#edit-gateau-choc").click()
        expect(dialog).to_be_visible()
        expect(dashboard.locator("#f-price")).to_have_value("12.50")
        dashboard.locator("#f-name").fill("Gâteau choco")
        dashboard.locator("#f-price").fill("14")
        steps.shot(dashboard, "edit")
        dashboard.locator("#product-save").click()
        expect(dashboard.locator("#notice")).to_contain_text("Produit enregistré")
        synced(dashboard, "gateau-choc")
        expect(dashboard.locator("#product-gateau-choc")).to_contain_text("Gâteau choco")
        expect(dashboard.locator("#product-gateau-choc")).to_contain_text("14.00 EUR")
        steps.shot(dashboard, "edited")

        dashboard.locator("#disable-gateau-choc").click()
        expect(dashboard.locator("#notice")).to_contain_text("Produit désactivé")
        expect(dashboard.locator("#product-gateau-choc")).to_have_count(0)
        dashboard.goto(f"{base_of(served)}/admin/products?show=disabled")
        expect(dashboard.locator("#enable-gateau-choc")).to_be_visible()
        synced(dashboard, "gateau-choc")
        steps.shot(dashboard, "disabled")

        phone = dashboard_page(browser, PHONE, "fr-FR", problems)
        phone.context.add_cookies(dashboard.context.cookies())
        phone.goto(f"{base_of(served)}/admin/products?show=all")
        expect(phone.locator("#product-gateau-choc")).to_be_visible(timeout=WAIT_MS)
        fits(phone)
        steps.shot(phone, "phone-list")
        phone.locator("#edit-gateau-choc").click()
        expect(phone.locator("#product-dialog")).to_be_visible()
        fits(phone)
        steps.shot(phone, "phone-edit")
        # The one refused form: answered 400 with the dialog and its messages, as meant.
        assert problems == [
            "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
