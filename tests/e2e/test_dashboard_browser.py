"""The vendor's dashboard (/admin) in a real headless Chromium (Debian's, driven by Playwright), against
`bot serve` in sandbox mode: signing in with the code WhatsApp sent (read from the sandbox page's vendor
phone, which shows what the fake Graph API received), a 30% deposit asked through the Payé modal and seen
in the customer's chat, a new deposit percent pre-filled next time, "Tester la connexion" against the
iCount fake, signing out, and every page at a phone's width and in Hebrew. Each state leaves a screenshot
in tests/e2e/artifacts/ (git-ignored)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.sandbox.demo import DEMO_CUSTOMER_PHONE, DEMO_VENDOR_PHONE
from tests.e2e.test_sandbox_browser import (
    PHONE,
    WAIT_MS,
    Served,
    Steps,
    browser,  # noqa: F401 - the fixtures
    console_problems,
    serve,
    shots,  # noqa: F401
    vendor_says,
)
from tests.fakes.icount_api import FakeIcount

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect

DESKTOP = {"width": 1280, "height": 800}
SECRET_KEY = "a long secret key for the dashboard browser test"
SIGN_IN = re.compile(r"/admin/login(\?next=(%2F|/)admin)?$")
HOME = re.compile(r"/admin$")
CONFIRMATION = [  # the seed's, as the chat says it
    "Un lien de paiement pour Acompte de 45.00 EUR sera envoyé au client par WhatsApp.",
    "Confirmer ?",
]


def base_of(served: Served) -> str:
    return served.url.removesuffix("/sandbox")


def sandbox_page(launched: Browser, served: Served, problems: list[str]) -> Page:
    """The sandbox page at a desktop's width: the vendor's phone and the customer's, side by side."""
    page = launched.new_page(viewport=DESKTOP, locale="en-GB")
    console_problems(page, problems)
    page.goto(served.url)
    return page


def dashboard_page(launched: Browser, size: dict[str, int], locale: str, problems: list[str]) -> Page:
    phone_sized = size["width"] <= PHONE["width"]
    page = launched.new_page(viewport=size, locale=locale, is_mobile=phone_sized, has_touch=phone_sized)
    console_problems(page, problems)
    return page


def sign_in(dashboard: Page, sandbox: Page, served: Served, steps: Steps, prefix: str = "") -> None:
    """As the vendor does: the admin phone typed at /admin/login, the code read in the vendor's phone
    (what the fake Graph API received, shown by the sandbox page), typed in; lands on /admin."""
    codes = sandbox.locator("#vendor-phone .bubble.bot", has_text="🔐")
    sent_before = codes.count()
    dashboard.goto(f"{base_of(served)}/admin")
    expect(dashboard).to_have_url(SIGN_IN)
    dashboard.locator("#phone").fill(DEMO_VENDOR_PHONE)
    steps.shot(dashboard, f"{prefix}login")
    dashboard.locator("form[action='/admin/login'] button[type=submit]").click()
    expect(dashboard.locator("#code")).to_be_visible()
    expect(codes).to_have_count(sent_before + 1, timeout=WAIT_MS)  # a new code, not an earlier one
    message = codes.last
    expect(message).to_contain_text("Demo vendor")
    steps.shot(sandbox, f"{prefix}code-in-the-vendor-s-phone")
    found = re.search(r"(?<!\d)(\d{6})(?!\d)", message.locator("p.text").inner_text())
    assert found is not None, message.inner_text()
    dashboard.locator("#code").fill(found.group(1))
    steps.shot(dashboard, f"{prefix}code")
    dashboard.locator("form[action='/admin/login/code'] button[type=submit]").click()
    expect(dashboard).to_have_url(HOME)


def fits(page: Page) -> None:
    """No horizontal scroll: nothing wider than the window."""
    width = page.evaluate("document.documentElement.scrollWidth")
    window = page.evaluate("window.innerWidth")
    assert width <= window, f"{page.url} is {width} px wide in a {window} px window"


def open_pay_dialog(dashboard: Page, served: Served, number: int) -> Page:
    dashboard.goto(f"{base_of(served)}/admin/orders/{number}")
    dashboard.locator("#pay-button").click()
    expect(dashboard.locator("#pay-dialog")).to_be_visible()
    return dashboard


def choose_icount(dashboard: Page, served: Served) -> None:
    dashboard.goto(f"{base_of(served)}/admin/settings")
    provider = dashboard.locator("section#provider")
    provider.locator("#f-provider").select_option("icount")
    provider.get_by_role("button", name="Enregistrer").click()
    expect(dashboard.locator("section#provider [role=status]")).to_be_visible()
    expect(dashboard.locator("#f-provider")).to_have_value("icount")


def save_icount_credentials(dashboard: Page, **typed: str) -> None:
    """Types the credentials in their fields (a field left empty keeps the stored one) and saves them."""
    credentials = dashboard.locator("section#credentials")
    for key, value in typed.items():
        credentials.locator(f"#f-{key}").fill(value)
    credentials.get_by_role("button", name="Enregistrer").click()
    expect(dashboard.locator("section#credentials [role=status]")).to_have_text("Enregistré.")


def try_connection(dashboard: Page) -> playwright_api.Locator:
    """Clicks "Tester la connexion"; the result's notice."""
    dashboard.get_by_role("button", name="Tester la connexion").click()
    return dashboard.locator("section#credentials .test .notice")


@contextmanager
def icount_fake() -> Iterator[FakeIcount]:
    """The iCount fake (an aiohttp app on a free port) served from its own event loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeIcount()
    asyncio.run_coroutine_threadsafe(fake.__aenter__(), loop).result(timeout=10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.__aexit__(None, None, None), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_the_vendor_signs_in_with_the_code_whatsapp_sent_then_signs_out(
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
        expect(dashboard.get_by_role("heading", name="Accueil")).to_be_visible()
        expect(dashboard.locator("header .brand")).to_have_text("Demo vendor")
        steps.shot(dashboard, "home")

        dashboard.get_by_role("button", name="Se déconnecter").click()
        expect(dashboard).to_have_url(SIGN_IN)
        expect(dashboard.get_by_role("heading", name="Se connecter")).to_be_visible()
        steps.shot(dashboard, "signed-out")
        for path in ("/admin", "/admin/orders/1", "/admin/settings"):
            dashboard.goto(f"{base_of(served)}{path}")
            expect(dashboard).to_have_url(re.compile(r"/admin/login\?next="))
        expect(dashboard.locator("#phone")).to_be_visible()
        steps.shot(dashboard, "admin-asks-to-sign-in-again")
        assert problems == []


def test_a_30_percent_deposit_through_the_paye_modal_reaches_the_customer_then_50_percent_is_pre_filled(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    with serve(tmp_path) as served:
        sandbox = sandbox_page(browser, served, problems)
        vendor_says(sandbox, f"nouvelle {DEMO_CUSTOMER_PHONE} 150 Gâteau")
        expect(sandbox.locator("#vendor-phone .bubble.bot", has_text="Commande #2 créée")).to_be_visible(
            timeout=WAIT_MS
        )
        dashboard = dashboard_page(browser, DESKTOP, "fr-FR", problems)
        sign_in(dashboard, sandbox, served, steps)

        dashboard.goto(f"{base_of(served)}/admin/orders")
        expect(dashboard.get_by_role("link", name="#2")).to_be_visible()
        steps.shot(dashboard, "orders")
        dashboard.get_by_role("link", name="#2").click()
        expect(dashboard.get_by_role("heading", name=re.compile("Commande #2"))).to_be_visible()
        steps.shot(dashboard, "order")
        dashboard.locator("#pay-button").click()
        dialog = dashboard.locator("#pay-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator("input[name=kind][value=deposit]")).to_be_checked()
        expect(dashboard.locator("#amount")).to_have_value("45.00")
        thirty = dialog.locator("button.pick[data-amount='45.00']")
        expect(thirty).to_contain_text("30")
        steps.shot(dashboard, "pay-modal")
        thirty.click()
        expect(dashboard.locator("#amount")).to_have_value("45.00")
        dashboard.locator("#pay-confirm").click()

        confirm = dashboard.locator("#confirm-dialog")
        expect(confirm).to_be_visible()
        assert confirm.locator("#confirm-text p").all_inner_texts() == CONFIRMATION
        steps.shot(dashboard, "confirmation")
        dashboard.locator("#confirm-send").click()
        expect(dashboard.locator("#notice")).to_be_visible()
        expect(dashboard.locator("#payments")).to_contain_text("45.00")
        steps.shot(dashboard, "notice")

        request = sandbox.locator(
            "#customer-phone .bubble.bot", has_text="Lien de paiement pour votre acompte"
        )
        expect(request).to_be_visible(timeout=WAIT_MS)
        expect(request).to_contain_text("Montant: 45.00 EUR")
        expect(request).to_contain_text("commande #2")
        steps.shot(sandbox, "customer-chat")

        # 50% from now on: the Payé modal of another 150 order says 75.00.
        dashboard.goto(f"{base_of(served)}/admin/settings")
        section = dashboard.locator("section#deposit")
        section.locator("#f-deposit_percent").fill("50")
        section.get_by_role("button", name="Enregistrer").click()
        expect(dashboard.locator("section#deposit [role=status]")).to_be_visible()
        expect(dashboard.locator("#f-deposit_percent")).to_have_value("50")
        dashboard.locator("section#deposit").scroll_into_view_if_needed()
        steps.shot(dashboard, "deposit-percent-saved")
        open_pay_dialog(dashboard, served, 1)
        expect(dashboard.locator("#amount")).to_have_value("75.00")
        steps.shot(dashboard, "pay-modal-at-50-percent")
        assert problems == []


def test_tester_la_connexion_against_the_icount_fake_says_good_and_bad_credentials_apart(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    with (
        icount_fake() as fake,
        serve(tmp_path, ICOUNT_API_BASE=fake.base_url, SECRET_KEY=SECRET_KEY) as served,
    ):
        sandbox = sandbox_page(browser, served, problems)
        dashboard = dashboard_page(browser, DESKTOP, "fr-FR", problems)
        sign_in(dashboard, sandbox, served, steps)
        choose_icount(dashboard, served)
        save_icount_credentials(
            dashboard, icount_cid=fake.cid, icount_user=fake.user, icount_pass=fake.password,
            icount_paypage_id=fake.paypage_id,
        )  # fmt: skip
        result = try_connection(dashboard)
        expect(result).to_have_text("✅ Connexion à icount réussie : Fake Bakery Ltd.", timeout=WAIT_MS)
        expect(result).not_to_have_class(re.compile(r"\bbad\b"))
        result.scroll_into_view_if_needed()
        steps.shot(dashboard, "good-credentials")

        # Another user (the bot keeps one iCount client per cid and user: see the test below).
        save_icount_credentials(dashboard, icount_user="someone-else", icount_pass="not-the-password-42")
        result = try_connection(dashboard)
        expect(result).to_contain_text("La connexion à icount a échoué")
        expect(result).to_contain_text("bad_login")
        expect(result).to_have_class(re.compile(r"\bbad\b"))
        assert "not-the-password-42" not in dashboard.content()
        result.scroll_into_view_if_needed()
        steps.shot(dashboard, "bad-credentials")
        assert problems == []


def test_a_password_corrected_in_the_dashboard_is_the_one_tester_la_connexion_tries(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    with (
        icount_fake() as fake,
        serve(tmp_path, ICOUNT_API_BASE=fake.base_url, SECRET_KEY=SECRET_KEY) as served,
    ):
        sandbox = sandbox_page(browser, served, problems)
        dashboard = dashboard_page(browser, DESKTOP, "fr-FR", problems)
        sign_in(dashboard, sandbox, served, steps)
        choose_icount(dashboard, served)
        wrong = {"icount_cid": fake.cid, "icount_user": fake.user, "icount_pass": "a-typo-in-the-password"}
        save_icount_credentials(dashboard, **wrong, icount_paypage_id=fake.paypage_id)
        expect(try_connection(dashboard)).to_contain_text("bad_login")
        steps.shot(dashboard, "typo")
        save_icount_credentials(dashboard, icount_pass=fake.password)  # corrected
        result = try_connection(dashboard)
        steps.shot(dashboard, "corrected")
        expect(result).to_have_text("✅ Connexion à icount réussie : Fake Bakery Ltd.", timeout=WAIT_MS)


# Each walk at its own order (the walk asks a deposit): the demo's #1, then two more made in the chat.
WALKS = (("fr", PHONE, "fr-FR", 1), ("he", PHONE, "he-IL", 2), ("he", DESKTOP, "he-IL", 3))


def test_every_dashboard_page_fits_a_phone_and_reads_right_to_left_in_hebrew(
    tmp_path: Path,
    browser: Browser,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    steps = Steps(shots)
    problems: list[str] = []
    with serve(tmp_path) as served:
        sandbox = sandbox_page(browser, served, problems)
        for number in (2, 3):
            vendor_says(sandbox, f"nouvelle {DEMO_CUSTOMER_PHONE} 150 Gâteau")
            made = sandbox.locator("#vendor-phone .bubble.bot", has_text=f"Commande #{number} créée")
            expect(made).to_be_visible(timeout=WAIT_MS)
        for lang, size, browser_locale, number in WALKS:
            prefix = f"{lang}-{'phone' if size == PHONE else 'desktop'}-"
            dashboard = dashboard_page(browser, size, browser_locale, problems)
            walk(dashboard, sandbox, served, steps, prefix, lang, number)
            if lang == "fr":  # the vendor switches to Hebrew on the settings page
                dashboard = dashboard_page(browser, DESKTOP, browser_locale, problems)
                sign_in(dashboard, sandbox, served, steps, "to-hebrew-")
                dashboard.goto(f"{base_of(served)}/admin/settings")
                language = dashboard.locator("section#language")
                language.locator("#f-locale").select_option("he")
                language.locator("button[type=submit]").click()
                expect(dashboard.locator("html")).to_have_attribute("dir", "rtl")
                expect(dashboard.locator("section#language [role=status]")).to_be_visible()
                steps.shot(dashboard, "to-hebrew-saved")
            dashboard.close()
        assert problems == []


def walk(
    dashboard: Page, sandbox: Page, served: Served, steps: Steps, prefix: str, lang: str, number: int
) -> None:
    """Every page: sign-in, home, orders, an order with the Payé modal and its confirmation, settings and
    its connection test, sign-out; each in ``lang``'s direction and no wider than the window."""
    direction = "rtl" if lang == "he" else "ltr"

    def check(name: str, *, full_page: bool = False) -> None:
        expect(dashboard.locator("html")).to_have_attribute("lang", lang)
        assert (dashboard.locator("html").get_attribute("dir") or "ltr") == direction
        fits(dashboard)
        steps.shot(dashboard, f"{prefix}{name}", full_page=full_page)

    dashboard.goto(f"{base_of(served)}/admin/login")
    check("login-page")
    sign_in(dashboard, sandbox, served, steps, prefix)
    check("home")
    dashboard.goto(f"{base_of(served)}/admin/orders")
    check("orders")
    dashboard.locator(f"a[href='/admin/orders/{number}']").first.click()
    expect(dashboard.locator("#pay-button")).to_be_visible()
    check("order", full_page=True)
    dashboard.locator("#pay-button").click()
    expect(dashboard.locator("#pay-dialog")).to_be_visible()
    expect(dashboard.locator("#amount")).to_have_value("45.00")
    check("pay-modal")
    dashboard.locator("#pay-confirm").click()
    expect(dashboard.locator("#confirm-dialog")).to_be_visible()
    expect(dashboard.locator("#confirm-text")).to_contain_text("45.00")
    check("confirmation")
    dashboard.locator("#confirm-send").click()
    expect(dashboard.locator("#notice")).to_be_visible()
    check("notice", full_page=True)
    dashboard.goto(f"{base_of(served)}/admin/settings")
    check("settings")
    check("settings-page", full_page=True)
    dashboard.locator("form[action='/admin/settings/test'] button").click()
    result = dashboard.locator("section#credentials .test .notice")
    expect(result).to_be_visible()
    expect(result).not_to_have_class(re.compile(r"\bbad\b"))
    result.scroll_into_view_if_needed()
    check("connection-tested")
    dashboard.locator("form[action='/admin/logout'] button").click()
    expect(dashboard).to_have_url(SIGN_IN)
    check("signed-out")
