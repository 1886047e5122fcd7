"""The sandbox checkout, over HTTP: Pay, Decline and Pay later settle through the inbox."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from bot.app import create_app
from bot.domain.deposit import AskKind
from bot.domain.order import OrderStatus
from bot.domain.transaction import TransactionStatus
from bot.payments.sandbox.provider import SandboxProvider
from bot.sandbox.clock import SandboxClock
from bot.services import orders as order_service
from bot.services import payments
from bot.store.database import create_engine
from bot.store.tables import inbound_events, outbox_messages
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
