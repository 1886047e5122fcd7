"""Guarantees and saved cards through the whole app with Stripe, against its wire-level fake (on SQLite
and on Postgres): a hold asked on our /pay/stripe page, authorised on Checkout, told by its webhooks and
captured in part; a card saved with the customer's tick charged off-session; a bank that wants the
customer there turns the charge into a link."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.domain.deposit import AskKind
from bot.domain.money import Money
from bot.domain.order import OrderStatus
from bot.domain.transaction import TransactionStatus
from bot.services import guarantees, orders as order_service, payments, saved_cards, vendors as vendor_service
from bot.store.tables import outbox_messages
from bot.web.keys import payments_key, tasks_key, uow_key
from tests.conftest import TickingClock
from tests.fakes.stripe_api import FakeStripe, sign
from tests.payment_support import BASE_URL, settings_for

CUSTOMER = "+33699887766"
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def eur(value: int) -> Money:
    return Money(Decimal(value), "EUR")


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
async def fake(clock: TickingClock) -> AsyncIterator[FakeStripe]:
    async with FakeStripe(clock=clock) as server:
        yield server


@pytest.fixture
async def app_client(
    aiohttp_client: AiohttpClient, fake: FakeStripe, database_url: str, engine: AsyncEngine
) -> TestClient:
    settings = settings_for(
        database_url, payment_provider="stripe", stripe_api_key=fake.api_key,
        stripe_webhook_secret=fake.webhook_secret, stripe_api_base=fake.base_url,
        vendor_admin_phones="+33612345678",
    )  # fmt: skip
    client = await aiohttp_client(create_app(settings, clock=fake.clock))
    deps = client.app[payments_key]
    pairs = [("guarantee_mode", "optional"), ("saved_cards", "on")]
    await vendor_service.change_settings(deps.uow, None, pairs, None, deps.clock())
    return client


async def deliver(client: TestClient, fake: FakeStripe, events: list[dict[str, Any]]) -> None:
    for event in events:
        body = json.dumps(event)
        header = sign(body, fake.webhook_secret, fake.timestamp())
        response = await client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header})
        assert response.status == 200
    await client.app[tasks_key].drain()


async def open_page(client: TestClient, fake: FakeStripe, url: str) -> str:
    """The customer opens our link: sent on to a fresh Checkout Session; its id."""
    assert url.startswith(f"{BASE_URL}/pay/stripe/")
    response = await client.get(url.removeprefix(BASE_URL), allow_redirects=False)
    assert response.status == 302
    return next(s for s, session in fake.sessions.items() if session["url"] == response.headers["Location"])


async def new_order(client: TestClient) -> int:
    deps = client.app[payments_key]
    return (
        await order_service.create_order(deps.uow, None, CUSTOMER, "150", "Salle", True, deps.clock())
    ).number


async def transaction(client: TestClient, transaction_id: uuid.UUID) -> Any:
    async with client.app[uow_key]() as uow:
        return await uow.transactions.get(transaction_id)


async def test_a_hold_of_50_authorised_on_checkout_is_held_by_its_webhook_and_20_captured(
    app_client: TestClient, fake: FakeStripe
) -> None:
    deps = app_client.app[payments_key]
    number = await new_order(app_client)
    asked = await guarantees.request_guarantee(deps, None, number, "50")
    session_id = await open_page(app_client, fake, asked.url)
    assert fake.session_params[session_id]["payment_intent_data"]["capture_method"] == "manual"
    await deliver(app_client, fake, fake.complete_session(session_id))
    held = await transaction(app_client, asked.transaction.id)
    assert held.status is TransactionStatus.HELD and held.held == eur(50)
    assert held.provider_reference.startswith("pi_")
    outcome = await guarantees.capture_guarantee(deps, None, number, "20")
    assert outcome.payment.status is TransactionStatus.PAID and outcome.ledger.paid == eur(20)
    intent = fake.payment_intents[held.provider_reference]
    assert intent["status"] == "succeeded" and intent["amount_received"] == 2000
    # Stripe's own news of the capture changes nothing more.
    await deliver(app_client, fake, fake.events_of("payment_intent.succeeded"))
    captured = await transaction(app_client, asked.transaction.id)
    assert captured.status is TransactionStatus.CAPTURED and captured.captured == eur(20)
    view = await order_service.show_order(deps.uow, None, number)
    assert [t.amount for t in view.transactions if t.received] == [eur(20)]


async def test_a_card_saved_with_the_customer_s_tick_pays_the_balance_off_session(
    app_client: TestClient, fake: FakeStripe
) -> None:
    deps = app_client.app[payments_key]
    number = await new_order(app_client)
    deposit = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "50")
    session_id = await open_page(app_client, fake, deposit.url)
    await deliver(app_client, fake, fake.complete_session(session_id, save_card=True))
    _customer, [card] = await saved_cards.customer_cards(deps, None, CUSTOMER)
    assert card.token.startswith("pm_") and card.last4 == "4242" and card.provider_customer_id
    outcome = await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    assert outcome.link_url is None and outcome.transaction.status is TransactionStatus.PAID
    assert outcome.order.status is OrderStatus.PAID
    [charge] = [i for i in fake.payment_intents.values() if i.get("off_session") or i["amount"] == 10000]
    assert charge["status"] == "succeeded" and charge["payment_method"] == card.token
    # Stripe's webhook of that charge is the same payment: counted once.
    await deliver(app_client, fake, fake.events_of("payment_intent.succeeded"))
    view = await order_service.show_order(deps.uow, None, number)
    assert view.ledger is not None and view.ledger.paid == eur(150)


async def test_a_saved_card_whose_bank_wants_authentication_gets_the_customer_a_link(
    app_client: TestClient, fake: FakeStripe
) -> None:
    deps = app_client.app[payments_key]
    number = await new_order(app_client)
    deposit = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "50")
    session_id = await open_page(app_client, fake, deposit.url)
    events = fake.complete_session(session_id, "pm_card_authenticationRequired", save_card=True)
    await deliver(app_client, fake, events)
    outcome = await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    assert outcome.link_url is not None and outcome.link_url.startswith(f"{BASE_URL}/pay/stripe/")
    assert outcome.transaction.status is TransactionStatus.PENDING
    async with app_client.app[uow_key]() as uow:
        kinds = list((await uow.connection.execute(select(outbox_messages.c.kind))).scalars())
    assert kinds.count("payment_request") == 2, "the deposit's link, then the balance's"
