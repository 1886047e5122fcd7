"""The dashboard's payment settings page (``/admin/settings``, roadmap step 3), driven through the real
aiohttp app: each section saved all or nothing and shown pre-filled, messages next to bad fields, the
CSRF rule, credentials never shown back, the audit log, "Tester la connexion" against the iCount and
Stripe fakes, and previews of the vendor's own wording. On SQLite and a real Postgres."""

from __future__ import annotations

import html
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from bot.app import create_app
from bot.domain.deposit import DepositMode
from bot.domain.guarantee import GuaranteeMode
from bot.domain.order import ConfirmationRule
from bot.domain.vendor import ALL_LOCALES, SECRET_SETTINGS, ProviderName, Vendor
from bot.payments.credentials import CredentialCipher
from bot.rendering import render
from bot.services import admin_auth, vendors as vendor_service
from bot.store.tables import audit_log, vendors as vendors_table
from bot.store.uow import UnitOfWorkFactory
from bot.web.admin import settings as page, wording
from bot.web.admin.ui import words
from tests.conftest import NOW, FrozenClock
from tests.fakes.icount_api import FakeIcount
from tests.fakes.stripe_api import FakeStripe
from tests.payment_support import BASE_URL, settings_for

ADMIN = "+33612345678"
OTHER_ADMIN = "+33798765432"
SECRET_KEY = "a long test secret key for the settings page"
SETTINGS = "/admin/settings"


class Fields(HTMLParser):
    """The value each form field of a page shows, by name (a checkbox: "on" or "off")."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        name = found.get("name")
        if tag == "input" and name:
            if found.get("type") == "checkbox":
                self.values[name] = "on" if "checked" in found else "off"
            else:
                self.values[name] = found.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in found:
            self.values[self._select] = found.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def fields_of(page_html: str) -> dict[str, str]:
    parser = Fields()
    parser.feed(page_html)
    return parser.values


def field_error(page_html: str, key: str) -> str | None:
    """The message shown next to the field of setting ``key``."""
    found = re.search(rf'id="f-{re.escape(key.replace(".", "-"))}-error">([^<]*)<', page_html)
    return html.unescape(found.group(1)) if found else None


def shown_text(page_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page_html))


@dataclass
class Dashboard:
    client: TestClient
    uow: UnitOfWorkFactory
    vendor: Vendor

    async def sign_in(self, phone: str = ADMIN) -> None:
        link = await admin_auth.make_link(self.uow, phone, BASE_URL, NOW)
        assert link is not None
        signed_in = await self.client.get(link.removeprefix(BASE_URL), allow_redirects=False)
        assert signed_in.status == 303, await signed_in.text()

    def csrf(self) -> str:
        cookie = self.client.session.cookie_jar.filter_cookies(self.client.make_url("/admin/"))["bot_csrf"]
        return cookie.value

    async def page(self) -> str:
        response = await self.client.get(SETTINGS)
        assert response.status == 200, await response.text()
        return await response.text()

    async def post(
        self, path: str, data: dict[str, str], *, csrf: bool = True, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        form = {"csrf": self.csrf(), **data} if csrf else data
        return await self.client.post(path, data=form, headers=headers, allow_redirects=False)

    async def save(self, section: str, **changes: str) -> ClientResponse:
        """Posts the section's form as a browser would: every field as the page shows it, with
        ``changes`` typed in (a box left unticked sends only the hidden "off" before it)."""
        shown = fields_of(await self.page())
        form = {"section": section}
        keys = page.CREDENTIAL_KEYS if section == "credentials" else page.sections()[section]
        for key in keys:
            form[key] = changes.pop(key, shown.get(key, ""))
        form.update(changes)  # what is not a field of the section (unset.KEY)
        return await self.post(SETTINGS, form)

    async def stored(self) -> Vendor:
        return (await vendor_service.show_vendor(self.uow, str(self.vendor.id))).vendor

    async def audit(self) -> list[dict[str, Any]]:
        async with self.uow() as uow:
            query = select(audit_log).where(audit_log.c.vendor_id == self.vendor.id).order_by(audit_log.c.id)
            return [dict(row._mapping) for row in await uow.connection.execute(query)]


MakeDashboard = Callable[..., Awaitable[Dashboard]]


@pytest.fixture
async def dashboard(
    aiohttp_client: AiohttpClient, uow_factory: UnitOfWorkFactory, database_url: str
) -> AsyncIterator[MakeDashboard]:
    """``await dashboard(**settings)``: the app on the test database with one vendor, its admin signed in."""

    async def make(provider: str = "sandbox", sign_in: bool = True, **overrides: Any) -> Dashboard:
        new = vendor_service.NewVendor(
            name="Boulangerie", admin_phones=[ADMIN], provider=ProviderName(provider)
        )
        vendor = (await vendor_service.add_vendor(uow_factory, new, NOW)).vendor
        overrides.setdefault("secret_key", SECRET_KEY)
        settings = settings_for(database_url, **overrides)
        client = await aiohttp_client(create_app(settings, clock=FrozenClock()))
        board = Dashboard(client, uow_factory, vendor)
        if sign_in:
            await board.sign_in()
            await board.page()  # the CSRF cookie
        return board

    yield make


# Each section saves, and is shown pre-filled next time

SECTION_CHANGES: list[tuple[str, dict[str, str]]] = [
    ("provider", {"provider": "icount"}),
    ("deposit", {"deposit_mode": "fixed", "deposit_percent": "40", "deposit_fixed": "20.50"}),
    ("confirmation", {"confirmation_rule": "paid_only", "hold_minutes": "45"}),
    (
        "guarantee",
        {"guarantee_mode": "optional", "guarantee_amount": "30%", "guarantee_release_days": "5",
         "saved_cards": "on"},
    ),
    (
        "reminders",
        {"reminders": "off", "reminder_schedule": "1d,2d", "reminder_repeat_every": "2d",
         "reminder_repeat_count": "3", "reminder_quiet_hours": "22-8"},
    ),
    ("language", {"locale": "en", "timezone": "Asia/Jerusalem"}),
    ("templates", {"template.payment_request": "pay_request_v2", "template.admin_code": "sign_in_code"}),
    ("texts", {"text.payment_request.fr": "Bonjour ! Acompte de {{ amount }} : {{ url }}"}),
]  # fmt: skip


@pytest.mark.parametrize(("section", "changes"), SECTION_CHANGES, ids=[s for s, _ in SECTION_CHANGES])
async def test_each_section_saves_and_is_shown_pre_filled_next_time(
    dashboard: MakeDashboard, section: str, changes: dict[str, str]
) -> None:
    board = await dashboard()
    saved = await board.save(section, **changes)
    assert saved.status == 303, await saved.text()
    assert saved.headers["Location"] == f"{SETTINGS}?saved={section}#{section}"
    shown_again = await board.client.get(saved.headers["Location"])
    body = await shown_again.text()
    assert {key: fields_of(body)[key] for key in changes} == changes
    assert re.search(rf'id="{section}".*?<p class="notice" role="status">[^<]+</p>', body, re.DOTALL)
    assert fields_of(await board.page()) == fields_of(body)
    assert [row["setting"] for row in await board.audit()] == list(changes)


async def test_saved_settings_are_the_vendors_own_as_bot_vendor_set_would_store_them(
    dashboard: MakeDashboard,
) -> None:
    board = await dashboard()
    for section, changes in SECTION_CHANGES:
        assert (await board.save(section, **changes)).status == 303
    vendor = await board.stored()
    payment = vendor.payment
    assert payment.provider is ProviderName.ICOUNT
    assert (payment.deposit_mode, str(payment.deposit_percent), str(payment.deposit_fixed)) == (
        DepositMode.FIXED, "40%", "20.50",
    )  # fmt: skip
    assert (payment.confirmation_rule, payment.hold_minutes) == (ConfirmationRule.PAID_ONLY, 45)
    guarantee = payment.guarantee
    assert (guarantee.mode, guarantee.amount_setting, guarantee.release_days, guarantee.saved_cards) == (
        GuaranteeMode.OPTIONAL, "30%", 5, True,
    )  # fmt: skip
    reminders = vendor.reminders
    assert (reminders.enabled, reminders.repeat_count, str(reminders.quiet_hours)) == (False, 3, "22-8")
    assert (vendor.locale, vendor.timezone) == ("en", "Asia/Jerusalem")
    assert vendor.whatsapp_templates == {"payment_request": "pay_request_v2", "admin_code": "sign_in_code"}
    assert vendor.message_overrides == {
        "payment_request": {"fr": "Bonjour ! Acompte de {{ amount }} : {{ url }}"}
    }


async def test_the_page_speaks_the_vendors_language_right_to_left_in_hebrew(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    french = await board.page()
    assert "Tester la connexion" in french and '<html lang="fr">' in french
    assert (await board.save("language", locale="he", timezone="Asia/Jerusalem")).status == 303
    hebrew = await board.page()
    assert '<html lang="he" dir="rtl">' in hebrew
    assert "בדיקת החיבור" in hebrew and "Tester la connexion" not in hebrew


async def test_a_field_left_as_it_was_is_neither_saved_again_nor_audited(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    assert (await board.save("reminders", reminder_repeat_count="2")).status == 303
    assert [row["setting"] for row in await board.audit()] == ["reminder_repeat_count"]
    unchanged = await board.save("reminders")
    assert unchanged.headers["Location"] == f"{SETTINGS}?unchanged=reminders#reminders"
    assert len(await board.audit()) == 1


async def test_a_field_the_form_does_not_carry_is_left_as_it_is(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    french = "Bonjour {{ amount }}"
    assert (await board.save("texts", **{"text.payment_request.fr": french})).status == 303
    assert (await board.save("guarantee", saved_cards="on")).status == 303
    partial = {"section": "texts", "text.payment_request.en": "Hello {{ amount }}"}
    assert (await board.post(SETTINGS, partial)).status == 303
    assert (await board.post(SETTINGS, {"section": "guarantee", "guarantee_mode": "optional"})).status == 303
    vendor = await board.stored()
    assert vendor.message_overrides == {"payment_request": {"fr": french, "en": "Hello {{ amount }}"}}
    assert vendor.payment.guarantee.saved_cards is True
    assert (await board.save("guarantee", saved_cards="off")).status == 303
    assert (await board.stored()).payment.guarantee.saved_cards is False


# Bad input: 400, the message next to its field, nothing changed


async def test_a_bad_value_gives_400_with_its_message_next_to_the_field_and_changes_nothing(
    dashboard: MakeDashboard,
) -> None:
    board = await dashboard()
    refused = await board.save("deposit", deposit_mode="fixed", deposit_percent="150", deposit_fixed="20")
    assert refused.status == 400
    body = await refused.text()
    message = field_error(body, "deposit_percent")
    assert message is not None and "150" in message and "deposit_percent" in message
    assert field_error(body, "deposit_mode") is None and field_error(body, "deposit_fixed") is None
    assert 'aria-invalid="true"' in body and "Rien n'a été enregistré" in shown_text(body)
    # What was typed stays in the fields.
    typed = fields_of(body)
    assert (typed["deposit_mode"], typed["deposit_percent"], typed["deposit_fixed"]) == ("fixed", "150", "20")
    # All or nothing: the good values of the same form are not stored either.
    payment = (await board.stored()).payment
    assert (payment.deposit_mode, payment.deposit_fixed) == (DepositMode.PERCENT, None)
    assert await board.audit() == []


async def test_each_bad_field_of_a_form_gets_its_own_message(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    refused = await board.save(
        "reminders", reminder_schedule="demain", reminder_quiet_hours="25-9", reminder_repeat_count="2"
    )
    assert refused.status == 400
    body = await refused.text()
    for key in ("reminder_schedule", "reminder_quiet_hours"):
        assert field_error(body, key) is not None, key
    assert field_error(body, "reminder_repeat_count") is None
    assert (await board.stored()).reminders.repeat_count == 0


async def test_a_locale_or_time_zone_that_does_not_exist_is_refused_next_to_its_field(
    dashboard: MakeDashboard,
) -> None:
    board = await dashboard()
    refused = await board.save("language", locale="de", timezone="Mars/Olympus")
    assert refused.status == 400
    body = await refused.text()
    assert "de" in (field_error(body, "locale") or "")
    assert "Mars/Olympus" in (field_error(body, "timezone") or "")
    assert ((await board.stored()).locale, (await board.stored()).timezone) == ("fr", "Europe/Paris")


async def test_a_release_delay_longer_than_the_providers_hold_window_is_refused(
    dashboard: MakeDashboard,
) -> None:
    board = await dashboard(provider="icount")
    refused = await board.save("guarantee", guarantee_release_days="6")
    assert refused.status == 400
    assert "5" in (field_error(await refused.text(), "guarantee_release_days") or "")


async def test_an_unknown_section_is_a_400(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    refused = await board.post(SETTINGS, {"section": "owner_user_id", "owner_user_id": "x"})
    assert refused.status == 400


# CSRF and sessions


@pytest.mark.parametrize("path", [SETTINGS, f"{SETTINGS}/test", f"{SETTINGS}/preview"])
async def test_a_form_without_its_csrf_token_gets_403_and_changes_nothing(
    dashboard: MakeDashboard, path: str
) -> None:
    board = await dashboard()
    form = {"section": "deposit", "deposit_percent": "50", "preview": "payment_request.fr"}
    assert (await board.post(path, form, csrf=False)).status == 403
    assert (
        await board.post(path, {**form, "csrf": "not-the-cookie-s-token-at-all"}, csrf=False)
    ).status == 403
    assert str((await board.stored()).payment.deposit_percent) == "30%"
    assert await board.audit() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", SETTINGS), ("POST", SETTINGS), ("POST", f"{SETTINGS}/test"), ("POST", f"{SETTINGS}/preview")],
)
async def test_no_settings_route_answers_without_a_session(
    dashboard: MakeDashboard, method: str, path: str
) -> None:
    board = await dashboard(sign_in=False)
    response = await board.client.request(method, path, data={"section": "deposit"}, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


async def test_an_admin_changes_only_their_own_vendor(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    new = vendor_service.NewVendor(name="Traiteur", admin_phones=[OTHER_ADMIN])
    other = (await vendor_service.add_vendor(board.uow, new, NOW)).vendor
    board.client.session.cookie_jar.clear()
    await board.sign_in(OTHER_ADMIN)
    await board.page()
    assert (await board.save("deposit", deposit_percent="50")).status == 303
    assert str((await board.stored()).payment.deposit_percent) == "30%"
    changed = (await vendor_service.show_vendor(board.uow, str(other.id))).vendor
    assert str(changed.payment.deposit_percent) == "50%"


# Credentials: stored encrypted, never shown back


ICOUNT_SECRETS = {
    "icount_cid": "cid-8c1f0a77",
    "icount_user": "user-5e2b91",
    "icount_pass": "pass-d41d8cd98f00",
    "icount_paypage_id": "paypage-6021",
}
STRIPE_SECRETS = {
    "stripe_api_key": "sk_test_51Secret0123456789abc",
    "stripe_webhook_secret": "whsec_9f8e7d6c5b",
}


async def test_a_secret_is_never_rendered_back_only_said_to_be_set(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    secrets = {**ICOUNT_SECRETS, **STRIPE_SECRETS}
    saved = await board.save("credentials", **secrets)
    assert saved.status == 303, await saved.text()
    pages = [await board.page()]
    # The pages that come back after other forms: a refused one, a connection test, a preview.
    pages.append(await (await board.save("deposit", deposit_percent="0")).text())
    pages.append(await (await board.post(f"{SETTINGS}/test", {})).text())
    pages.append(await (await board.post(f"{SETTINGS}/preview", {"preview": "payment_request.fr"})).text())
    for shown in pages:
        for key, secret in secrets.items():
            assert secret not in shown, key
            assert fields_of(shown)[key] == ""
    first = pages[0]
    assert first.count('class="badge paid"') == len(secrets)
    assert first.count('name="unset.') == len(secrets)
    # Stored encrypted: not in the vendor's rows, and opened only with the key.
    async with board.uow() as uow:
        sealed = await uow.vendors.credentials(board.vendor.id)
        row = (await uow.connection.execute(select(vendors_table))).one()
    assert sealed is not None and all(secret not in sealed for secret in secrets.values())
    assert all(secret not in str(tuple(row)) for secret in secrets.values())
    assert CredentialCipher(SECRET_KEY).open(sealed) == secrets
    # The audit log names the keys, never their values.
    rows = await board.audit()
    assert sorted(row["setting"] for row in rows) == sorted(secrets)
    assert all(secret not in str(row) for row in rows for secret in secrets.values())


async def test_an_empty_credential_field_keeps_the_stored_one_and_remove_unsets_it(
    dashboard: MakeDashboard,
) -> None:
    board = await dashboard()
    assert (await board.save("credentials", **STRIPE_SECRETS)).status == 303
    assert (await board.save("credentials")).headers["Location"].endswith("unchanged=credentials#credentials")
    assert (await board.save("credentials", **{"unset.stripe_webhook_secret": "1"})).status == 303
    async with board.uow() as uow:
        sealed = await uow.vendors.credentials(board.vendor.id)
    assert CredentialCipher(SECRET_KEY).open(sealed) == {"stripe_api_key": STRIPE_SECRETS["stripe_api_key"]}
    shown = await board.page()
    assert 'name="unset.stripe_api_key"' in shown and 'name="unset.stripe_webhook_secret"' not in shown
    assert [row["setting"] for row in await board.audit()] == [
        "stripe_api_key", "stripe_webhook_secret", "stripe_webhook_secret",
    ]  # fmt: skip


async def test_without_a_secret_key_credentials_are_refused_and_the_page_says_why(
    dashboard: MakeDashboard,
) -> None:
    board = await dashboard(secret_key=None)
    assert "SECRET_KEY" in shown_text(await board.page())
    refused = await board.save("credentials", stripe_api_key=STRIPE_SECRETS["stripe_api_key"])
    assert refused.status == 400
    body = await refused.text()
    assert "SECRET_KEY" in (field_error(body, "stripe_api_key") or "")
    assert STRIPE_SECRETS["stripe_api_key"] not in body
    async with board.uow() as uow:
        assert await uow.vendors.credentials(board.vendor.id) is None


def test_the_credential_form_has_a_field_for_every_credential_a_vendor_may_store() -> None:
    assert set(page.CREDENTIAL_KEYS) == SECRET_SETTINGS
    assert len(page.CREDENTIAL_KEYS) == len(SECRET_SETTINGS)


# The audit log


async def test_audit_rows_carry_the_admins_phone_and_are_shown_in_the_vendors_time_zone(
    dashboard: MakeDashboard,
) -> None:
    board = await dashboard()
    assert (await board.save("deposit", deposit_percent="50")).status == 303
    [row] = await board.audit()
    assert (row["actor"], row["setting"], row["created_at"]) == ("33612345678", "deposit_percent", NOW)
    shown = shown_text(await board.page())
    # NOW is 09:30 UTC: 10:30 in Paris.
    assert re.search(r"2026-11-21 10:30\s+\+33612345678\s+Pourcentage par défaut\s+deposit_percent", shown)
    assert (await board.save("language", timezone="Asia/Jerusalem")).status == 303
    assert "2026-11-21 11:30" in shown_text(await board.page())


async def test_change_settings_audits_the_keys_that_changed_only_when_told_who(
    uow_factory: UnitOfWorkFactory,
) -> None:
    new = vendor_service.NewVendor(name="Boulangerie", admin_phones=[ADMIN])
    vendor = (await vendor_service.add_vendor(uow_factory, new, NOW)).vendor
    cipher = CredentialCipher(SECRET_KEY)
    await vendor_service.change_settings(uow_factory, vendor, [("deposit_percent", "40")], cipher, NOW)
    pairs = [("deposit_percent", "40"), ("hold_minutes", "60"), ("text.payment_request.en", "Pay {{ url }}"),
             ("icount_api_token", "tok-secret-123"), ("stripe_api_key", "")]  # fmt: skip
    await vendor_service.change_settings(uow_factory, str(vendor.id), pairs, cipher, NOW, actor="cli")
    async with uow_factory() as uow:
        entries = await uow.audit.latest(vendor.id, 10)
    assert sorted(entry.setting for entry in entries) == [
        "hold_minutes", "icount_api_token", "text.payment_request.en",
    ]  # fmt: skip
    assert {entry.actor for entry in entries} == {"cli"}
    assert all("tok-secret-123" not in str(entry) for entry in entries)
    async with uow_factory() as uow:
        assert await uow.audit.latest(vendor.id, 1) == entries[:1]


# "Tester la connexion"


async def test_the_connection_test_names_the_icount_company_with_good_credentials(
    dashboard: MakeDashboard,
) -> None:
    async with FakeIcount() as fake:
        board = await dashboard(provider="icount", icount_api_base=fake.base_url)
        good = {"icount_cid": fake.cid, "icount_user": fake.user, "icount_pass": fake.password,
                "icount_paypage_id": fake.paypage_id}  # fmt: skip
        assert (await board.save("credentials", **good)).status == 303
        tested = await board.post(f"{SETTINGS}/test", {})
        assert tested.status == 200
        body = await tested.text()
    assert "Connexion à icount réussie : Fake Bakery Ltd." in shown_text(body)
    assert fake.password not in body


async def test_the_connection_test_gives_icounts_reason_with_bad_credentials(
    dashboard: MakeDashboard,
) -> None:
    async with FakeIcount() as fake:
        board = await dashboard(provider="icount", icount_api_base=fake.base_url)
        bad = {"icount_cid": fake.cid, "icount_user": fake.user, "icount_pass": "not-the-password-42",
               "icount_paypage_id": fake.paypage_id}  # fmt: skip
        assert (await board.save("credentials", **bad)).status == 303
        tested = await board.post(f"{SETTINGS}/test", {})
        assert tested.status == 200
        body = await tested.text()
    text = shown_text(body)
    assert "La connexion à icount a échoué" in text and "bad_login" in text
    assert "not-the-password-42" not in body
    assert '<p class="notice bad" role="status">' in body


async def test_the_connection_test_says_which_credential_is_missing(dashboard: MakeDashboard) -> None:
    async with FakeIcount() as fake:
        board = await dashboard(provider="icount", icount_api_base=fake.base_url)
        assert (await board.save("credentials", icount_api_token=fake.token)).status == 303
        body = await (await board.post(f"{SETTINGS}/test", {})).text()
    assert "La connexion à icount a échoué : icount_paypage_id is missing." in shown_text(body)


async def test_the_connection_test_retrieves_the_stripe_account(dashboard: MakeDashboard) -> None:
    async with FakeStripe() as fake:
        refused = "sk_test_refused000000000000wxyz"
        fake.refused_keys.add(refused)
        board = await dashboard(provider="stripe", stripe_api_base=fake.base_url)
        assert (await board.save("credentials", stripe_api_key=fake.api_key)).status == 303
        good = await (await board.post(f"{SETTINGS}/test", {})).text()
        assert (await board.save("credentials", stripe_api_key=refused)).status == 303
        bad = await (await board.post(f"{SETTINGS}/test", {})).text()
        assert [request.path for request in fake.requests] == ["/v1/account", "/v1/account"]
    assert "Connexion à stripe réussie : Fake Bakery." in shown_text(good)
    assert "La connexion à stripe a échoué : stripe: the API key was refused" in shown_text(bad)
    assert refused not in bad and refused[-4:] not in bad and fake.api_key not in good


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_an_unreachable_provider_is_said_on_the_page_never_a_500(dashboard: MakeDashboard) -> None:
    board = await dashboard(
        provider="icount", icount_api_base=f"http://127.0.0.1:{_closed_port()}/api/v3.php"
    )
    assert (await board.save("credentials", icount_api_token="tok", icount_paypage_id="1")).status == 303
    tested = await board.post(f"{SETTINGS}/test", {})
    assert tested.status == 200
    assert "La connexion à icount a échoué" in shown_text(await tested.text())


async def test_a_provider_that_does_not_answer_in_time_is_said_on_the_page(
    dashboard: MakeDashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(page, "CHECK_TIMEOUT_SECONDS", 0.2)
    async with FakeIcount() as fake:
        board = await dashboard(provider="icount", icount_api_base=fake.base_url)
        saved = await board.save(
            "credentials", icount_api_token=fake.token, icount_paypage_id=fake.paypage_id
        )
        assert saved.status == 303
        fake.delay_next("auth/info", 2)
        tested = await board.post(f"{SETTINGS}/test", {})
        assert tested.status == 200
        text = shown_text(await tested.text())
    assert "La connexion à icount a échoué : le prestataire ne répond pas pour l'instant" in text


async def test_the_sandbox_passes_the_connection_test(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    body = await (await board.post(f"{SETTINGS}/test", {})).text()
    assert "Connexion à sandbox réussie" in shown_text(body)


# Previews of the vendor's own wording


async def test_a_preview_renders_the_vendors_wording_with_sample_data(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    wording = "Bonjour ! Acompte de {{ amount }} pour la commande {{ order }} chez {{ vendor_name }}."
    form = {"preview": "payment_request.fr", "text.payment_request.fr": wording, "section": "texts"}
    answer = await board.post(f"{SETTINGS}/preview", form, headers={"Accept": "text/plain"})
    assert answer.status == 200
    assert answer.content_type == "text/plain"
    # The vendor's own name and currency, and their deposit percent: 30% of 150.
    assert await answer.text() == "Bonjour ! Acompte de 45.00 EUR pour la commande #12 chez Boulangerie."
    english = await board.post(
        f"{SETTINGS}/preview", {"preview": "payment_request.en", "text.payment_request.en": "{{ amount }}"},
        headers={"Accept": "text/plain"},
    )  # fmt: skip
    assert await english.text() == "€45.00"
    assert (await board.stored()).message_overrides == {}, "a preview saves nothing"


async def test_a_preview_works_without_javascript_keeping_what_was_typed(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    wording = "Merci {{ vendor_name }} !\r\nÀ payer : {{ amount }}"
    form = {"preview": "payment_request.fr", "text.payment_request.fr": wording, "section": "texts"}
    answer = await board.post(f"{SETTINGS}/preview", form)
    assert answer.status == 200 and answer.content_type == "text/html"
    body = await answer.text()
    assert fields_of(body)["text.payment_request.fr"] == "Merci {{ vendor_name }} !\nÀ payer : {{ amount }}"
    output = re.search(r'<output id="f-text-payment_request-fr-preview"[^>]*>([^<]*)</output>', body)
    assert output is not None and html.unescape(output.group(1)) == "Merci Boulangerie !\nÀ payer : 45.00 EUR"


async def test_an_empty_wording_previews_our_own_text(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    answer = await board.post(
        f"{SETTINGS}/preview", {"preview": "payment_reminder.he", "text.payment_reminder.he": ""},
        headers={"Accept": "text/plain"},
    )  # fmt: skip
    assert answer.status == 200
    text = await answer.text()
    assert text.startswith("🔔 תזכורת מ-Boulangerie") and "21/11/2026" in text


async def test_a_wording_with_a_syntax_error_is_a_clear_400(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    broken = "Bonjour\nAcompte de {{ amount  pour {{ order }}"
    form = {"preview": "payment_request.fr", "text.payment_request.fr": broken}
    answer = await board.post(f"{SETTINGS}/preview", form, headers={"Accept": "text/plain"})
    assert answer.status == 400
    assert (await answer.text()).startswith("Erreur d'écriture à la ligne 2 :")
    page_answer = await board.post(f"{SETTINGS}/preview", form)
    assert page_answer.status == 400
    assert "Erreur d'écriture à la ligne 2" in shown_text(await page_answer.text())
    # Saved, it is refused next to its field, and nothing of the form is stored.
    refused = await board.save(
        "texts", **{"text.payment_request.fr": broken, "text.payment_receipt.fr": "Merci"}
    )
    assert refused.status == 400
    assert (field_error(await refused.text(), "text.payment_request.fr") or "").startswith(
        "Erreur d'écriture"
    )
    assert (await board.stored()).message_overrides == {}


async def test_a_wording_naming_data_the_message_has_not_is_a_400_listing_what_it_has(
    dashboard: MakeDashboard,
) -> None:
    board = await dashboard()
    form = {"preview": "payment_request.fr", "text.payment_request.fr": "Total {{ price_typo }}"}
    answer = await board.post(f"{SETTINGS}/preview", form, headers={"Accept": "text/plain"})
    assert answer.status == 400
    text = await answer.text()
    assert text.startswith("« price_typo » n'est pas une donnée de ce message.")
    assert "amount, kind, order, url, vendor_name" in text


@pytest.mark.parametrize(
    "wording",
    [
        "{{ amount.__class__ }}",
        "{{ amount|attr('__class__') }}",
        "{{ order.upper() }}",
        "{{ listed|map(attribute='order')|list }}",
        "{{ amount['__cla' ~ 'ss__'] }}",
        "{% include 'admin/layout.html' %}",
        "{{ 'x' * 100000000 }}",
    ],
)
async def test_a_wording_may_use_only_the_messages_data_never_python(
    dashboard: MakeDashboard, wording: str
) -> None:
    board = await dashboard()
    form = {"preview": "payment_request.fr", "text.payment_request.fr": wording}
    answer = await board.post(f"{SETTINGS}/preview", form, headers={"Accept": "text/plain"})
    assert answer.status == 400
    assert "n'est pas permis dans un message" in await answer.text()
    refused = await board.save("texts", **{"text.payment_request.fr": wording})
    assert refused.status == 400
    assert (await board.stored()).message_overrides == {}


async def test_an_unknown_message_cannot_be_previewed(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    assert (await board.post(f"{SETTINGS}/preview", {"preview": "nothing.fr"})).status == 400
    assert (await board.post(f"{SETTINGS}/preview", {"preview": "payment_request.de"})).status == 400


async def test_conditions_loops_and_plain_filters_are_allowed_in_a_wording(dashboard: MakeDashboard) -> None:
    board = await dashboard()
    wording = (
        "{% if balance_due %}Reste {{ balance|upper }}{% endif %}"
        "{% for r in listed %} {{ r.order }}{% if not loop.last %},{% endif %}{% endfor %}"
        "{{ label|default('-')|truncate(8) }}"
    )
    form = {
        "preview": "vendor_reminders_exhausted_many.fr",
        "text.vendor_reminders_exhausted_many.fr": wording,
    }
    answer = await board.post(f"{SETTINGS}/preview", form, headers={"Accept": "text/plain"})
    assert answer.status == 200, await answer.text()
    assert await answer.text() == "Reste 105.00 EUR #12, #13Gâtea..."


# Every message and every word


@pytest.mark.parametrize("locale", ALL_LOCALES)
def test_every_message_of_ours_renders_from_the_sample_data(locale: str) -> None:
    from tests.unit.test_settings_and_rules import make_vendor

    vendor = make_vendor()
    for kind in page.message_kinds():
        context = wording.sample_context(vendor, kind, locale, NOW, BASE_URL)
        assert render(f"messages/{kind}", locale, **context), kind
        assert set(wording.message_data(kind)) <= set(context), kind


def _shape(value: object) -> object:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


def test_the_settings_words_are_the_same_in_every_language_and_name_every_field() -> None:
    french = words("fr", "settings")
    for locale in ("en", "he"):
        assert _shape(words(locale, "settings")) == _shape(french), locale
    every_key = [
        key for name, keys in page.sections().items() if name not in {"templates", "texts"} for key in keys
    ]
    assert set(every_key) <= set(french["labels"])
    assert set(page.template_kinds()) <= set(french["kinds"])
    assert set(page.sections()) | {"audit"} == set(french["sections"]) == set(french["help"])
    assert french["test"] == "Tester la connexion"
