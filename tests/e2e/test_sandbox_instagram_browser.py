"""The sandbox's Instagram customer in a real headless Chromium (Debian's, driven by Playwright), against
`bot serve` with no setting: the Instagram customer writes in their own phone, the vendor sees it as
ig:<username> and asks a deposit with ``nouvelle ig:...`` then ``acompte``, the link and the receipt come
back in the Instagram phone. Shots at a desktop's (1280x800) and a phone's (390x844) width go to
tests/e2e/artifacts/ (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.page import INSTAGRAM_USERNAME
from tests.e2e.test_sandbox_browser import (
    WAIT_MS,
    Steps,
    browser,  # noqa: F401 - the fixtures
    console_problems,
    serve,
    shots,  # noqa: F401
    vendor_says,
)

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
expect = playwright_api.expect

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def test_the_instagram_customer_writes_gets_a_deposit_link_and_pays_it_in_the_browser(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    steps = Steps(shots)
    who = f"ig:{INSTAGRAM_USERNAME}"
    with serve(tmp_path) as served:
        page = browser.new_page(viewport=DESKTOP, locale="en-GB")
        problems = console_problems(page)
        page.goto(served.url)
        vendor = page.locator("#vendor-phone")
        instagram = page.locator("#instagram-phone")
        # On a wide screen the customer's place shows the WhatsApp customer first; a tab shows Instagram's.
        expect(instagram).to_be_hidden()
        page.locator("#customer-phone").get_by_role("button", name="Instagram customer").click()
        expect(page.locator("#customer-phone")).to_be_hidden()
        expect(instagram.get_by_role("heading", name="Instagram customer")).to_be_visible()
        expect(instagram).to_contain_text(f"@{INSTAGRAM_USERNAME} on Instagram Direct")
        steps.shot(
            page,
            "sandbox-with-instagram",
        )

        box = page.get_by_role("textbox", name="Message from the Instagram customer")
        box.fill("Bonjour ! Un fraisier pour dimanche ?")
        box.press("Enter")
        expect(instagram.locator(".bubble.me", has_text="Un fraisier")).to_be_visible(timeout=WAIT_MS)
        expect(instagram.locator(".bubble.bot", has_text="transmis")).to_be_visible(timeout=WAIT_MS)
        forwarded = vendor.locator(".bubble.bot", has_text="Un fraisier pour dimanche")
        expect(forwarded).to_be_visible(timeout=WAIT_MS)
        expect(forwarded).to_contain_text(who)
        # The WhatsApp customer's list is for WhatsApp numbers only.
        expect(page.locator("#customer-select option", has_text="ig:")).to_have_count(0)
        steps.shot(
            page,
            "vendor-sees-the-instagram-message",
        )

        vendor_says(page, f"nouvelle {who} 120 Fraisier")
        expect(vendor.locator(".bubble.bot", has_text="#2")).to_be_visible(timeout=WAIT_MS)
        vendor_says(page, "acompte 2 30%")
        expect(vendor.get_by_text("sera envoyé au client par Instagram")).to_be_visible(timeout=WAIT_MS)
        vendor.get_by_role("button", name="Confirmer et envoyer").last.click(timeout=WAIT_MS)
        request = instagram.locator(".bubble.bot", has_text="Lien de paiement pour votre acompte")
        expect(request).to_be_visible(timeout=WAIT_MS)
        expect(request).to_contain_text("Montant: 36.00 EUR")
        steps.shot(
            page,
            "instagram-customer-gets-the-link",
        )

        with page.context.expect_page() as opened:
            request.locator("a[href*='/sandbox/checkout/']").first.click()
        checkout = opened.value
        console_problems(checkout, problems)
        expect(checkout.get_by_text("36.00 EUR")).to_be_visible(timeout=WAIT_MS)
        checkout.get_by_role("button", name="Payer", exact=True).click()
        expect(checkout.get_by_text("36.00 EUR")).to_be_visible(timeout=WAIT_MS)
        checkout.close()

        expect(instagram.get_by_text("Paiement reçu")).to_be_visible(timeout=WAIT_MS)
        expect(vendor.get_by_text("Acompte de 36.00 EUR reçu")).to_be_visible(timeout=WAIT_MS)
        steps.shot(
            page,
            "instagram-receipt",
        )

        phone = browser.new_page(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
        console_problems(phone, problems)
        phone.goto(served.url)
        phone.get_by_role("button", name="Instagram customer").click()
        ig_phone = phone.locator("#instagram-phone")
        expect(ig_phone.get_by_text("Paiement reçu")).to_be_visible(timeout=WAIT_MS)
        expect(phone.locator("#vendor-phone")).to_be_hidden()
        steps.shot(phone, "phone-width-instagram")
        phone.get_by_role("button", name="Vendor's phone").click()
        expect(phone.locator("#vendor-phone").get_by_text("Acompte de 36.00 EUR reçu")).to_be_visible()
        steps.shot(phone, "phone-width-vendor")
        assert problems == []
        phone.close()
        page.close()
