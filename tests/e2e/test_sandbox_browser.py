"""The sandbox page in a real headless Chromium (Debian's, driven by Playwright): `bot serve` with no
setting, as the README's first command starts it, then the deposit flow from the vendor's phone to the
customer's payment and receipt, and a reminder a day later. Each step leaves a screenshot in
tests/e2e/artifacts/ (git-ignored)."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.cli_support import clean_env
from tests.e2e.test_serve import free_port
from tests.email_support import Mailbox

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect
PlaywrightError = playwright_api.Error

CHROMIUM = os.environ.get("SANDBOX_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
START_TIMEOUT_SECONDS = 60
WAIT_MS = 15_000
URL_LINE = re.compile(r"open the sandbox .*: (http://\S+/sandbox)$")
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Served:
    url: str  # the sandbox page's URL, as `bot serve` printed it
    process: subprocess.Popen[str]
    output: list[str]


@contextmanager
def serve(tmp_path: Path, **settings: str) -> Iterator[Served]:
    """`bot serve` in an empty directory (a fresh SQLite database); yields once it printed the URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(**settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    url = None
    while url is None and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                pytest.fail(f"bot serve exited with {process.returncode}: {output}")
            continue
        output.append(line)
        if match := URL_LINE.search(line):
            url = match.group(1)
    if url is None:
        process.kill()
        pytest.fail(f"bot serve printed no sandbox URL: {output}")
    try:
        yield Served(url, process, output)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("bot serve did not stop on SIGINT")


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


class Steps:
    """Numbered screenshots of one test, in the order taken."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def shot(self, page: Page, name: str, *, full_page: bool = False) -> None:
        self.count += 1
        path = str(self.folder / f"{self.count:02d}-{name}.png")
        try:
            page.screenshot(path=path, full_page=full_page)
        except PlaywrightError as error:
            # A loaded machine sometimes makes chromium refuse one capture; a second one works.
            if "Unable to capture screenshot" not in str(error):
                raise
            page.wait_for_timeout(500)
            page.screenshot(path=path, full_page=full_page)


def console_problems(page: Page, found: list[str] | None = None) -> list[str]:
    """The page's console errors and uncaught exceptions, as they come (add more pages to ``found``)."""
    problems = [] if found is None else found
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return problems


def top(locator: playwright_api.Locator) -> float:
    box = locator.bounding_box()
    assert box is not None, locator
    return float(box["y"])


def vendor_says(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message from the vendor's phone")
    box.fill(text)
    box.press("Enter")


def test_a_newcomer_asks_a_deposit_and_the_customer_pays_it_in_the_browser(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    steps = Steps(shots)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    email = {"SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "EMAIL_FROM": "recus@boulangerie.test"}
    with serve(tmp_path, **email) as served:
        page = browser.new_page(viewport=DESKTOP, locale="en-GB")
        problems = console_problems(page)
        page.goto(served.url)
        vendor = page.locator("#vendor-phone")
        customer = page.locator("#customer-phone")
        expect(page.get_by_role("heading", name="Try this")).to_be_visible()
        expect(page.get_by_label("Customer", exact=True)).to_have_value("33699887766")
        steps.shot(page, "sandbox")

        vendor_says(page, "payé 1")
        expect(vendor.get_by_text("payé 1", exact=True)).to_be_visible(timeout=WAIT_MS)
        acompte = vendor.get_by_role("button", name="Acompte")
        expect(acompte).to_be_visible(timeout=WAIT_MS)
        steps.shot(page, "vendor-typed-paye-1")
        acompte.click()
        vendor.locator("summary").last.click(timeout=WAIT_MS)
        thirty = vendor.get_by_role("button", name=re.compile(r"^30% : 45\.00 EUR"))
        expect(thirty).to_be_visible()
        steps.shot(page, "vendor-chose-deposit")
        thirty.click()
        confirm = vendor.get_by_role("button", name="Confirmer et envoyer").last
        expect(confirm).to_be_visible(timeout=WAIT_MS)
        expect(vendor.get_by_text("Confirmer ?")).to_be_visible()
        steps.shot(page, "vendor-confirms")
        confirm.click()

        request = customer.locator(".bubble.bot", has_text="Lien de paiement pour votre acompte")
        expect(request).to_be_visible(timeout=WAIT_MS)
        expect(request).to_contain_text("Montant: 45.00 EUR")
        expect(vendor.get_by_text("Lien de paiement envoyé")).to_be_visible(timeout=WAIT_MS)
        # Ticks: the fake WhatsApp reports the message delivered, then read.
        expect(request.locator(".ticks.read")).to_be_visible(timeout=WAIT_MS)
        steps.shot(page, "customer-gets-the-link")

        with page.context.expect_page() as opened:
            request.locator("a[href*='/sandbox/checkout/']").first.click()
        checkout = opened.value
        console_problems(checkout, problems)  # the checkout and the /pay/ page it leads to
        checkout.set_viewport_size(PHONE)
        expect(checkout.get_by_text("45.00 EUR")).to_be_visible(timeout=WAIT_MS)
        expect(checkout.get_by_text("Demo vendor")).to_be_visible()
        expect(checkout.get_by_role("button", name="Refuser", exact=False)).to_be_visible()
        expect(checkout.get_by_role("button", name="Payer plus tard", exact=False)).to_be_visible()
        steps.shot(checkout, "checkout")
        checkout.get_by_role("button", name="Payer", exact=True).click()
        # "bien reçu", or "en cours de confirmation" if the page came before the payment was processed.
        expect(checkout.get_by_role("heading", name=re.compile("Merci"))).to_be_visible(timeout=WAIT_MS)
        expect(checkout.get_by_text("45.00 EUR")).to_be_visible()
        steps.shot(checkout, "paid")
        # The customer has no email address yet: the page offers the receipt by email too.
        address = checkout.get_by_label("Recevoir aussi le reçu par email")
        address.fill("lea at mail")
        before = len(problems)
        checkout.get_by_role("button", name="Envoyer le reçu").click()
        expect(checkout.get_by_role("alert")).to_contain_text("ne semble pas valide")
        # The refused address is answered 400 (with the page): chromium logs that status, nothing else.
        assert [p for p in problems[before:] if "status of 400" not in p] == []
        del problems[before:]
        expect(address).to_have_value("lea at mail")
        steps.shot(checkout, "paid-email-refused")
        address.fill("lea@example.fr")
        checkout.get_by_role("button", name="Envoyer le reçu").click()
        expect(checkout.get_by_role("status")).to_contain_text("votre reçu part aussi par email")
        steps.shot(checkout, "paid-email-kept")
        checkout.set_viewport_size(DESKTOP)
        steps.shot(checkout, "paid-email-kept-desktop")
        checkout.close()

        expect(customer.get_by_text("Paiement reçu")).to_be_visible(timeout=WAIT_MS)
        expect(vendor.get_by_text("Acompte de 45.00 EUR reçu")).to_be_visible(timeout=WAIT_MS)
        steps.shot(page, "receipt-and-vendor-note")

        page.reload()  # the conversation is still there
        expect(customer.get_by_text("Paiement reçu")).to_be_visible(timeout=WAIT_MS)
        expect(vendor.get_by_text("payé 1", exact=True)).to_be_visible()
        page.set_viewport_size(PHONE)
        steps.shot(page, "phone-width", full_page=True)
        assert problems == []
        page.close()
        deadline = time.monotonic() + WAIT_MS / 1000
        while not mailbox.recipients and time.monotonic() < deadline:
            time.sleep(0.1)
    smtp.stop()
    assert mailbox.recipients == [["lea@example.fr"]], "the receipt, once, to the address given"
    assert "45.00" in str(mailbox.messages[0].get_body(("plain",)).get_content())


def test_moving_the_sandbox_clock_a_day_forward_shows_the_first_reminder(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    steps = Steps(shots)
    # Quiet hours off: otherwise a run in the evening would see the reminder wait for the morning.
    with serve(tmp_path, REMINDER_QUIET_HOURS="off") as served:
        page = browser.new_page(viewport=DESKTOP, locale="en-GB")
        page.goto(served.url)
        vendor = page.locator("#vendor-phone")
        customer = page.locator("#customer-phone")
        vendor_says(page, "acompte 1 30%")
        vendor.get_by_role("button", name="Confirmer et envoyer").last.click(timeout=WAIT_MS)
        expect(customer.get_by_text("Lien de paiement pour votre acompte")).to_be_visible(timeout=WAIT_MS)
        steps.shot(page, "request-sent")
        expect(customer.get_by_text("Petit rappel")).to_have_count(0)

        page.get_by_role("button", name="+1 day").click()
        expect(page.get_by_role("status")).to_have_text("1 reminder(s) sent.", timeout=WAIT_MS)
        expect(page.locator("#clock-ahead")).to_contain_text("1 d 0 h ahead")
        reminder = customer.locator(".bubble.bot", has_text="Petit rappel")
        expect(reminder).to_be_visible(timeout=WAIT_MS)
        expect(reminder).to_contain_text("45.00 EUR")
        expect(reminder.locator(".badge")).to_contain_text("sandbox_payment_reminder")
        steps.shot(page, "first-reminder")
        page.close()


def test_a_hebrew_vendor_s_sandbox_and_checkout_read_right_to_left(
    tmp_path: Path, browser: Browser, shots: Path
) -> None:
    steps = Steps(shots)
    with serve(
        tmp_path, VENDOR_LOCALE="he", VENDOR_CURRENCY="ILS", VENDOR_TIMEZONE="Asia/Jerusalem"
    ) as served:
        page = browser.new_page(viewport=DESKTOP, locale="he-IL")
        page.goto(served.url)
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.get_by_role("heading", name="נסו את זה")).to_be_visible()
        vendor = page.locator("#vendor-phone")
        customer = page.locator("#customer-phone")
        box = page.get_by_role("textbox", name="הודעה מהטלפון של העסק")
        box.fill("deposit 1 30%")
        box.press("Enter")
        confirm = vendor.locator(".bubble.bot button").first
        expect(confirm).to_be_visible(timeout=WAIT_MS)
        confirm.click()
        request = customer.locator(".bubble.bot", has_text="קישור לתשלום המקדמה")
        expect(request).to_be_visible(timeout=WAIT_MS)
        expect(request.locator("p.text")).to_have_attribute("dir", "auto")
        steps.shot(page, "hebrew-sandbox")
        page.set_viewport_size(PHONE)
        page.locator("#show-customer").click()  # a phone-sized page shows one phone at a time
        steps.shot(page, "hebrew-sandbox-phone", full_page=True)
        with page.context.expect_page() as opened:
            request.locator("a[href*='/sandbox/checkout/']").first.click()
        checkout = opened.value
        checkout.set_viewport_size(PHONE)
        expect(checkout.locator("html")).to_have_attribute("dir", "rtl", timeout=WAIT_MS)
        expect(checkout.locator("html")).to_have_attribute("lang", "he")
        steps.shot(checkout, "hebrew-checkout")
        checkout.close()
        page.close()


# What each page language says, and what is typed in each vendor language (the bot speaks the vendor's).
SAID = {
    "en": {
        "browser": "en-GB",
        "guide": "Try this",
        "opening": "In the vendor's phone, type",
        "plus_hour": "+1 hour",
        "ahead": "(0 d 1 h ahead of real time)",
        "idle": "No reminder was due, and none is waiting",
        "day": r"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} [A-Z][a-z]+, \d\d:\d\d$",
    },
    "fr": {
        "browser": "fr-FR",
        "guide": "À essayer",
        "opening": "Dans le téléphone du vendeur, tapez",
        "plus_hour": "+1 heure",
        "ahead": "(0 j 1 h d'avance sur l'heure réelle)",
        "idle": "Aucun rappel n'était dû, et aucun n'attend",
        "day": r"^(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d{1,2} [a-zéû]+, \d\d:\d\d$",
    },
}
TYPED = {
    "fr": {"pay": "payé 1", "balance": "solde", "status": "statut 1"},
    "en": {"pay": "paid 1", "balance": "balance", "status": "status 1"},
}
# The page in one language, the vendor in the other: the guide's words follow the page, what it says to
# type follows the vendor.
VENDOR_OF_PAGE = {"fr": "en", "en": "fr"}
MESSAGES = 30


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_after_thirty_messages_the_page_still_fits_and_its_clock_and_guide_speak_its_language(
    tmp_path: Path, browser: Browser, shots: Path, lang: str, size: dict[str, int]
) -> None:
    steps = Steps(shots)
    said, typed = SAID[lang], TYPED[VENDOR_OF_PAGE[lang]]
    phone_sized = size["width"] <= 720
    with serve(tmp_path, VENDOR_LOCALE=VENDOR_OF_PAGE[lang]) as served:
        page = browser.new_page(viewport=size, locale=said["browser"])
        problems = console_problems(page)
        page.clock.install()  # the page's own timers, moved on below to see its clock tick
        page.goto(f"{served.url}?lang={lang}")
        guide = page.locator(".guide")
        expect(page.get_by_role("heading", name=said["guide"])).to_be_visible()
        if phone_sized:  # first, folded to its title above the phones
            assert top(guide) < top(page.locator("main .phone:visible"))
            expect(page.locator("#guide")).to_have_js_property("open", False)
            guide.locator("summary").click()
        else:  # open, beside the phones, in the first screen
            expect(page.locator("#guide")).to_have_js_property("open", True)
            assert top(guide) < size["height"] / 2
            customer_box = page.locator("#customer-phone").bounding_box()
            guide_box = guide.bounding_box()
            assert customer_box is not None and guide_box is not None
            assert guide_box["x"] >= customer_box["x"] + customer_box["width"]
        expect(guide.locator("li", has_text=said["opening"]).locator("kbd")).to_have_text(typed["pay"])
        expect(page.locator("#vendor-input")).to_have_attribute("placeholder", typed["pay"])
        expect(page.locator("#customer-input")).to_have_attribute("placeholder", typed["balance"])
        steps.shot(page, "guide")
        if phone_sized:
            guide.locator("summary").click()

        label = page.locator("#clock-label")
        expect(label).to_have_text(re.compile(said["day"]))
        before = label.inner_text()
        page.get_by_role("button", name=said["plus_hour"]).click()
        expect(page.locator("#clock-ahead")).to_have_text(said["ahead"])
        expect(page.get_by_role("status")).to_contain_text(said["idle"])
        expect(label).not_to_have_text(before)
        moved = label.inner_text()
        page.clock.fast_forward("02:00")
        expect(label).not_to_have_text(moved)  # it ticks
        expect(label).to_have_text(re.compile(said["day"]))
        steps.shot(page, "clock-moved")

        for index in range(MESSAGES):
            from_vendor = index % 2 == 0
            if phone_sized:  # one phone at a time: switch to the one that types
                page.locator("#show-vendor" if from_vendor else "#show-customer").click()
            box = page.locator("#vendor-input" if from_vendor else "#customer-input")
            box.fill(typed["status"] if from_vendor else f"Bonjour {index} 🎂")
            box.press("Enter")
        expect(page.locator(".bubble.me")).to_have_count(MESSAGES, timeout=WAIT_MS)
        expect(page.locator("#customer-phone .bubble.bot").first).to_be_attached(timeout=WAIT_MS)
        expect(page.locator("#vendor-phone .bubble.bot").first).to_be_attached(timeout=WAIT_MS)
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= 1.5 * size["height"], f"the page is {height} px tall"
        steps.shot(page, "thirty-messages")
        if phone_sized:
            page.locator("#show-vendor").click()
            steps.shot(page, "thirty-messages-vendor")
        steps.shot(page, "thirty-messages-page", full_page=True)

        icon = page.request.get(served.url.replace("/sandbox", "/favicon.ico"))
        assert icon.ok and icon.headers["content-type"] == "image/svg+xml"
        assert problems == []
        page.close()
