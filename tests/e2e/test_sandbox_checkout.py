"""The sandbox checkout, over HTTP: Pay, Decline and Pay later settle through the inbox; a guarantee's
page authorises a hold; a test card is saved only when the customer ticks "save my card"."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from babel.dates import format_datetime
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from bot.app import create_app
from bot.domain.card_token import CardToken
from bot.domain.deposit import AskKind
from bot.domain.order import OrderStatus
from bot.domain.transaction import TransactionStatus
from bot.payments.sandbox.consts import CARD_TOKEN, DECLINED_CARD, THREE_DS_CARD
from bot.payments.sandbox.provider import SandboxProvider
from bot.sandbox.checkout import CARD_YEARS
from bot.sandbox.clock import SandboxClock
from bot.services import (
    customers as customer_service,
    guarantees,
    orders as order_service,
    payments,
    phone_payments,
    vendors as vendor_service,
)
from bot.store.database import create_engine
from bot.store.tables import card_tokens, inbound_events, outbox_messages
from bot.store.uow import UnitOfWorkFactory
from bot.web.keys import jobs_key, payments_key, tasks_key, uow_key
from tests.conftest import TickingClock
from tests.payment_support import FlakyProvider, OneProviderRegistry, deps_for, settings_for


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, tmp_path: Path) -> TestClient:
    settings = settings_for(f"sqlite:///{tmp_path / 'bot.db'}", vendor_admin_phones="+33612345678")
    return await aiohttp_client(
        create_app(settings, clock=SandboxClock(TickingClock()), sandbox_settle_delay=0.05)
    )


async def new_request(
    client: TestClient, ask: AskKind = AskKind.DEPOSIT, typed: str | None = "30%"
) -> tuple[int, str]:
    order = await order_service.create_order(
        client.app[uow_key], None, "+33699887766", "150", "Gâteau", True, client.app[payments_key].clock()
    )
    outcome = await payments.request_payment(client.app[payments_key], None, order.number, ask, typed)
    return order.number, urlsplit(outcome.url).path


async def transaction_status(client: TestClient, number: int) -> TransactionStatus:
    await client.app[tasks_key].drain()
    view = await order_service.show_order(client.app[uow_key], None, number)
    return view.transactions[-1].status


async def test_pay_settles_the_deposit_and_the_page_then_says_so(client: TestClient) -> None:
    number, path = await new_request(client)
    page = await client.get(path)
    assert page.status == 200
    html = await page.text()
    assert "Demo vendor" in html and "45.00 EUR" in html and "Payer" in html
    paid = await client.post(f"{path}/pay", allow_redirects=False)
    assert paid.status == 303
    assert paid.headers["Location"].startswith("/pay/success?tx=")
    assert await transaction_status(client, number) is TransactionStatus.PAID
    success = await client.get(paid.headers["Location"])
    assert "bien reçu" in await success.text()
    view = await order_service.show_order(client.app[uow_key], None, number)
    assert view.order.status is OrderStatus.ACCEPTED
    closed = await client.get(path)
    assert "déjà effectué" in await closed.text()
    again = await client.post(f"{path}/pay", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == path
    async with client.app[uow_key]() as uow:
        sources = (await uow.connection.execute(select(inbound_events.c.source))).scalars().all()
        kinds = (await uow.connection.execute(select(outbox_messages.c.kind))).scalars().all()
    assert sources == ["sandbox"]
    # The customer never wrote, so the sender may already have reported the messages as undeliverable.
    assert sorted(k for k in kinds if k != "vendor_delivery_failed") == [
        "payment_receipt",
        "payment_request",
        "vendor_payment_received",
    ]


async def test_decline_leaves_the_request_open_and_tells_the_vendor(client: TestClient) -> None:
    number, path = await new_request(client, AskKind.FULL, None)
    declined = await client.post(f"{path}/decline", allow_redirects=False)
    assert declined.status == 303 and declined.headers["Location"].startswith("/pay/cancelled?tx=")
    assert await transaction_status(client, number) is TransactionStatus.FAILED
    cancelled_page = await client.get(declined.headers["Location"])
    assert "Aucun montant" in await cancelled_page.text()
    assert "Payer" in await (await client.get(path)).text()
    async with client.app[uow_key]() as uow:
        kinds = (await uow.connection.execute(select(outbox_messages.c.kind))).scalars().all()
    assert "vendor_payment_failed" in kinds
    await client.post(f"{path}/pay", allow_redirects=False)
    assert await transaction_status(client, number) is TransactionStatus.PAID
    view = await order_service.show_order(client.app[uow_key], None, number)
    assert view.order.status is OrderStatus.PAID


async def test_pay_later_settles_asynchronously(client: TestClient) -> None:
    number, path = await new_request(client)
    later = await client.post(f"{path}/later")
    assert later.status == 200
    assert "en cours" in await later.text()
    assert await transaction_status(client, number) is TransactionStatus.PAID


async def test_unknown_links_and_actions_get_404(client: TestClient) -> None:
    assert (await client.get("/sandbox/checkout/sbx_nothing")).status == 404
    _, path = await new_request(client)
    assert (await client.post(f"{path}/steal")).status == 404


async def test_the_success_page_without_a_known_transaction_still_answers(client: TestClient) -> None:
    response = await client.get("/pay/success?tx=not-a-uuid", headers={"Accept-Language": "he-IL,he;q=0.9"})
    assert response.status == 200
    assert "תודה" in await response.text()


async def test_a_request_left_without_its_link_is_completed_at_the_next_start(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'bot.db'}")
    clock = SandboxClock(TickingClock())  # one clock across the restart: time never goes back
    first = await aiohttp_client(create_app(settings, clock=clock))
    order = await order_service.create_order(
        first.app[uow_key], None, "+33699887766", "150", "", True, first.app[payments_key].clock()
    )
    await first.close()
    engine = create_engine(settings.database_url)
    crashed = deps_for(UnitOfWorkFactory(engine), OneProviderRegistry(FlakyProvider(SandboxProvider("x"), 3)))
    with pytest.raises(Exception, match="payment_link_delayed"):
        await payments.request_payment(crashed, None, order.number, AskKind.FULL)
    await engine.dispose()
    restarted = await aiohttp_client(create_app(settings, clock=clock))
    await restarted.app[jobs_key].started()  # the start-up recovery
    await restarted.app[tasks_key].drain()
    view = await order_service.show_order(restarted.app[uow_key], None, order.number)
    assert view.transactions[0].payment_link_id is not None
    async with restarted.app[uow_key]() as uow:
        kinds = (await uow.connection.execute(select(outbox_messages.c.kind))).scalars().all()
    assert kinds == ["payment_request"]


# -- guarantees and saved cards ------------------------------------------------------------------------


async def cards_on(client: TestClient, saved_cards: bool = True) -> None:
    """The vendor takes guarantees on its command, and offers "save my card" (or not)."""
    pairs = [("guarantee_mode", "optional"), ("saved_cards", "on" if saved_cards else "off")]
    await vendor_service.change_settings(
        client.app[uow_key], None, pairs, None, client.app[payments_key].clock()
    )


async def new_guarantee(client: TestClient, amount: str = "50") -> tuple[int, str]:
    order = await order_service.create_order(
        client.app[uow_key], None, "+33699887766", "150", "Gâteau", True, client.app[payments_key].clock()
    )
    outcome = await guarantees.request_guarantee(client.app[payments_key], None, order.number, amount)
    return order.number, urlsplit(outcome.url).path


async def customer_speaks(client: TestClient, locale: str) -> None:
    await customer_service.set_customer(
        client.app[uow_key], None, "+33699887766", [("locale", locale)], client.app[payments_key].clock()
    )


async def outbox_kinds(client: TestClient) -> list[str]:
    async with client.app[uow_key]() as uow:
        return list((await uow.connection.execute(select(outbox_messages.c.kind))).scalars().all())


async def kept_cards(client: TestClient) -> list[CardToken]:
    """The customer's cards that may be charged again."""
    async with client.app[uow_key]() as uow:
        vendor = (await uow.vendors.all())[0]
        customer = await uow.customers.by_phone(vendor.id, "33699887766")
        assert customer is not None
        return await uow.cards.usable_for(vendor.id, customer.id)


async def stored_text(client: TestClient) -> str:
    """Everything the sandbox's events and the saved cards left in the database, as text."""
    async with client.app[uow_key]() as uow:
        payloads = (await uow.connection.execute(select(inbound_events.c.payload))).scalars().all()
        cards = (await uow.connection.execute(select(card_tokens))).all()
    return "\n".join([*map(str, payloads), *(repr(tuple(row)) for row in cards)])


def inputs(html: str) -> list[dict[str, str | None]]:
    """Every form field of a page, as its attributes."""
    found: list[dict[str, str | None]] = []

    class Fields(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in {"input", "textarea", "select"}:
                found.append({"tag": tag, **dict(attrs)})

    Fields().feed(html)
    return found


# The numbers behind the page's test cards (Stripe's): none is ever sent, shown or stored.
TEST_CARD_NUMBERS = ("4242424242424242", "4000000000003220", "5555555555550002", "4000000000000002")
HOLD_WORDING = {
    "fr": ("Autorisez un blocage de 50.00 EUR — rien n'est débité maintenant", "libéré au plus tard le"),
    "en": ("Authorise a hold of €50.00 — nothing is charged now", "released by"),
    "he": ("אישור חסימה של", "לכל המאוחר עד"),
}


@pytest.mark.parametrize("locale", ["fr", "en", "he"])
async def test_a_guarantee_page_says_it_is_a_hold_not_a_payment(client: TestClient, locale: str) -> None:
    await cards_on(client)
    await customer_speaks(client, locale)
    number, path = await new_guarantee(client)
    page = await client.get(path)
    assert page.status == 200
    html = await page.text()
    hold, release = HOLD_WORDING[locale]
    assert hold in html and release in html
    assert "Demo vendor" in html and f"#{number}" in html and "Gâteau" in html
    assert f'action="{path}/authorize"' in html and f'formaction="{path}/decline"' in html
    assert f"{path}/pay" not in html and f"{path}/later" not in html
    if locale == "he":
        assert '<html lang="he" dir="rtl">' in html
    # Released at the latest a week on (guarantee_release_days, the sandbox's window): that day, in the
    # vendor's time zone and the customer's words.
    vendor = (await vendor_service.show_vendor(client.app[uow_key], None)).vendor
    day = client.app[payments_key].clock() + timedelta(days=7)
    pattern = "EEEE, d 'ב'MMMM" if locale == "he" else "EEEE d MMMM"
    assert format_datetime(day, pattern, tzinfo=ZoneInfo(vendor.timezone), locale=locale) in html


async def test_authorising_the_hold_holds_the_guarantee_and_tells_the_customer_and_the_vendor(
    client: TestClient,
) -> None:
    await cards_on(client, saved_cards=False)
    number, path = await new_guarantee(client)
    authorised = await client.post(f"{path}/authorize", allow_redirects=False)
    assert authorised.status == 303
    assert authorised.headers["Location"].startswith("/pay/success?tx=")
    await client.app[tasks_key].drain()
    view = await order_service.show_order(client.app[uow_key], None, number)
    guarantee = view.transactions[-1]
    assert guarantee.is_guarantee and guarantee.status is TransactionStatus.HELD
    assert str(guarantee.held) == "50.00 EUR" and guarantee.release_at is not None
    assert view.order.status is OrderStatus.ACCEPTED  # a hold is not a payment
    assert {"guarantee_request", "guarantee_held", "vendor_guarantee_held"} <= set(await outbox_kinds(client))
    held_page = await (await client.get(path)).text()
    assert "Blocage autorisé : 50.00 EUR bloqués sur la carte" in held_page
    again = await client.post(f"{path}/authorize", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == path
    assert await kept_cards(client) == []  # nothing ticked: no card kept to charge again


async def test_declining_the_hold_leaves_the_guarantee_asked(client: TestClient) -> None:
    await cards_on(client)
    number, path = await new_guarantee(client)
    declined = await client.post(f"{path}/decline", allow_redirects=False)
    assert declined.status == 303 and declined.headers["Location"].startswith("/pay/cancelled?tx=")
    assert await transaction_status(client, number) is TransactionStatus.FAILED
    assert "Autoriser le blocage" in await (await client.get(path)).text()


async def test_paying_with_save_card_ticked_keeps_the_test_card_and_no_card_number(
    client: TestClient,
) -> None:
    await cards_on(client)
    number, path = await new_request(client)
    html = await (await client.get(path)).text()
    assert 'name="save_card" value="1"' in html
    assert "Visa •••• 4242</bdi> — paie" in html and "Visa •••• 3220</bdi>" in html
    assert "Mastercard •••• 0002</bdi>" in html
    paid = await client.post(f"{path}/pay", data={"save_card": "1", "card": "3ds"}, allow_redirects=False)
    assert paid.status == 303 and paid.headers["Location"].startswith("/pay/success?tx=")
    assert await transaction_status(client, number) is TransactionStatus.PAID
    [card] = await kept_cards(client)
    assert (card.brand, card.last4, card.label.split(" (")[0]) == ("visa", "3220", "Visa •••• 3220")
    assert card.token.startswith(THREE_DS_CARD) and card.consent_source.value == "checkout"
    now = client.app[payments_key].clock()
    assert (card.exp_month, card.exp_year) == (now.month, now.year + CARD_YEARS)
    # Only what a provider gives back of a card, in the event and the row: never its number.
    async with client.app[uow_key]() as uow:
        payload = (await uow.connection.execute(select(inbound_events.c.payload))).scalar_one()
    assert set(json.loads(payload)["card"]) == {"token", "brand", "last4", "exp_month", "exp_year"}
    stored = await stored_text(client)
    assert not any(number in stored for number in TEST_CARD_NUMBERS)


@pytest.mark.parametrize(("card", "prefix", "brand", "last4"), [
    ("visa", CARD_TOKEN, "visa", "4242"), ("declined", DECLINED_CARD, "mastercard", "0002"),
])  # fmt: skip
async def test_each_test_card_is_saved_with_the_token_that_says_how_it_behaves(
    client: TestClient, card: str, prefix: str, brand: str, last4: str
) -> None:
    await cards_on(client)
    _, path = await new_request(client)
    await client.post(f"{path}/pay", data={"save_card": "1", "card": card}, allow_redirects=False)
    await client.app[tasks_key].drain()
    [kept] = await kept_cards(client)
    assert kept.token.startswith(prefix) and (kept.brand, kept.last4) == (brand, last4)
    if card == "visa":
        assert not kept.token.startswith((THREE_DS_CARD, DECLINED_CARD))


async def test_without_save_card_ticked_no_card_is_kept(client: TestClient) -> None:
    await cards_on(client)
    number, path = await new_request(client)
    await client.post(f"{path}/pay", data={"card": "visa"}, allow_redirects=False)
    assert await transaction_status(client, number) is TransactionStatus.PAID
    assert await kept_cards(client) == []
    async with client.app[uow_key]() as uow:
        assert (await uow.connection.execute(select(card_tokens))).all() == []
        payload = (await uow.connection.execute(select(inbound_events.c.payload))).scalar_one()
    assert '"card"' not in payload


async def test_a_vendor_who_saves_no_cards_offers_no_box_and_a_forged_tick_keeps_nothing(
    client: TestClient,
) -> None:
    number, path = await new_request(client)  # saved_cards off, the default
    html = await (await client.get(path)).text()
    assert inputs(html) == [] and "4242" not in html
    await client.post(f"{path}/pay", data={"save_card": "1", "card": "visa"}, allow_redirects=False)
    assert await transaction_status(client, number) is TransactionStatus.PAID
    async with client.app[uow_key]() as uow:
        assert (await uow.connection.execute(select(card_tokens))).all() == []


async def test_a_phone_payment_the_customer_agreed_to_save_offers_the_box(client: TestClient) -> None:
    await cards_on(client, saved_cards=False)
    order = await order_service.create_order(
        client.app[uow_key], None, "+33699887766", "150", "Gâteau", True, client.app[payments_key].clock()
    )
    deps = client.app[payments_key]
    link = await phone_payments.create_phone_link(deps, None, order.number, AskKind.FULL, save_card=True)
    opened = await phone_payments.open_phone_link(deps, link.url.rsplit("/", 1)[-1])
    assert isinstance(opened, str)
    path = urlsplit(opened).path
    assert 'name="save_card"' in await (await client.get(path)).text()
    await client.post(f"{path}/pay", data={"save_card": "1", "card": "visa"}, allow_redirects=False)
    await client.app[tasks_key].drain()
    [card] = await kept_cards(client)
    assert card.consent_source.value == "phone" and card.last4 == "4242"


async def test_a_card_saved_while_authorising_the_hold_is_the_guarantee_s_and_may_be_charged_again(
    client: TestClient,
) -> None:
    await cards_on(client)
    number, path = await new_guarantee(client)
    assert 'name="save_card"' in await (await client.get(path)).text()
    await client.post(f"{path}/authorize", data={"save_card": "1", "card": "visa"}, allow_redirects=False)
    await client.app[tasks_key].drain()
    [card] = await kept_cards(client)
    view = await order_service.show_order(client.app[uow_key], None, number)
    assert view.transactions[-1].status is TransactionStatus.HELD
    assert view.transactions[-1].card_token_id == card.id


async def test_pay_on_a_guarantee_page_and_authorize_on_a_payment_page_are_refused(
    client: TestClient,
) -> None:
    await cards_on(client)
    guarantee_number, guarantee_path = await new_guarantee(client)
    for action in ("pay", "later"):
        refused = await client.post(f"{guarantee_path}/{action}", allow_redirects=False)
        assert refused.status == 409
        assert "ne prend aucun paiement" in await refused.text()
    payment_number, payment_path = await new_request(client)
    refused = await client.post(f"{payment_path}/authorize", data={"save_card": "1"}, allow_redirects=False)
    assert refused.status == 409
    assert "n'autorise aucun blocage" in await refused.text()
    assert await transaction_status(client, guarantee_number) is TransactionStatus.PENDING
    assert await transaction_status(client, payment_number) is TransactionStatus.PENDING
    async with client.app[uow_key]() as uow:
        assert (await uow.connection.execute(select(inbound_events))).all() == []
    # An unknown test card is a bad request, not an error of ours.
    bad = await client.post(f"{payment_path}/pay", data={"save_card": "1", "card": "4242424242424242"})
    assert bad.status == 400


@pytest.mark.parametrize("locale", ["fr", "en", "he"])
async def test_no_checkout_page_has_a_field_a_card_number_could_be_typed_in(
    client: TestClient, locale: str
) -> None:
    await cards_on(client)
    await customer_speaks(client, locale)
    _, guarantee_path = await new_guarantee(client)
    _, payment_path = await new_request(client)
    for path in (guarantee_path, payment_path):
        html = await (await client.get(path)).text()
        assert not any(number in html for number in TEST_CARD_NUMBERS)
        fields = inputs(html)
        assert fields, path  # the save-card box and its test cards
        for field in fields:
            assert field["tag"] == "input" and field.get("type") in {"checkbox", "radio"}, field
            assert field.get("name") in {"save_card", "card"}, field
            assert not (field.get("autocomplete") or "").startswith("cc-"), field
