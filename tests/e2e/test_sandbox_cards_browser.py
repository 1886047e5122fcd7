"""Card guarantees and saved cards on the sandbox page, in a real headless Chromium (Debian's, driven by
Playwright), against `bot serve` with no setting: the demo vendor takes guarantees and saves cards. The
vendor asks a guarantee, the customer authorises the hold, the vendor charges part of it; then a second
order is paid with "save my card" ticked and the vendor charges the saved card with no link. Every state
is shot at a desktop's and a phone's width into tests/e2e/artifacts/ (git-ignored)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.handlers import parsing
from tests.e2e.test_sandbox_browser import (
    CHROMIUM,
    WAIT_MS,
    Steps,
    console_problems,
    serve,
    top,
)

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Locator = playwright_api.Locator
Page = playwright_api.Page
expect = playwright_api.expect

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# The chat commands of card guarantees and saved cards (bot/handlers): this test needs them all.
CARD_VERBS = ("GUARANTEE", "CAPTURE", "CARD")
needs_card_commands = pytest.mark.skipif(
    not all(hasattr(parsing.Verb, verb) for verb in CARD_VERBS),
    reason="the chat commands garantie, debiter and carte are not in bot.handlers.parsing yet",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


class Sandbox:
    """The sandbox page twice, on the same bot: at a desktop's width (where the test types and taps) and
    at a phone's (loaded at that width, as a phone opens it: the guide folded, one phone at a time)."""

    def __init__(self, browser: Browser, url: str, steps: Steps, problems: list[str]) -> None:
        self.steps = steps
        self.desktop = browser.new_page(viewport=DESKTOP, locale="en-GB")
        self.phone = browser.new_page(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
        for page in (self.desktop, self.phone):
            console_problems(page, problems)
            page.goto(url)
        self.vendor = self.desktop.locator("#vendor-phone")
        self.customer = self.desktop.locator("#customer-phone")

    def says(self, text: str) -> None:
        box = self.desktop.get_by_role("textbox", name="Message from the vendor's phone")
        box.fill(text)
        box.press("Enter")
        expect(self.vendor.get_by_text(text, exact=True).last).to_be_visible(timeout=WAIT_MS)

    def bot_bubble(self, side: Locator, text: str) -> Locator:
        bubble = side.locator(".bubble.bot", has_text=text).last
        expect(bubble).to_be_visible(timeout=WAIT_MS)
        return bubble

    def shot(self, name: str, phone_shows: str, text: str) -> None:
        """Both widths of the page once ``text`` reached the phone ``phone_shows`` (vendor, customer)."""
        self.steps.shot(self.desktop, f"{name}-desktop")
        self.phone.locator(f"#show-{phone_shows}").click()
        shown = self.phone.locator(f"#{phone_shows}-phone .bubble", has_text=text).last
        expect(shown).to_be_visible(timeout=WAIT_MS)
        self.steps.shot(self.phone, f"{name}-phone", full_page=True)

    def checkout(self, link_bubble: Locator) -> Page:
        with self.desktop.context.expect_page() as opened:
            link_bubble.locator("a[href*='/sandbox/checkout/']").first.click()
        page = opened.value
        page.wait_for_load_state()
        return page

    def page_shot(self, page: Page, name: str) -> None:
        """A checkout or result page at both widths, the whole of it."""
        page.set_viewport_size(DESKTOP)
        self.steps.shot(page, f"{name}-desktop", full_page=True)
        page.set_viewport_size(PHONE)
        self.steps.shot(page, f"{name}-phone", full_page=True)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{name}: wider than a phone"
        page.set_viewport_size(DESKTOP)


def choose_row(vendor: Locator, name: str) -> None:
    """Opens the last list the bot sent and taps the row ``name`` (its title, then its note)."""
    vendor.locator(".bubble.bot summary").last.click(timeout=WAIT_MS)
    row = vendor.get_by_role("button", name=re.compile(rf"^{re.escape(name)}\b")).last
    expect(row).to_be_visible(timeout=WAIT_MS)
    row.click()


@needs_card_commands
def test_a_guarantee_held_then_partly_charged_and_a_saved_card_charged_with_no_link(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    with serve(tmp_path, REMINDER_QUIET_HOURS="off") as served:
        sandbox = Sandbox(browser, served.url, steps, problems)
        desktop, vendor, customer = sandbox.desktop, sandbox.vendor, sandbox.customer
        guide = desktop.locator(".guide li", has_text="Cards:")
        expect(guide.locator("kbd").first).to_have_text("garantie 1 50")
        expect(guide).to_contain_text("Autoriser le blocage")
        expect(guide).to_contain_text("carte 1")
        assert top(guide) < top(desktop.locator(".guide .hint"))
        sandbox.steps.shot(desktop, "guide-desktop", full_page=True)
        phone_guide = sandbox.phone.locator(".guide")
        phone_guide.locator("summary").click()  # folded on a phone: opened to read it, then folded again
        expect(phone_guide.locator("li", has_text="carte 1")).to_be_visible()
        sandbox.steps.shot(sandbox.phone, "guide-phone", full_page=True)
        phone_guide.locator("summary").click()

        # The guarantee: asked, the hold authorised on the customer's page, nothing charged.
        sandbox.says("garantie 1 50")
        sandbox.bot_bubble(vendor, "Lien de garantie envoyé")
        asked = sandbox.bot_bubble(customer, "Garantie carte pour votre commande")
        expect(asked).to_contain_text("50.00 EUR")
        sandbox.shot("guarantee-asked", "customer", "Garantie carte pour votre commande")
        checkout = sandbox.checkout(asked)
        console_problems(checkout, problems)
        hold = "Autorisez un blocage de 50.00 EUR — rien n'est débité maintenant"
        expect(checkout.get_by_text(hold)).to_be_visible()
        expect(checkout.get_by_text("libéré au plus tard le", exact=False)).to_be_visible()
        expect(checkout.get_by_role("button", name="Payer", exact=True)).to_have_count(0)
        save = checkout.get_by_role("checkbox", name=re.compile("Enregistrer ma carte"))
        expect(save).not_to_be_checked()
        cards = checkout.locator("input[type=radio]")
        expect(cards).to_have_count(3)
        expect(cards.first).to_be_hidden()  # the test cards show once the box is ticked
        sandbox.page_shot(checkout, "hold-checkout")
        checkout.get_by_role("button", name="Autoriser le blocage").click()
        expect(checkout.get_by_role("heading", name=re.compile("Merci"))).to_be_visible(timeout=WAIT_MS)
        sandbox.page_shot(checkout, "hold-authorised-page")
        checkout.close()
        sandbox.bot_bubble(customer, "Garantie enregistrée : 50.00 EUR bloqués")
        sandbox.bot_bubble(vendor, "Garantie de 50.00 EUR bloquée")
        sandbox.shot("hold-authorised", "vendor", "Garantie de 50.00 EUR bloquée")

        # Part of it charged: asked, then confirmed with the button.
        sandbox.says("debiter 1 20")
        confirm = sandbox.bot_bubble(vendor, "20.00 EUR seront débités sur la garantie de 50.00 EUR")
        button = confirm.get_by_role("button", name="Débiter 20.00 EUR")
        expect(button).to_be_visible()
        sandbox.shot("capture-asked", "vendor", "seront débités sur la garantie")
        button.click()
        sandbox.bot_bubble(vendor, "20.00 EUR débités sur la garantie de la commande #1")
        sandbox.shot("captured", "vendor", "débités sur la garantie de la commande #1")

        # A second order, paid with "save my card" ticked, then charged on that card with no link.
        sandbox.says("nouvelle +33699887766 80 Tarte")
        sandbox.bot_bubble(vendor, "Commande #2 créée")
        sandbox.says("acompte 2 30%")
        vendor.get_by_role("button", name="Confirmer et envoyer").last.click(timeout=WAIT_MS)
        request = sandbox.bot_bubble(customer, "24.00 EUR")
        checkout = sandbox.checkout(request)
        console_problems(checkout, problems)
        save = checkout.get_by_role("checkbox", name=re.compile("Enregistrer ma carte"))
        save.check()
        visa = checkout.get_by_role("radio", name=re.compile("Visa •••• 4242"))
        expect(visa).to_be_visible()
        expect(visa).to_be_checked()
        expect(checkout.get_by_role("radio", name=re.compile("Visa •••• 3220"))).to_be_visible()
        expect(checkout.get_by_role("radio", name=re.compile("Mastercard •••• 0002"))).to_be_visible()
        assert checkout.locator("input:not([type=checkbox]):not([type=radio])").count() == 0
        sandbox.page_shot(checkout, "save-card-checkout")
        checkout.get_by_role("button", name="Payer", exact=True).click()
        expect(checkout.get_by_role("heading", name=re.compile("Merci"))).to_be_visible(timeout=WAIT_MS)
        checkout.close()
        sandbox.bot_bubble(customer, "Paiement reçu")
        sandbox.shot("paid-card-saved", "customer", "Paiement reçu")

        sandbox.says("carte 2")
        choice = sandbox.bot_bubble(vendor, "Carte enregistrée de +33699887766 : Visa •••• 4242")
        expect(choice).to_be_visible()
        sandbox.shot("saved-card-choice", "vendor", "Carte enregistrée de")
        choose_row(vendor, "Solde")
        confirm = sandbox.bot_bubble(vendor, "débité maintenant sur la carte Visa •••• 4242")
        expect(confirm).to_contain_text("56.00 EUR")
        confirm.get_by_role("button", name="Débiter la carte").click()
        sandbox.bot_bubble(vendor, "56.00 EUR débité sur la carte Visa •••• 4242")
        sandbox.bot_bubble(customer, "56.00 EUR")
        sandbox.shot("saved-card-charged", "vendor", "débité sur la carte Visa •••• 4242")
        assert problems == []
        sandbox.desktop.close()
        sandbox.phone.close()


HEBREW = {"VENDOR_LOCALE": "he", "VENDOR_CURRENCY": "ILS", "VENDOR_TIMEZONE": "Asia/Jerusalem"}


@needs_card_commands
def test_a_hebrew_customer_s_hold_and_save_card_pages_read_right_to_left(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    with serve(tmp_path, REMINDER_QUIET_HOURS="off", **HEBREW) as served:
        sandbox = Sandbox(browser, served.url, steps, problems)
        sandbox.says("guarantee 1 50")
        asked = sandbox.bot_bubble(sandbox.customer, "₪")
        checkout = sandbox.checkout(asked)
        console_problems(checkout, problems)
        expect(checkout.locator("html")).to_have_attribute("dir", "rtl")
        expect(checkout.get_by_text(re.compile("אישור חסימה של .*שום סכום לא מחויב עכשיו"))).to_be_visible()
        checkout.get_by_role("checkbox").check()
        expect(checkout.get_by_role("radio", name=re.compile("Visa •••• 3220"))).to_be_visible()
        sandbox.page_shot(checkout, "hebrew-hold-checkout")
        checkout.get_by_role("radio", name=re.compile("Visa •••• 3220")).check()
        checkout.get_by_role("button", name="אישור החסימה").click()
        expect(checkout.locator("h1")).to_be_visible(timeout=WAIT_MS)
        checkout.close()
        assert problems == []
        sandbox.desktop.close()
        sandbox.phone.close()
