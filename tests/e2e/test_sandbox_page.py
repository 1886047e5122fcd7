"""The sandbox page's server side on a real port: demo data, phones posting signed webhooks through the real
inbound path, the event stream of what the fake Graph API receives, and the clock."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Settings
from bot.domain.deposit import AskKind
from bot.domain.order import OrderStatus
from bot.sandbox.clock import SandboxClock
from bot.sandbox.demo import (
    DEMO_CUSTOMER_PHONE,
    DEMO_VENDOR_PHONE,
    TEMPLATE_PREFIX,
    ensure_demo,
    template_kinds,
)
from bot.sandbox.ui import vendor_commands
from bot.services import orders as order_service, payments, vendors as vendor_service
from bot.store.tables import commandes, inbound_events
from bot.web.keys import payments_key, uow_key
from tests.cli_support import run_bot
from tests.conftest import NOW, TickingClock
from tests.payment_support import settings_for
from tests.whatsapp_support import free_port

VENDOR = DEMO_VENDOR_PHONE.lstrip("+")
CUSTOMER = DEMO_CUSTOMER_PHONE.lstrip("+")
Event = dict[str, Any]


class Sandbox:
    def __init__(self, app: web.Application, base: str, http: aiohttp.ClientSession) -> None:
        self.app = app
        self.base = base
        self.http = http

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}{path}", json=body) as response:
            text = await response.text()
            return response.status, json.loads(text) if response.content_type == "application/json" else text


@asynccontextmanager
async def started(tmp_path: Path, demo: bool = True, **overrides: Any) -> AsyncIterator[Sandbox]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    options: dict[str, Any] = {"reminder_quiet_hours": "off"}
    options.update(overrides)
    settings: Settings = settings_for(f"sqlite:///{tmp_path / 'bot.db'}", **options).model_copy(
        update={"public_base_url": base}
    )
    app = create_app(
        settings,
        clock=SandboxClock(TickingClock()),
        sandbox_demo=demo,
        pair_interval=0.05,
        sandbox_settle_delay=0.05,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with aiohttp.ClientSession() as http:
        yield Sandbox(app, base, http)
    await runner.cleanup()


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with started(tmp_path) as running:
        yield running


class Stream:
    """The page's view of ``/sandbox/events``."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.messages: dict[str, Event] = {}
        self.last_id = 0
        self.ids: list[int] = []

    async def next_event(self) -> tuple[str, Event]:
        kind, data = "message", ""
        while True:
            line = (await self.response.content.readline()).decode().rstrip("\n")
            if line.startswith("id: "):
                self.last_id = int(line[4:])
                self.ids.append(self.last_id)
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                event: Event = json.loads(data)
                if kind == "message":
                    self.messages[event["message"]["id"]] = event["message"]
                elif kind == "status" and event["id"] in self.messages:
                    self.messages[event["id"]]["status"] = event["status"]
                return kind, event

    async def until(self, found: Callable[[str, Event], bool], wait: float = 10.0) -> Event:
        async with asyncio.timeout(wait):
            while True:
                kind, event = await self.next_event()
                if found(kind, event):
                    return event


def bot_message_to(phone: str, text: str) -> Callable[[str, Event], bool]:
    def found(kind: str, event: Event) -> bool:
        message = event.get("message", {})
        return (
            kind == "message"
            and message["side"] == "bot"
            and message["phone"] == phone
            and (text in message["text"])
        )

    return found


@asynccontextmanager
async def follow(sandbox: Sandbox, last_event_id: int | None = None) -> AsyncIterator[Stream]:
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    async with sandbox.http.get(f"{sandbox.base}/sandbox/events", headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        yield Stream(response)


async def test_the_first_start_makes_the_demo_vendor_customer_and_accepted_order_once(tmp_path: Path) -> None:
    async with started(tmp_path) as sandbox:
        uow = sandbox.app[uow_key]
        summary = await vendor_service.show_vendor(uow, None)
        assert summary.admin_phones == [VENDOR]
        assert summary.vendor.whatsapp_templates["payment_request"] == "sandbox_payment_request"
        assert summary.vendor.whatsapp_templates["payment_reminder"] == "sandbox_payment_reminder"
        view = await order_service.show_order(uow, None, 1)
        assert view.order.status is OrderStatus.ACCEPTED
        assert str(view.order.price) == "150.00 EUR"
        async with uow() as work:
            customer = await work.customers.by_phone(summary.vendor.id, CUSTOMER)
        assert customer is not None and customer.name == "Camille"
    async with started(tmp_path) as sandbox:  # a restart adds nothing
        assert len(await vendor_service.list_vendors(sandbox.app[uow_key])) == 1
        async with sandbox.app[uow_key]() as work:
            orders = await work.connection.execute(select(func.count()).select_from(commandes))
        assert orders.scalar_one() == 1


async def test_with_real_whatsapp_credentials_there_is_no_demo_and_no_sandbox_page(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'bot.db'}",
        whatsapp_token="token",
        whatsapp_phone_id="123456",
        whatsapp_app_secret="secret",
        whatsapp_verify_token="verify",
    )
    assert not await ensure_demo(object(), settings, NOW)  # type: ignore[arg-type]
    client = await aiohttp_client(create_app(settings, clock=TickingClock(), sandbox_demo=True))
    assert (await client.get("/sandbox")).status == 404
    assert (await client.post("/sandbox/clock", json={"advance": "1d"})).status == 404
    async with client.app[uow_key]() as work:
        orders = await work.connection.execute(select(func.count()).select_from(commandes))
    assert orders.scalar_one() == 0


async def test_the_page_shows_both_phones_the_customers_and_the_guide(sandbox: Sandbox) -> None:
    async with sandbox.http.get(f"{sandbox.base}/sandbox") as response:
        assert response.status == 200
        html = await response.text()
    assert "Vendor&#39;s phone" in html and "Customer&#39;s phone" in html
    assert f"+{VENDOR}" in html and f"Camille · +{CUSTOMER}" in html
    assert "Try this" in html and "payé 1" in html and "+1 day" in html
    assert 'for="vendor-input"' in html and 'for="customer-input"' in html
    async with sandbox.http.get(f"{sandbox.base}/sandbox", headers={"Accept-Language": "fr-FR"}) as french:
        assert "À essayer" in await french.text()
    async with sandbox.http.get(
        f"{sandbox.base}/sandbox?lang=en", headers={"Accept-Language": "fr"}
    ) as asked:
        assert "Try this" in await asked.text()
    async with sandbox.http.get(f"{sandbox.base}/sandbox/static/sandbox.js") as script:
        assert script.status == 200 and "EventSource" in await script.text()


async def test_typing_and_tapping_in_a_phone_go_through_the_webhook_and_the_answers_stream_back(
    sandbox: Sandbox,
) -> None:
    async with follow(sandbox) as stream:
        status, answer = await sandbox.post("/sandbox/send", {"phone": f"+{VENDOR}", "text": "payé 1"})
        assert status == 200 and answer["status"] == "delivered"
        typed = (await stream.until(lambda k, e: k == "message" and e["message"]["id"] == answer["id"]))[
            "message"
        ]
        assert typed["side"] == "me" and typed["text"] == "payé 1"
        choice = await stream.until(bot_message_to(VENDOR, ""))
        buttons = {b["title"]: b["id"] for b in choice["message"]["buttons"]}
        assert list(buttons) == ["Paiement complet", "Acompte", "Annuler"]

        status, _ = await sandbox.post(
            "/sandbox/reply", {"phone": VENDOR, "context": choice["message"]["id"], "id": buttons["Acompte"]}
        )
        assert status == 200
        menu = (await stream.until(lambda k, e: k == "message" and bool(e["message"]["rows"])))["message"]
        assert menu["list_button"] and menu["rows"][0]["title"] == "30% : 45.00 EUR"
        await sandbox.post(
            "/sandbox/reply", {"phone": VENDOR, "context": menu["id"], "id": menu["rows"][0]["id"]}
        )
        confirm = (await stream.until(bot_message_to(VENDOR, "Confirmer ?")))["message"]
        await sandbox.post(
            "/sandbox/reply", {"phone": VENDOR, "context": confirm["id"], "id": confirm["buttons"][0]["id"]}
        )

        request = (await stream.until(bot_message_to(CUSTOMER, "Lien de paiement")))["message"]
        # Outside the 24-hour window: the vendor's approved template, shown with the bot's own text.
        assert request["template"] == "sandbox_payment_request" and "/sandbox/checkout/" in request["text"]
        await stream.until(lambda k, e: k == "status" and e["id"] == request["id"] and e["status"] == "read")
    async with sandbox.app[uow_key]() as work:
        inbound = await work.connection.execute(select(func.count()).select_from(inbound_events))
    assert inbound.scalar_one() >= 4  # each typed or tapped message came in as a signed webhook


async def test_a_reload_replays_the_conversation_and_a_reconnection_only_what_it_missed(
    sandbox: Sandbox,
) -> None:
    async with follow(sandbox) as stream:
        await sandbox.post("/sandbox/send", {"phone": CUSTOMER, "text": "Bonjour"})
        await stream.until(bot_message_to(CUSTOMER, ""))
        seen = stream.last_id
    async with follow(sandbox) as reloaded:
        await reloaded.until(lambda k, e: reloaded.last_id >= seen)
        texts = [m["text"] for m in reloaded.messages.values()]
        assert "Bonjour" in texts and len(texts) >= 2
    async with follow(sandbox, last_event_id=seen) as resumed:
        await sandbox.post("/sandbox/send", {"phone": VENDOR, "text": "aide"})
        await resumed.until(lambda k, e: k == "message" and e["message"]["text"] == "aide")
        assert min(resumed.ids) > seen  # nothing it had seen was sent again


async def test_a_tap_must_name_a_choice_of_a_message_sent_to_that_phone(sandbox: Sandbox) -> None:
    assert (await sandbox.post("/sandbox/reply", {"phone": VENDOR, "context": "wamid.nope", "id": "x"}))[
        0
    ] == 400
    assert (await sandbox.post("/sandbox/send", {"phone": "12", "text": "hello"}))[0] == 400
    assert (await sandbox.post("/sandbox/send", {"phone": VENDOR, "text": "  "}))[0] == 400
    async with sandbox.http.post(f"{sandbox.base}/sandbox/send", data=b"not json") as response:
        assert response.status == 400
    assert (await sandbox.post("/sandbox/clock", {"advance": "1y"}))[0] == 400


async def test_moving_the_clock_a_day_forward_sends_the_first_reminder_at_once(sandbox: Sandbox) -> None:
    deps = sandbox.app[payments_key]
    await payments.request_payment(deps, None, 1, AskKind.DEPOSIT, "30%")
    async with follow(sandbox) as stream:
        await stream.until(bot_message_to(CUSTOMER, "Lien de paiement"))
        status, hour = await sandbox.post("/sandbox/clock", {"advance": "1h"})
        assert status == 200 and hour["queued"] == 0
        status, day = await sandbox.post("/sandbox/clock", {"advance": "1d"})
        assert status == 200 and day["queued"] == 1 and day["ahead"]
        await stream.until(lambda k, e: k == "clock")
        reminder = (await stream.until(bot_message_to(CUSTOMER, "Petit rappel")))["message"]
        assert reminder["template"] == "sandbox_payment_reminder" and "45.00 EUR" in reminder["text"]


async def test_a_clock_that_is_not_the_sandbox_s_cannot_be_moved(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'bot.db'}")
    client = await aiohttp_client(create_app(settings, clock=lambda: NOW))
    assert (await client.post("/sandbox/clock", json={"advance": "1d"})).status == 409


async def test_a_clock_move_that_sends_nothing_says_when_the_next_reminder_comes_and_why(
    tmp_path: Path,
) -> None:
    # NOW is Saturday 21 November, 10:30 in Paris: quiet hours from 10 to 12 hold what falls in them.
    async with started(tmp_path, reminder_quiet_hours="10-12") as sandbox:
        _, idle = await sandbox.post("/sandbox/clock?lang=en", {"advance": "1h"})
        assert idle["queued"] == 0
        assert idle["result"] == "No reminder was due, and none is waiting: ask for a payment first."
        # Asked at 11:30: the first reminder, a day later, falls in the quiet hours and waits for noon.
        await payments.request_payment(sandbox.app[payments_key], None, 1, AskKind.DEPOSIT, "30%")
        _, held = await sandbox.post("/sandbox/clock?lang=en", {"advance": "1d"})
        assert held["queued"] == 0
        assert held["result"] == (
            "No reminder sent: the vendor's quiet hours (10:00 to 12:00) hold the next one until "
            "Sunday 22 November, 12:00."
        )
        _, french = await sandbox.post("/sandbox/clock?lang=fr", {"advance": "1h"})
        assert french["queued"] == 1 and french["result"] == "1 rappel(s) envoyé(s)."
        _, later = await sandbox.post("/sandbox/clock?lang=fr", {"advance": "1h"})
        assert later["result"] == (
            "Aucun rappel n'était encore dû : le prochain est prévu pour mardi 24 novembre, 12:00."
        )


async def test_every_page_hears_of_a_clock_move_and_words_it_in_its_own_language(sandbox: Sandbox) -> None:
    async with follow(sandbox) as stream:
        status, moved = await sandbox.post("/sandbox/clock?lang=fr", {"advance": "1h"})
        assert status == 200 and moved["label"].startswith("samedi 21 novembre, 11:3")
        event = await stream.until(lambda k, e: k == "clock")
    # No words in what every page hears: the offset, and the time to measure the page's clock against.
    assert set(event) == {"type", "now", "offset"} and event["offset"] == 3600
    async with sandbox.http.get(f"{sandbox.base}/sandbox?lang=en") as english:
        html = await english.text()
    assert "Saturday 21 November, 11:3" in html and "(0 d 1 h ahead of real time)" in html
    async with sandbox.http.get(f"{sandbox.base}/sandbox?lang=fr") as french:
        html = await french.text()
    assert "samedi 21 novembre, 11:3" in html and "(0 j 1 h d&#39;avance sur l&#39;heure réelle)" in html


GUIDE_OPENINGS = {
    "en": "In the vendor's phone, type",
    "fr": "Dans le téléphone du vendeur, tapez",
    "he": "בטלפון של העסק, הקלידו",
}


@pytest.mark.parametrize("vendor_locale", ["fr", "en", "he"])
async def test_the_guide_speaks_the_page_s_language_and_names_what_to_type_in_the_vendor_s(
    tmp_path: Path, vendor_locale: str
) -> None:
    typed = vendor_commands(vendor_locale)
    async with started(tmp_path, vendor_locale=vendor_locale) as sandbox:
        for page_locale, opening in GUIDE_OPENINGS.items():
            async with sandbox.http.get(f"{sandbox.base}/sandbox?lang={page_locale}") as response:
                html = await response.text()
            assert f'{opening} <kbd dir="auto">{typed["pay"]}</kbd>' in html
            assert f'placeholder="{typed["pay"]}"' in html
            assert f'placeholder="{typed["customer_balance"]}"' in html
            assert f'<strong dir="auto">{typed["deposit"]}</strong>' in html
            assert f'<strong dir="auto">{typed["confirm"]}</strong>' in html
    # The reply buttons the guide names are the ones the bot sends.
    assert (typed["deposit"], typed["confirm"]) == {
        "fr": ("Acompte", "Confirmer et envoyer"),
        "en": ("Deposit", "Confirm and send"),
        "he": ("מקדמה", "אישור ושליחה"),
    }[vendor_locale]


async def test_a_vendor_made_with_bot_vendor_add_gets_the_sandbox_templates_and_keeps_its_own(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'bot.db'}"

    async def bot(*args: str) -> None:
        # In a thread: the bot under test shares this event loop and the SQLite file.
        done = await asyncio.to_thread(run_bot, tmp_path, *args, DATABASE_URL=database)
        assert done.returncode == 0, done.stderr

    await bot("vendor", "add", "--name", "Fleurs", "--admin", "+33611112222")
    await bot("vendor", "set", "template.payment_request=fleurs_request")
    sandbox_templates = {kind: TEMPLATE_PREFIX + kind for kind in template_kinds()}
    async with started(tmp_path) as sandbox:
        uow = sandbox.app[uow_key]
        summary = await vendor_service.show_vendor(uow, None)
        assert summary.vendor.name == "Fleurs"  # the database had a vendor: no demo beside it
        assert summary.vendor.whatsapp_templates == {**sandbox_templates, "payment_request": "fleurs_request"}
        # So the bot reaches a customer who never wrote: with the vendor's own template here.
        clock = sandbox.app[payments_key].clock
        order = await order_service.create_order(uow, None, "+33655443322", "80", "Bouquet", True, clock())
        async with follow(sandbox) as stream:
            await payments.request_payment(
                sandbox.app[payments_key], None, order.number, AskKind.DEPOSIT, "30%"
            )
            request = (await stream.until(bot_message_to("33655443322", "")))["message"]
        assert request["template"] == "fleurs_request" and "/sandbox/checkout/" in request["text"]
        # A vendor added while the bot runs has them once the sandbox page is opened.
        await bot("vendor", "add", "--name", "Bonbons", "--admin", "+33677778888")
        async with sandbox.http.get(f"{sandbox.base}/sandbox") as response:
            assert response.status == 200
        added = await vendor_service.show_vendor(uow, "Bonbons")
        assert added.vendor.whatsapp_templates == sandbox_templates


async def test_the_favicon_is_served_and_every_page_names_one(sandbox: Sandbox) -> None:
    async with sandbox.http.get(f"{sandbox.base}/favicon.ico") as icon:
        assert icon.status == 200 and icon.content_type == "image/svg+xml"
        assert (await icon.text()).startswith("<svg")
    async with sandbox.http.get(f"{sandbox.base}/sandbox") as response:
        assert '<link rel="icon" href="/sandbox/static/favicon.svg"' in await response.text()
    # Pay and checkout pages name an inline one: no request, so no 404 where the sandbox is off.
    async with sandbox.http.get(f"{sandbox.base}/sandbox/checkout/sbx_unknown") as unknown:
        assert '<link rel="icon" href="data:image/svg+xml,' in await unknown.text()


DASHBOARD_BUTTONS = {"en": "the dashboard", "fr": "le tableau de bord", "he": "לוח הבקרה"}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def test_the_guide_s_dashboard_step_signs_in_as_the_vendor_with_a_one_time_link(
    sandbox: Sandbox,
) -> None:
    for page_locale, button in DASHBOARD_BUTTONS.items():
        async with sandbox.http.get(f"{sandbox.base}/sandbox?lang={page_locale}") as response:
            html = await response.text()
        assert 'method="post" action="/sandbox/dashboard"' in html
        assert f">{button}</button></form>" in html and 'class="dashboard"' in html
    # The browser's own cookies (its address is an IP, which aiohttp's default jar ignores).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(f"{sandbox.base}/admin/vendors", allow_redirects=False) as before:
            assert before.status == 302 and before.headers["Location"].startswith("/admin/login?next=")
        async with browser.post(
            f"{sandbox.base}/sandbox/dashboard", headers={"Origin": sandbox.base}, allow_redirects=False
        ) as opened:
            assert opened.status == 303
            link = opened.headers["Location"]
        assert link.startswith("/admin/login/link/"), "relative: the browser stays at the sandbox's address"
        async with browser.get(f"{sandbox.base}{link}", allow_redirects=False) as signed_in:
            assert signed_in.status == 303 and signed_in.headers["Location"] == "/admin"
            assert signed_in.cookies["bot_admin"]["httponly"]
        async with browser.get(f"{sandbox.base}/admin/vendors", allow_redirects=False) as after:
            assert after.status == 200 and "Demo vendor" in await after.text()
    async with sandbox.http.get(f"{sandbox.base}{link}", allow_redirects=False) as again:
        assert again.status == 410, "the link works once"
    async with sandbox.http.post(
        f"{sandbox.base}/sandbox/dashboard", headers={"Origin": "https://evil.example"}, allow_redirects=False
    ) as elsewhere:
        assert elsewhere.status == 403, "another site's page cannot sign a visitor in"


async def test_the_dashboard_s_sign_in_code_shows_in_the_vendor_s_phone_as_its_template(
    sandbox: Sandbox,
) -> None:
    assert "admin_code" in template_kinds(), "every vendor gets a sandbox template for the code"
    async with (
        follow(sandbox) as stream,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
    ):
        async with browser.get(f"{sandbox.base}/admin/login") as login:
            csrf = _csrf(await login.text())
        form = {"csrf": csrf, "next": "/admin", "phone": f"+{VENDOR}"}
        async with browser.post(f"{sandbox.base}/admin/login", data=form) as asked:
            assert asked.status == 200
        sent = await stream.until(
            lambda k, e: k == "message" and e["message"].get("template") == "sandbox_admin_code"
        )
        message = sent["message"]
        assert message["side"] == "bot" and message["phone"] == VENDOR
        code = re.search(r"\b(\d{6})\b", message["text"])
        assert code is not None and "Demo vendor" in message["text"], message["text"]
        form = {"csrf": csrf, "next": "/admin", "phone": f"+{VENDOR}", "code": code.group(1)}
        async with browser.post(
            f"{sandbox.base}/admin/login/code", data=form, allow_redirects=False
        ) as checked:
            assert checked.status == 303 and checked.headers["Location"] == "/admin"
            assert "bot_admin" in checked.cookies
