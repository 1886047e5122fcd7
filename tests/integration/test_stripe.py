"""The Stripe provider and webhooks against a local fake of Stripe's API, at the wire level."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.domain.deposit import AskKind
from bot.domain.errors import RefundExceedsPaid, RefundResolved, RefundUncertain
from bot.domain.money import Money
from bot.domain.order import OrderStatus, PaymentType
from bot.domain.refund import RefundStatus
from bot.domain.transaction import TransactionStatus
from bot.payments.credentials import CredentialCipher
from bot.payments.stripe.consts import from_stripe_amount, stripe_amount
from bot.payments.stripe.provider import StripeProvider
from bot.services import closing, orders as order_service, payments, refunds, vendors as vendor_service
from bot.services.inbox import process_payment_backlog
from bot.store.tables import inbound_events, outbox_messages
from bot.store.uow import UnitOfWorkFactory
from bot.web.keys import payments_key, tasks_key, uow_key
from bot.web.payments import PAYMENT_PARSERS
from tests.conftest import TickingClock
from tests.fakes.stripe_api import FakeStripe, sign
from tests.payment_support import BASE_URL, OneProviderRegistry, deps_for, settings_for, vendor_with_order


def eur(value: int) -> Money:
    return Money(Decimal(value), "EUR")


pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
async def fake(clock: TickingClock) -> AsyncIterator[FakeStripe]:
    async with FakeStripe(clock=clock) as server:
        yield server


async def test_a_request_creates_a_single_use_payment_link_with_our_metadata(
    uow_factory: UnitOfWorkFactory, fake: FakeStripe
) -> None:
    number = await vendor_with_order(uow_factory, provider="stripe")
    provider = StripeProvider(fake.api_key, fake.base_url)
    try:
        outcome = await payments.request_payment(
            deps_for(uow_factory, OneProviderRegistry(provider)), None, number, AskKind.DEPOSIT, "30%"
        )
    finally:
        await provider.close()
    [(link_id, link)] = fake.payment_links.items()
    assert outcome.url == link["url"]
    params = fake.params[link_id]
    price = params["line_items"][0]["price_data"]
    assert (price["currency"], price["unit_amount"]) == ("eur", "4500")
    assert price["product"] == f"bot_vendor_{outcome.order.vendor_id.hex}"
    assert params["restrictions"]["completed_sessions"]["limit"] == "1"
    transaction_id = str(outcome.transaction.id)
    assert params["metadata"]["transaction_id"] == transaction_id
    assert params["payment_intent_data"]["metadata"]["transaction_id"] == transaction_id
    assert params["after_completion"]["redirect"]["url"] == f"{BASE_URL}/pay/success?tx={transaction_id}"
    assert params["invoice_creation"]["enabled"] == "true"
    assert fake.created["product"] == 1
    number_two = (
        await order_service.create_order(
            uow_factory, None, "+33600000002", "80", "", True, outcome.order.created_at
        )
    ).number
    provider = StripeProvider(fake.api_key, fake.base_url)
    try:
        await payments.request_payment(
            deps_for(uow_factory, OneProviderRegistry(provider)), None, number_two, AskKind.FULL
        )
    finally:
        await provider.close()
    assert fake.created["product"] == 1, "one reusable product per vendor"


async def test_the_link_is_created_once_when_the_request_is_retried_after_a_timeout(
    uow_factory: UnitOfWorkFactory, fake: FakeStripe
) -> None:
    number = await vendor_with_order(uow_factory, provider="stripe")
    provider = StripeProvider(fake.api_key, fake.base_url, timeout=0.3)
    deps = deps_for(uow_factory, OneProviderRegistry(provider))
    fake.delay_next("/v1/payment_links", 1.0, times=3)
    try:
        outcome = await payments.request_payment(deps, None, number, AskKind.FULL)
        # A crash after the link, before our row: recovery asks again with the same key.
        await payments._link_and_message(deps, provider, outcome.transaction.id)
    finally:
        await provider.close()
    link_posts = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/payment_links"]
    assert len(link_posts) >= 2
    assert {r.idempotency_key for r in link_posts} == {f"payment-link-{outcome.transaction.id}"}
    assert fake.created["payment_link"] == 1
    async with uow_factory() as uow:
        messages = (await uow.connection.execute(select(func.count()).select_from(outbox_messages))).scalar()
    assert messages == 1


@pytest.fixture
async def app_client(aiohttp_client: AiohttpClient, fake: FakeStripe, tmp_path: Path) -> TestClient:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'bot.db'}",
        payment_provider="stripe",
        stripe_api_key=fake.api_key,
        stripe_webhook_secret=fake.webhook_secret,
        stripe_api_base=fake.base_url,
        vendor_admin_phones="+33612345678",
    )
    return await aiohttp_client(create_app(settings, clock=fake.clock))


async def stripe_request(
    client: TestClient, fake: FakeStripe, ask: AskKind = AskKind.DEPOSIT, typed: str | None = "45"
) -> tuple[int, str]:
    """A new accepted order of 150 EUR and a request on it; its number and the Stripe link id."""
    deps = client.app[payments_key]
    created = await order_service.create_order(
        deps.uow, None, "+33699887766", "150", "Gâteau", True, deps.clock()
    )
    outcome = await payments.request_payment(deps, None, created.number, ask, typed)
    link_id = next(key for key, link in fake.payment_links.items() if link["url"] == outcome.url)
    return created.number, link_id


async def post_event(
    client: TestClient, fake: FakeStripe, event: dict[str, object], timestamp: int | None = None
) -> int:
    body = json.dumps(event)
    header = sign(body, fake.webhook_secret, fake.timestamp() if timestamp is None else timestamp)
    response = await client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header})
    return response.status


async def settled_view(client: TestClient, number: int) -> order_service.OrderView:
    await client.app[tasks_key].drain()
    return await order_service.show_order(client.app[uow_key], None, number)


async def kinds_in_outbox(client: TestClient) -> list[str]:
    async with client.app[uow_key]() as uow:
        return list((await uow.connection.execute(select(outbox_messages.c.kind))).scalars())


async def test_a_completed_session_delivered_three_times_with_async_success_pays_once(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake)
    session = fake.pay(link_id)
    completed = fake.event("checkout.session.completed", session)
    succeeded = fake.event("checkout.session.async_payment_succeeded", session)
    for event in (completed, succeeded, completed, completed):
        assert await post_event(app_client, fake, event) == 200
    view = await settled_view(app_client, number)
    [transaction] = view.transactions
    assert transaction.status is TransactionStatus.PAID
    assert transaction.provider_reference == session["payment_intent"]
    assert view.order.status is OrderStatus.ACCEPTED
    kinds = await kinds_in_outbox(app_client)
    assert kinds.count("payment_receipt") == 1
    assert "vendor_payment_anomaly" not in kinds
    async with app_client.app[uow_key]() as uow:
        stored = (await uow.connection.execute(select(func.count()).select_from(inbound_events))).scalar()
    assert stored == 2


async def test_the_email_a_payer_gave_on_stripe_checkout_becomes_the_customer_s_when_they_had_none(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake)
    session = fake.pay(link_id)
    assert session["customer_details"]["email"] == "jenny.rosen@example.com"
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", session)) == 200
    view = await settled_view(app_client, number)
    assert view.customer.email == "jenny.rosen@example.com"


async def test_an_address_stripe_passes_on_that_is_not_one_is_not_kept(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake)
    session = {**fake.pay(link_id), "customer_details": {"email": "not an address", "name": None}}
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", session)) == 200
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.PAID
    assert view.customer.email is None


async def test_an_unpaid_completed_session_pays_nothing_until_the_money_arrives(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake, AskKind.FULL, None)
    session = fake.pay(link_id, payment_status="unpaid")
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", session)) == 200
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.PENDING
    settled = fake.settle(session["id"])
    assert (
        await post_event(app_client, fake, fake.event("checkout.session.async_payment_succeeded", settled))
        == 200
    )
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.PAID
    assert view.order.status is OrderStatus.PAID and view.order.payment_type is PaymentType.TOTAL


async def test_deposit_then_balance_through_stripe_makes_the_order_paid(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, deposit_link = await stripe_request(app_client, fake)
    deps = app_client.app[payments_key]
    balance = await payments.request_payment(deps, None, number, AskKind.BALANCE)
    balance_link = next(key for key, link in fake.payment_links.items() if link["url"] == balance.url)
    first, second = fake.pay(deposit_link), fake.pay(balance_link)
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", first)) == 200
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", second)) == 200
    view = await settled_view(app_client, number)
    assert view.order.status is OrderStatus.PAID
    assert view.order.payment_type is PaymentType.ACOMPTE_SOLDE


async def test_a_failed_async_payment_marks_the_request_failed_and_tells_the_vendor(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake)
    session = fake.pay(link_id, payment_status="unpaid")
    failed = fake.settle(session["id"], succeeded=False)
    assert (
        await post_event(app_client, fake, fake.event("checkout.session.async_payment_failed", failed)) == 200
    )
    view = await settled_view(app_client, number)
    # The link's one checkout session is used up: the request closes and may be asked again.
    assert view.transactions[0].status is TransactionStatus.EXPIRED
    assert not any(link.active for link in view.links.values())
    assert "vendor_payment_failed" in await kinds_in_outbox(app_client)
    again = await payments.request_payment(app_client.app[payments_key], None, number, AskKind.DEPOSIT, "45")
    assert again.transaction.status is TransactionStatus.PENDING


async def test_a_full_refund_at_stripe_marks_the_transaction_refunded(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake, AskKind.FULL, None)
    session = fake.pay(link_id)
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", session)) == 200
    assert (await settled_view(app_client, number)).order.status is OrderStatus.PAID
    refunded = fake.charge_refunded_event(session["payment_intent"])
    assert await post_event(app_client, fake, refunded) == 200
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.REFUNDED
    assert view.order.status is OrderStatus.ACCEPTED


async def test_two_partial_stripe_refunds_end_refunded_and_charge_refunded_changes_nothing_more(
    app_client: TestClient, fake: FakeStripe
) -> None:
    deps = app_client.app[payments_key]
    number, link_id = await stripe_request(app_client, fake, AskKind.FULL, None)
    session = fake.pay(link_id)
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", session)) == 200
    await settled_view(app_client, number)
    await refunds.refund(deps, None, number, "20")
    refunded = fake.charge_refunded_event(session["payment_intent"])  # Stripe tells it: 2000 in all
    for _ in range(2):  # delivered twice
        assert await post_event(app_client, fake, refunded) == 200
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.PARTIALLY_REFUNDED
    assert view.order.status is OrderStatus.ACCEPTED
    await refunds.refund(deps, None, number, "130")
    final = fake.charge_refunded_event(session["payment_intent"])
    assert await post_event(app_client, fake, final) == 200
    assert await post_event(app_client, fake, refunded) == 200, "an older total, delivered late"
    view = await settled_view(app_client, number)
    [transaction] = view.transactions
    assert transaction.status is TransactionStatus.REFUNDED and transaction.refunded == eur(150)
    assert [r.amount for r in view.refunds[transaction.id]] == [eur(20), eur(130)], "no row from webhooks"
    [charge] = fake.charges.values()
    assert charge["amount_refunded"] == 15000 and fake.created["refund"] == 2
    assert [r["amount"] for r in fake.refunds.values()] == [2000, 13000]
    assert (await kinds_in_outbox(app_client)).count("payment_refunded") == 2
    with pytest.raises(RefundExceedsPaid):
        await refunds.refund(deps, None, number, "1")


async def test_a_refund_made_in_the_stripe_dashboard_is_recorded_from_charge_refunded(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake, AskKind.FULL, None)
    session = fake.pay(link_id)
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", session)) == 200
    await settled_view(app_client, number)
    outside = fake.charge_refunded_event(session["payment_intent"], amount=5000)
    assert await post_event(app_client, fake, outside) == 200
    view = await settled_view(app_client, number)
    [transaction] = view.transactions
    [row] = view.refunds[transaction.id]
    assert (row.amount, row.requested_by, row.status) == (eur(50), "stripe", RefundStatus.SUCCEEDED)
    assert view.ledger is not None and view.ledger.paid == eur(100)
    assert "vendor_refund_done" in await kinds_in_outbox(app_client)


async def test_a_stripe_refund_whose_answer_was_lost_is_found_at_stripe_and_never_made_twice(
    app_client: TestClient, fake: FakeStripe
) -> None:
    deps = app_client.app[payments_key]
    number, link_id = await stripe_request(app_client, fake, AskKind.FULL, None)
    assert (
        await post_event(app_client, fake, fake.event("checkout.session.completed", fake.pay(link_id))) == 200
    )
    await settled_view(app_client, number)
    fake.lose_answer_next("/v1/refunds", times=50)  # made once, every answer (and retry) lost
    with pytest.raises(RefundUncertain):
        await refunds.refund(deps, None, number, "20")
    assert fake.created["refund"] == 1
    with pytest.raises(RefundResolved) as resolved:
        await refunds.refund(deps, None, number, "20")
    assert resolved.value.params["made"] is True and fake.created["refund"] == 1
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.PARTIALLY_REFUNDED


async def test_cancelling_a_request_deactivates_the_stripe_link(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake)
    await closing.cancel_requests(app_client.app[payments_key], None, number)
    assert fake.payment_links[link_id]["active"] is False


@pytest.mark.parametrize("problem", ["wrong secret", "stale", "no header", "tampered"])
async def test_a_bad_or_stale_signature_gets_400_and_stores_nothing(
    app_client: TestClient, fake: FakeStripe, problem: str
) -> None:
    number, link_id = await stripe_request(app_client, fake)
    body = json.dumps(fake.event("checkout.session.completed", fake.pay(link_id)))
    headers = {"Stripe-Signature": sign(body, fake.webhook_secret, fake.timestamp())}
    if problem == "wrong secret":
        headers["Stripe-Signature"] = sign(body, "whsec_other", fake.timestamp())
    elif problem == "stale":
        headers["Stripe-Signature"] = sign(body, fake.webhook_secret, fake.timestamp() - 3600)
    elif problem == "no header":
        headers = {}
    else:
        body = body.replace('"paid"', '"unpaid"', 1)
    response = await app_client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status == 400
    async with app_client.app[uow_key]() as uow:
        stored = (await uow.connection.execute(select(func.count()).select_from(inbound_events))).scalar()
    assert stored == 0
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.PENDING


async def test_other_event_types_are_acknowledged_and_change_nothing(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake)
    event = fake.event("payment_link.updated", fake.payment_links[link_id])
    assert await post_event(app_client, fake, event) == 200
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.PENDING


async def test_garbage_bodies_get_400(app_client: TestClient, fake: FakeStripe) -> None:
    for body in ("not json", '{"truncated": ', ""):
        header = sign(body, fake.webhook_secret, fake.timestamp())
        response = await app_client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": header})
        assert response.status == 400


async def test_deposit_and_balance_webhooks_arriving_together_settle_the_order(
    aiohttp_client: AiohttpClient, fake: FakeStripe, database_url: str, engine: object
) -> None:
    """On SQLite and on a real Postgres: both webhooks at the same moment, the order ends paid once."""
    settings = settings_for(
        database_url,
        payment_provider="stripe",
        stripe_api_key=fake.api_key,
        stripe_webhook_secret=fake.webhook_secret,
        stripe_api_base=fake.base_url,
        vendor_admin_phones="+33612345678",
    )
    client = await aiohttp_client(create_app(settings, clock=fake.clock))
    number, deposit_link = await stripe_request(client, fake)
    balance = await payments.request_payment(client.app[payments_key], None, number, AskKind.BALANCE)
    balance_link = next(key for key, link in fake.payment_links.items() if link["url"] == balance.url)
    events = [
        fake.event("checkout.session.completed", fake.pay(deposit_link)),
        fake.event("checkout.session.completed", fake.pay(balance_link)),
    ]
    statuses = await asyncio.gather(*(post_event(client, fake, event) for event in events))
    assert statuses == [200, 200]
    view = await settled_view(client, number)
    assert [t.status for t in view.transactions] == [TransactionStatus.PAID, TransactionStatus.PAID]
    assert [str(t.amount) for t in view.transactions] == ["45.00 EUR", "105.00 EUR"]
    assert view.order.status is OrderStatus.PAID
    assert view.order.payment_type is PaymentType.ACOMPTE_SOLDE
    kinds = await kinds_in_outbox(client)
    assert kinds.count("payment_receipt") == 2 and "vendor_payment_anomaly" not in kinds


async def test_a_deposit_alone_leaves_the_order_accepted(
    aiohttp_client: AiohttpClient, fake: FakeStripe, database_url: str, engine: object
) -> None:
    settings = settings_for(
        database_url,
        payment_provider="stripe",
        stripe_api_key=fake.api_key,
        stripe_webhook_secret=fake.webhook_secret,
        stripe_api_base=fake.base_url,
    )
    client = await aiohttp_client(create_app(settings, clock=fake.clock))
    number, deposit_link = await stripe_request(client, fake)
    assert (
        await post_event(client, fake, fake.event("checkout.session.completed", fake.pay(deposit_link)))
        == 200
    )
    view = await settled_view(client, number)
    assert view.transactions[0].status is TransactionStatus.PAID
    assert view.order.status is OrderStatus.ACCEPTED and view.order.payment_type is None


async def test_an_event_signed_with_another_vendor_s_secret_cannot_pay_this_vendor_s_request(
    aiohttp_client: AiohttpClient, fake: FakeStripe, tmp_path: Path
) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'bot.db'}",
        payment_provider="stripe",
        stripe_api_key=fake.api_key,
        stripe_webhook_secret=fake.webhook_secret,
        stripe_api_base=fake.base_url,
        secret_key="k" * 32,
    )
    client = await aiohttp_client(create_app(settings, clock=fake.clock))
    deps = client.app[payments_key]
    mallory = vendor_service.NewVendor(name="Mallory", admin_phones=["+33611111111"])
    await vendor_service.add_vendor(deps.uow, mallory, deps.clock())
    await vendor_service.change_settings(
        deps.uow,
        "Mallory",
        [("stripe_webhook_secret", "whsec_mallory")],
        CredentialCipher("k" * 32),
        deps.clock(),
    )
    created = await order_service.create_order(
        deps.uow, "Demo vendor", "+33699887766", "150", "", True, deps.clock()
    )
    outcome = await payments.request_payment(deps, "Demo vendor", created.number, AskKind.FULL)
    link_id = next(key for key, link in fake.payment_links.items() if link["url"] == outcome.url)
    body = json.dumps(fake.event("checkout.session.completed", fake.pay(link_id)))
    headers = {"Stripe-Signature": sign(body, "whsec_mallory", fake.timestamp())}
    assert (await client.post("/webhooks/stripe", data=body, headers=headers)).status == 200
    await client.app[tasks_key].drain()
    view = await order_service.show_order(deps.uow, "Demo vendor", created.number)
    assert view.transactions[0].status is TransactionStatus.PENDING


async def test_a_refund_that_overtakes_its_payment_waits_in_the_inbox(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake, AskKind.FULL, None)
    session = fake.pay(link_id)
    refund = fake.charge_refunded_event(session["payment_intent"])
    assert await post_event(app_client, fake, refund) == 200
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.PENDING
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", session)) == 200
    assert (await settled_view(app_client, number)).transactions[0].status is TransactionStatus.PAID
    await process_payment_backlog(app_client.app[payments_key], PAYMENT_PARSERS, timedelta(0))
    view = await settled_view(app_client, number)
    assert view.transactions[0].status is TransactionStatus.REFUNDED
    assert view.order.status is OrderStatus.ACCEPTED


def test_isk_and_ugx_go_to_stripe_as_two_decimal_amounts() -> None:
    assert stripe_amount(Money(Decimal(5000), "ISK")) == 500000
    assert from_stripe_amount(500000, "isk") == Money(Decimal(5000), "ISK")
    assert stripe_amount(Money(Decimal(5000), "JPY")) == 5000
    assert stripe_amount(Money(Decimal("45.50"), "EUR")) == 4550


async def test_the_invoice_stripe_made_is_stored_once_and_its_page_sent_to_the_customer(
    app_client: TestClient, fake: FakeStripe
) -> None:
    number, link_id = await stripe_request(app_client, fake, AskKind.FULL, None)
    session = fake.pay(link_id)
    invoice_paid = fake.invoice_paid_event(session["id"])
    assert await post_event(app_client, fake, invoice_paid) == 200, "before its payment: kept for later"
    assert await post_event(app_client, fake, fake.event("checkout.session.completed", session)) == 200
    await process_payment_backlog(app_client.app[payments_key], PAYMENT_PARSERS, timedelta(0))
    assert await post_event(app_client, fake, fake.invoice_paid_event(session["id"])) == 200  # told again
    view = await settled_view(app_client, number)
    for _ in range(100):  # the inbox processes the invoice event on its own loop: bounded wait for it
        if view.transactions and view.transactions[0].id in view.invoices:
            break
        await asyncio.sleep(0.05)
        view = await settled_view(app_client, number)
    [transaction] = view.transactions
    invoice = view.invoices[transaction.id]
    made = fake.invoices[session["invoice"]]
    assert (invoice.provider, invoice.doctype, invoice.docnum) == ("stripe", "invoice", made["number"])
    assert invoice.url == made["hosted_invoice_url"]
    kinds = await kinds_in_outbox(app_client)
    assert kinds.count("invoice_issued") == 1
    async with app_client.app[uow_key]() as uow:
        query = select(outbox_messages.c.payload).where(outbox_messages.c.kind == "invoice_issued")
        text = (await uow.connection.execute(query)).scalar_one()["text"]
    assert made["number"] in text and made["hosted_invoice_url"] in text
