"""Guarantees and saved cards through the whole app with iCount, against its wire-level fake (on SQLite
and on Postgres): a J5 hold asked, authorised through the IPN, captured in part; a saved card charged for
the balance once even when the answer to cc/bill is lost."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.domain.deposit import AskKind
from bot.domain.errors import ChargePending
from bot.domain.money import Money
from bot.domain.order import OrderStatus
from bot.domain.transaction import TransactionStatus
from bot.payments.credentials import CredentialCipher
from bot.services import (
    guarantee_sweep,
    guarantees,
    orders as order_service,
    payments,
    saved_cards,
    vendors as vendor_service,
)
from bot.web.keys import jobs_key, payments_key, tasks_key, uow_key
from tests.conftest import FrozenClock
from tests.fakes.icount_api import FakeIcount
from tests.payment_support import BASE_URL, settings_for

CUSTOMER = "+972501234567"
SECRET = "a long test secret key"


def ils(value: str | int) -> Money:
    return Money(Decimal(value), "ILS")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def fake(clock: FrozenClock) -> AsyncIterator[FakeIcount]:
    async with FakeIcount(clock=clock) as server:
        yield server


@pytest.fixture
async def app_client(
    aiohttp_client: AiohttpClient,
    fake: FakeIcount,
    database_url: str,
    engine: AsyncEngine,
    clock: FrozenClock,
) -> TestClient:
    settings = settings_for(
        database_url, payment_provider="icount", icount_api_token=fake.token,
        icount_paypage_id=fake.paypage_id, icount_api_base=fake.base_url, secret_key=SECRET,
        vendor_admin_phones="+972541112222",
        vendor_currency="ILS", vendor_locale="en", vendor_timezone="Asia/Jerusalem", recovery_seconds=3600,
        provider_jobs_seconds=3600,
    )  # fmt: skip
    client = await aiohttp_client(create_app(settings, clock=clock))
    await client.app[jobs_key].started()
    await client.app[tasks_key].drain()
    deps = client.app[payments_key]
    pairs = [
        ("guarantee_mode", "optional"), ("saved_cards", "on"),
        ("icount_guarantee_paypage_id", fake.guarantee_paypage_id),
        ("icount_save_card_paypage_id", fake.save_card_paypage_id),
    ]  # fmt: skip
    await vendor_service.change_settings(deps.uow, None, pairs, CredentialCipher(SECRET), clock())
    return client


async def post_ipn(client: TestClient, ipn_url: str, fields: dict[str, Any]) -> int:
    response = await client.post(ipn_url.removeprefix(BASE_URL), data=fields)
    await client.app[tasks_key].drain()
    return response.status


async def sale_of(client: TestClient, transaction_id: uuid.UUID) -> str:
    async with client.app[uow_key]() as uow:
        transaction = await uow.transactions.get(transaction_id)
        assert transaction is not None and transaction.payment_link_id is not None
        link = await uow.links.get(transaction.payment_link_id)
    assert link is not None
    return link.provider_link_id


async def new_order(client: TestClient, price: str = "150") -> int:
    deps = client.app[payments_key]
    order = await order_service.create_order(deps.uow, None, CUSTOMER, price, "Hall", True, deps.clock())
    return order.number


async def test_a_j5_guarantee_of_50_is_held_through_the_ipn_and_20_of_it_captured_once(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    number = await new_order(app_client)
    asked = await guarantees.request_guarantee(deps, None, number, "50")
    ipn_url, fields = fake.authorise(await sale_of(app_client, asked.transaction.id))
    assert await post_ipn(app_client, ipn_url, fields) == 200
    async with app_client.app[uow_key]() as uow:
        held = await uow.transactions.get(asked.transaction.id)
    assert held is not None and held.status is TransactionStatus.HELD and not held.card_on_file
    assert held.held == ils(50) and held.card_token_id is not None
    outcome = await guarantees.capture_guarantee(deps, None, number, "20")
    assert outcome.payment.status is TransactionStatus.PAID and outcome.ledger.paid == ils(20)
    [bill] = fake.bills()
    assert bill.total == Decimal("20.00")
    [call] = fake.calls_to("cc/bill")
    assert call.params.get("use_j5_if_available") in (1, "1", True)
    async with app_client.app[uow_key]() as uow:
        captured = await uow.transactions.get(asked.transaction.id)
    assert captured is not None and captured.status is TransactionStatus.CAPTURED
    assert captured.captured == ils(20)


async def test_a_saved_card_pays_the_balance_once_even_when_the_answer_to_the_charge_is_lost(
    app_client: TestClient, fake: FakeIcount, clock: FrozenClock
) -> None:
    deps = app_client.app[payments_key]
    number = await new_order(app_client)
    deposit = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "50")
    ipn_url, fields = fake.pay(await sale_of(app_client, deposit.transaction.id), save_card=True)
    assert await post_ipn(app_client, ipn_url, fields) == 200
    _customer, [card] = await saved_cards.customer_cards(deps, None, CUSTOMER)
    assert card.last4 == "4580" and card.provider == "icount"
    fake.lose_answer_next("cc/bill")
    with pytest.raises(ChargePending):
        await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    assert len(fake.bills()) == 1, "the charge was made; only its answer was lost"
    # Asked again, the bot finds the charge in cc/transactions and charges nothing more.
    again = await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    assert again.earlier and again.transaction.status is TransactionStatus.PAID
    assert len(fake.bills()) == 1 and len(fake.calls_to("cc/bill")) == 1
    view = await order_service.show_order(deps.uow, None, number)
    assert view.order.status is OrderStatus.PAID and view.ledger is not None and view.ledger.is_covered
    assert await guarantee_sweep.sweep_guarantees(deps) == 0
