"""Paying through iCount end to end in the app: links, IPNs confirmed through the API, invoices, refunds,
holds, against the wire-level fake of iCount API v3 (on SQLite and on Postgres)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.domain.deposit import AskKind
from bot.domain.errors import RefundExceedsPaid, RefundPending, RefundResolved, RefundUncertain
from bot.domain.money import Money
from bot.domain.order import OrderStatus, PaymentType
from bot.domain.refund import RefundStatus
from bot.domain.transaction import PaymentTransaction, TransactionStatus, TransactionType
from bot.handlers import vendor as vendor_handlers
from bot.handlers.parsing import VendorCommand, Verb
from bot.jobs.catalogue import HOLD_RELEASE, INVOICE_PASS, IPN_BACKLOG
from bot.payments.icount.api import InvoiceRequest
from bot.payments.icount.client import IcountClient, IcountCredentials, RateLimiter
from bot.payments.icount.provider import IcountProvider, sanity_string
from bot.rendering import explain
from bot.services import (
    callbacks,
    cash as cash_service,
    customers as customer_service,
    holds,
    invoices,
    orders as order_service,
    payments,
    providers as provider_service,
    refunds,
    vendors as vendor_service,
)
from bot.services.chat import AdminActor
from bot.store.tables import customers, inbound_events, invoices as invoices_table, outbox_messages
from bot.store.uow import UnitOfWorkFactory
from bot.views import order_json
from bot.web.keys import chat_key, jobs_key, payments_key, tasks_key, uow_key
from tests.conftest import NOW, FrozenClock
from tests.fakes.icount_api import FakeIcount
from tests.payment_support import BASE_URL, settings_for

CUSTOMER = "+972501234567"


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
        database_url,
        payment_provider="icount",
        icount_api_token=fake.token,
        icount_paypage_id=fake.paypage_id,
        icount_api_base=fake.base_url,
        secret_key="a long test secret key",
        vendor_admin_phones="+972541112222",
        vendor_currency="ILS",
        vendor_locale="en",
        vendor_timezone="Asia/Jerusalem",
        recovery_seconds=3600,
        provider_jobs_seconds=3600,
    )
    # The periodic jobs are run by the tests themselves; the start-up recovery pass is let finish first.
    client = await aiohttp_client(create_app(settings, clock=clock))
    await client.app[jobs_key].started()
    await client.app[tasks_key].drain()
    return client


async def new_request(
    client: TestClient, ask: AskKind = AskKind.DEPOSIT, typed: str | None = "30%", accept: bool = True
) -> tuple[int, uuid.UUID, str]:
    """A new order of 150 ILS and a request on it: its number, the transaction and its iCount sale."""
    deps = client.app[payments_key]
    order = await order_service.create_order(deps.uow, None, CUSTOMER, "150", "Cake", accept, deps.clock())
    outcome = await payments.request_payment(deps, None, order.number, ask, typed)
    return order.number, outcome.transaction.id, await sale_of(client, outcome.transaction.id)


async def sale_of(client: TestClient, transaction_id: uuid.UUID) -> str:
    async with client.app[uow_key]() as uow:
        transaction = await uow.transactions.get(transaction_id)
        assert transaction is not None and transaction.payment_link_id is not None
        link = await uow.links.get(transaction.payment_link_id)
    assert link is not None
    return link.provider_link_id


async def post_ipn(client: TestClient, ipn_url: str, fields: dict[str, Any], how: str = "form") -> int:
    """Posts an IPN as iCount does (form fields), or with its fields in the query string, or as JSON."""
    path = ipn_url.removeprefix(BASE_URL)
    if how == "query":
        response = await client.post(path, params=fields)
    elif how == "json":
        response = await client.post(path, json=fields)
    else:
        response = await client.post(path, data=fields)
    await client.app[tasks_key].drain()
    return response.status


async def count(client: TestClient, table: Any, *where: Any) -> int:
    async with client.app[uow_key]() as uow:
        query = select(func.count()).select_from(table).where(*where)
        return int((await uow.connection.execute(query)).scalar_one())


async def outbox_kinds(client: TestClient) -> list[str]:
    async with client.app[uow_key]() as uow:
        return list((await uow.connection.execute(select(outbox_messages.c.kind))).scalars())


async def test_a_request_makes_the_customer_an_icount_client_and_our_link_leads_to_a_fresh_sale(
    app_client: TestClient, fake: FakeIcount
) -> None:
    number, transaction_id, sale = await new_request(app_client)
    assert fake.created["client"] == 1
    [client] = fake.clients.values()
    assert client["custom_client_id"] and client["mobile"] == CUSTOMER
    async with app_client.app[uow_key]() as uow:
        stored = (await uow.connection.execute(select(customers.c.provider_client_id))).scalar_one()
    assert stored == client["client_id"]
    params = fake.sales[sale]
    assert (params["sum"], params["currency_id"], params["currency_code"]) == ("45.00", 5, "ILS")
    response = await app_client.get(f"/pay/icount/{transaction_id}", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith(f"{fake.root}/m/sale/")
    assert response.headers["Location"] == f"{fake.root}/m/sale/{sale}", "a recent sale is reused"
    provider = app_client.app[payments_key].providers.for_vendor(await vendor(app_client), None)
    assert isinstance(provider, IcountProvider)
    provider._sales.clear()  # as after SALE_REUSE_SECONDS
    response = await app_client.get(f"/pay/icount/{transaction_id}", allow_redirects=False)
    assert response.headers["Location"] != f"{fake.root}/m/sale/{sale}"
    assert fake.created["sale"] == 2, "later visits get a fresh iCount sale"
    await new_request(app_client)
    assert fake.created["client"] == 1, "one iCount client per customer"
    assert (await app_client.get("/pay/icount/not-a-uuid")).status == 404
    provider._sales.clear()
    fake.fail_next("paypage/generate_sale", status=503, times=3)
    unavailable = await app_client.get(f"/pay/icount/{transaction_id}", headers={"Accept-Language": "fr"})
    assert unavailable.status == 503 and unavailable.headers["Retry-After"] == "60"
    assert "momentanément indisponible" in await unavailable.text()


async def test_a_repeated_ipn_pays_once_and_forged_or_unconfirmed_ones_record_nothing(
    app_client: TestClient, fake: FakeIcount
) -> None:
    number, transaction_id, sale = await new_request(app_client)
    ipn_url, fields = fake.pay(sale)
    secret = ipn_url.rsplit("/", 1)[1]
    forged = secret[:-4] + ("0000" if not secret.endswith("0000") else "1111")
    assert await post_ipn(app_client, f"{BASE_URL}/webhooks/icount/{forged}", fields) == 403
    assert await post_ipn(app_client, f"{BASE_URL}/webhooks/icount/{uuid.uuid4().hex}", fields) == 403
    other = uuid.uuid4().hex + secret[32:]
    assert await post_ipn(app_client, f"{BASE_URL}/webhooks/icount/{other}", fields) == 403
    assert await count(app_client, inbound_events) == 0, "nothing forged is stored"
    # An IPN with the right address but a payment the API does not show: stored, never counted.
    made_up = {**fields, "confirmation_code": "9999999"}
    assert await post_ipn(app_client, ipn_url, made_up, "query") == 200  # fields read from the query
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.transactions[0].status is TransactionStatus.PENDING
    assert await count(app_client, inbound_events, inbound_events.c.processed_at.is_(None)) == 1
    assert await post_ipn(app_client, ipn_url, {"sum": "45.00"}) == 400, "nothing to confirm it by"
    response = await app_client.post(ipn_url.removeprefix(BASE_URL), data=b"\xff\xfe", headers={
        "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status == 400
    # The real payment, told four times: as JSON, in the query string, as a form (iCount posts forms).
    for how in ("json", "query", "form", "form"):
        assert await post_ipn(app_client, ipn_url, fields, how) == 200
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    [transaction] = view.transactions
    assert transaction.status is TransactionStatus.PAID
    assert transaction.provider_reference == fields["confirmation_code"]
    assert transaction.amount == Money(Decimal("45.00"), "ILS")
    kinds = await outbox_kinds(app_client)
    assert kinds.count("payment_receipt") == 1 and "vendor_payment_anomaly" not in kinds
    # The made-up payment asked once; the real one once to confirm it, once by the invoice (any document?).
    asked = [c.params["confirmation_code"] for c in fake.calls_to("cc/transactions")]
    assert asked == ["9999999", fields["confirmation_code"], fields["confirmation_code"]]
    # The backlog pass tries the unconfirmed IPN again: still not shown by the API, still not counted.
    assert await callbacks.process_callback_backlog(app_client.app[payments_key], grace=timedelta(0)) == 0
    assert (await outbox_kinds(app_client)).count("payment_receipt") == 1


async def test_a_deposit_then_a_balance_end_paid_with_one_invoice_per_payment_made_once(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    number, deposit_id, deposit_sale = await new_request(app_client)
    ipn_url, fields = fake.pay(deposit_sale)
    fake.fail_next("doc/create", status=502)  # refused before any work: retried
    assert await post_ipn(app_client, ipn_url, fields) == 200
    assert fake.created["document"] == 1 and len(fake.calls_to("doc/create")) == 2, "failed, then retried"
    assert await count(app_client, invoices_table) == 1
    balance = await payments.request_payment(deps, None, number, AskKind.BALANCE)
    ipn_url, fields = fake.pay(await sale_of(app_client, balance.transaction.id))
    # iCount makes the balance's document but answers after our timeout: the retry gets the same one.
    provider = deps.providers.for_vendor(await vendor(app_client), None)
    assert isinstance(provider, IcountProvider)
    provider.api.client = IcountClient(
        IcountCredentials(token=fake.token), fake.base_url, timeout=0.3, limiter=RateLimiter(1000)
    )
    fake.delay_next("doc/create", 1.0)
    assert await post_ipn(app_client, ipn_url, fields) == 200
    assert len(fake.calls_to("doc/create")) == 4, "timed out, then asked again"
    assert fake.created["document"] == 2, "the retry got back the document made the first time"
    assert await invoices.issue_invoices(deps) == 0
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.order.status is OrderStatus.PAID and view.order.payment_type is PaymentType.ACOMPTE_SOLDE
    assert [t.status for t in view.transactions] == [TransactionStatus.PAID, TransactionStatus.PAID]
    async with app_client.app[uow_key]() as uow:
        rows = await uow.invoices.invoices_for_order(view.order.id)
    assert sorted(r.transaction_id for r in rows) == sorted([deposit_id, balance.transaction.id])
    assert {r.doctype for r in rows} == {"invrec"} and all(r.url for r in rows)
    assert sorted(r.amount for r in rows) == [Decimal("45.00"), Decimal("105.00")]
    for row in rows:
        document = fake.documents[(row.doctype, row.docnum)]
        assert document["cc"][0]["sum"] == f"{row.amount:.2f}" and document["client_id"]
        assert document["items"][0]["unitprice_incvat"] == f"{row.amount:.2f}"
        assert document["sanity_string"] == sanity_string(row.transaction_id)
    assert (await outbox_kinds(app_client)).count("invoice_issued") == 2


async def test_an_invoice_lost_in_a_crash_is_found_again_and_never_made_twice(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    _number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    fake.fail_next("doc/create", status=500, times=3)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    assert await count(app_client, invoices_table) == 0, "paid, its invoice not issued yet"
    # iCount made the document, then we crashed before writing our row.
    provider = deps.providers.for_vendor(await vendor(app_client), None)
    assert isinstance(provider, IcountProvider)
    await provider.api.issue_document(await invoice_request(app_client, transaction_id))
    creates = len(fake.calls_to("doc/create"))
    assert await invoices.issue_invoices(deps) == 1
    assert await invoices.issue_invoices(deps) == 0
    assert fake.created["document"] == 1 and len(fake.calls_to("doc/create")) == creates
    assert (await outbox_kinds(app_client)).count("invoice_issued") == 1


async def test_a_pay_page_that_issues_its_own_document_is_not_invoiced_a_second_time(
    app_client: TestClient, fake: FakeIcount
) -> None:
    _number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    ipn_url, fields = fake.pay(sale, document="invrec")
    assert await post_ipn(app_client, ipn_url, fields) == 200
    assert fake.calls_to("doc/create") == []
    async with app_client.app[uow_key]() as uow:
        invoice = await uow.invoices.invoice_for(transaction_id)
    assert invoice is not None and (invoice.doctype, invoice.docnum) == (fields["doctype"], fields["docnum"])
    assert (await outbox_kinds(app_client)).count("invoice_issued") == 1


def code_of(fake: FakeIcount, sale: str) -> str:
    """The confirmation code of the card payment made on ``sale``."""
    return next(code for code, t in fake.transactions.items() if t.sale_uniqid == sale)


async def vendor(client: TestClient) -> Any:
    async with client.app[uow_key]() as uow:
        return (await uow.vendors.all())[0]


async def invoice_request(client: TestClient, transaction_id: uuid.UUID) -> InvoiceRequest:
    async with client.app[uow_key]() as uow:
        transaction = await uow.transactions.get(transaction_id)
        client_id = (await uow.connection.execute(select(customers.c.provider_client_id))).scalar_one()
    assert transaction is not None and transaction.paid_at is not None
    return InvoiceRequest(
        doctype="invrec",
        sanity_string=sanity_string(transaction_id),
        client_id=client_id,
        client_name=CUSTOMER,
        amount=transaction.amount,
        description=transaction.label,
        paid_on=transaction.paid_at.date(),
        confirmation_code=transaction.provider_reference,
        lang="en",
    )


async def test_a_receipt_is_issued_for_a_vat_exempt_vendor(app_client: TestClient, fake: FakeIcount) -> None:
    await vendor_service.change_settings(
        app_client.app[uow_key], None, [("invoice_doctype", "receipt")], None, NOW
    )
    _number, _transaction, sale = await new_request(app_client, AskKind.FULL, None)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    [(doctype, _docnum)] = fake.documents
    assert doctype == "receipt"


async def test_two_partial_refunds_end_refunded_the_order_unpaid_and_the_customer_told_twice(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    first = await refunds.refund(deps, None, number, "20", requested_by="+972541112222")
    assert first.amount == Money(Decimal("20.00"), "ILS") and len(fake.calls_to("doc/cancel")) == 0
    assert fake.refunds[-1]["sum"] == Decimal("20.00")
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.transactions[0].status is TransactionStatus.PARTIALLY_REFUNDED
    assert view.order.status is OrderStatus.ACCEPTED, "paid 130 of 150: no longer paid"
    assert view.ledger is not None and view.ledger.paid == Money(Decimal("130.00"), "ILS")
    [row] = view.refunds[transaction_id]
    assert (row.status, row.requested_by, row.provider) == (RefundStatus.SUCCEEDED, "+972541112222", "icount")
    assert row.provider_reference, "iCount's confirmation code of the refund"
    second = await refunds.refund(deps, None, number, "130")
    assert second.ledger.paid.is_zero() and second.ledger.refunded == Money(Decimal("150.00"), "ILS")
    assert fake.transactions[code_of(fake, sale)].refunded == Decimal("150.00")
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.transactions[0].status is TransactionStatus.REFUNDED
    assert view.order.status is OrderStatus.ACCEPTED and view.order.payment_type is None
    kinds = await outbox_kinds(app_client)
    assert kinds.count("payment_refunded") == 2 and kinds.count("vendor_refund_done") == 2
    with pytest.raises(RefundExceedsPaid) as third:
        await refunds.refund(deps, None, number, "1")
    assert explain(third.value, "en").startswith("Everything paid has been refunded already")
    assert len(fake.refunds) == 2


async def test_a_full_refund_cancels_the_document_with_refund_cc(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    number, first_id, sale = await new_request(app_client, AskKind.FULL, None)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    await refunds.refund(deps, None, number)
    [cancel] = fake.calls_to("doc/cancel")
    assert cancel.params["refund_cc"] == 1
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.transactions[0].status is TransactionStatus.REFUNDED
    assert view.order.status is OrderStatus.ACCEPTED
    async with app_client.app[uow_key]() as uow:
        invoice = await uow.invoices.invoice_for(first_id)
    assert invoice is not None and invoice.status == "cancelled"
    assert "payment_refunded" in await outbox_kinds(app_client)


async def test_a_paid_only_order_not_paid_in_time_is_freed_and_its_link_stops_working(
    app_client: TestClient, fake: FakeIcount, clock: FrozenClock
) -> None:
    deps = app_client.app[payments_key]
    await vendor_service.change_settings(
        deps.uow, None, [("confirmation_rule", "paid_only"), ("hold_minutes", "30")], None, NOW
    )
    number, transaction_id, sale = await new_request(app_client, accept=False)
    kept, _kept_tx, _ = await new_request(app_client, accept=False)
    assert await post_ipn(app_client, *fake.pay(await sale_of(app_client, _kept_tx))) == 200
    checkout = f"/pay/icount/{transaction_id}"
    assert (await app_client.get(checkout, allow_redirects=False)).status == 302
    clock.now = NOW + timedelta(minutes=29)
    assert await holds.release_expired_holds(deps) == 0
    clock.now = NOW + timedelta(minutes=31)
    for job in (HOLD_RELEASE, INVOICE_PASS, IPN_BACKLOG):  # the scheduled pass of bot serve
        await app_client.app[jobs_key].run_now(job)
    assert await holds.release_expired_holds(deps) == 0
    view = await order_service.show_order(deps.uow, None, number)
    assert view.order.status is OrderStatus.CANCELLED
    assert view.transactions[0].status is TransactionStatus.EXPIRED
    assert not next(iter(view.links.values())).active
    ended = await app_client.get(checkout, allow_redirects=False)
    assert ended.status == 410 and "no longer works" in await ended.text()
    kept_view = await order_service.show_order(deps.uow, None, kept)
    assert kept_view.order.status is OrderStatus.PENDING, "an order with a deposit paid is not freed"
    assert "vendor_hold_expired" in await outbox_kinds(app_client)
    # A customer who still had an old iCount page open and paid: flagged to the vendor, not counted.
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    view = await order_service.show_order(deps.uow, None, number)
    assert view.transactions[0].status is TransactionStatus.EXPIRED
    assert "vendor_payment_anomaly" in await outbox_kinds(app_client)


async def test_the_connection_test_names_the_company_or_says_what_failed(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    check = await provider_service.check_provider(deps, None)
    assert (check.provider, check.ok, check.company) == ("icount", True, "Fake Bakery Ltd")
    from bot.payments.credentials import CredentialCipher

    cipher = CredentialCipher("a long test secret key")
    await vendor_service.change_settings(
        deps.uow, None, [("icount_api_token", "API3E8-revoked")], cipher, NOW
    )
    check = await provider_service.check_provider(deps, None)
    assert not check.ok and check.detail is not None and "bad_token" in check.detail
    assert "revoked" not in check.detail


async def test_an_ipn_naming_only_its_document_is_confirmed_by_doc_info(
    app_client: TestClient, fake: FakeIcount
) -> None:
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    ipn_url, fields = fake.pay(sale, document="receipt")
    by_document = {"doctype": fields["doctype"], "docnum": fields["docnum"], "sum": fields["sum"]}
    assert await post_ipn(app_client, ipn_url, by_document) == 200
    assert await post_ipn(app_client, ipn_url, by_document) == 200
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.transactions[0].status is TransactionStatus.PAID and view.order.status is OrderStatus.PAID
    assert view.transactions[0].provider_reference == f"receipt:{fields['docnum']}"
    assert len(fake.calls_to("doc/info")) == 1 and fake.calls_to("cc/transactions") == []
    async with app_client.app[uow_key]() as uow:
        invoice = await uow.invoices.invoice_for(transaction_id)
    assert invoice is not None and (invoice.doctype, invoice.docnum) == ("receipt", fields["docnum"])
    assert fake.calls_to("doc/create") == []
    # A cancelled document confirms nothing.
    _other, other_id, other_sale = await new_request(app_client, AskKind.FULL, None)
    other_url, other_fields = fake.pay(other_sale, document="receipt")
    fake.documents[("receipt", other_fields["docnum"])]["is_cancelled"] = True
    assert (
        await post_ipn(app_client, other_url, {"doctype": "receipt", "docnum": other_fields["docnum"]}) == 200
    )
    async with app_client.app[uow_key]() as uow:
        other = await uow.transactions.get(other_id)
    assert other is not None and other.status is TransactionStatus.PENDING


async def test_one_payment_told_to_another_request_pays_only_its_own(
    app_client: TestClient, fake: FakeIcount
) -> None:
    _first, first_id, first_sale = await new_request(app_client, AskKind.FULL, None)
    _second, second_id, second_sale = await new_request(app_client, AskKind.FULL, None)
    ipn_url, fields = fake.pay(first_sale)
    assert await post_ipn(app_client, ipn_url, fields) == 200
    # The same confirmation code at the second request's own (valid) address: not its payment.
    assert await post_ipn(app_client, fake.sales[second_sale]["ipn_url"], fields) == 200
    async with app_client.app[uow_key]() as uow:
        first, second = await uow.transactions.get(first_id), await uow.transactions.get(second_id)
    assert first is not None and first.status is TransactionStatus.PAID
    assert second is not None and second.status is TransactionStatus.PENDING


async def test_two_vendors_with_their_own_icount_accounts_may_both_have_document_1001(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Document numbers are per iCount company: another vendor's invrec 1001 is not this one's."""
    paid = []
    for name, phone in (("Bakery", "+972541112222"), ("Florist", "+972541113333")):
        added = await vendor_service.add_vendor(
            uow_factory, vendor_service.NewVendor(name=name, admin_phones=[phone]), NOW
        )
        order = await order_service.create_order(uow_factory, name, CUSTOMER, "150", "Cake", True, NOW)
        transaction = PaymentTransaction(
            id=uuid.uuid4(), commande_id=order.id, vendor_id=added.vendor.id,
            amount=Money(Decimal("150.00"), "ILS"), type=TransactionType.TOTAL, label="Total",
            status=TransactionStatus.PENDING, created_at=NOW, updated_at=NOW, provider="icount",
        )  # fmt: skip
        transaction.mark_paid(NOW, "card", f"code-{name}")
        async with uow_factory() as uow:
            await uow.transactions.add(transaction)
            await uow.commit()
        paid.append((added.vendor.id, transaction))
    for vendor_id, transaction in paid:
        async with uow_factory() as uow:
            added_now = await uow.invoices.add_invoice(
                vendor_id, transaction.id, "icount", "invrec", "1001", None, transaction.amount, NOW
            )
            await uow.commit()
        assert added_now
    async with uow_factory() as uow:
        again = await uow.invoices.add_invoice(
            paid[0][0], paid[0][1].id, "icount", "invrec", "1001", None, paid[0][1].amount, NOW
        )
        assert not again, "one document per payment still"
        assert await uow.invoices.uninvoiced_payments(["icount"]) == []


async def test_an_ipn_address_written_with_other_digits_is_refused_not_a_server_error(
    app_client: TestClient, fake: FakeIcount
) -> None:
    _number, transaction_id, sale = await new_request(app_client)
    ipn_url, fields = fake.pay(sale)
    secret = ipn_url.rsplit("/", 1)[1]
    # The customer knows the request's id (it is in their link); Arabic-Indic digits still parse as hex.
    lookalike = "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in secret)
    assert transaction_id.hex != lookalike[:32]
    path = "/webhooks/icount/" + quote(lookalike)
    response = await app_client.post(path, data=fields)
    assert response.status == 403
    assert await count(app_client, inbound_events) == 0


async def test_orders_still_held_at_one_vendor_never_crowd_out_expired_holds_at_another(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A vendor holding many orders for a day must not keep another's 30-minute holds from expiring."""
    for name, minutes, phone in (("Caterer", "1440", "+972541112222"), ("Florist", "30", "+972541113333")):
        await vendor_service.add_vendor(
            uow_factory, vendor_service.NewVendor(name=name, admin_phones=[phone]), NOW
        )
        await vendor_service.change_settings(
            uow_factory, name, [("confirmation_rule", "paid_only"), ("hold_minutes", minutes)], None, NOW
        )
    for _ in range(3):
        await order_service.create_order(uow_factory, "Caterer", CUSTOMER, "150", "Buffet", False, NOW)
    later = NOW + timedelta(minutes=10)
    expired = await order_service.create_order(uow_factory, "Florist", CUSTOMER, "80", "Roses", False, later)
    async with uow_factory() as uow:
        held = await uow.orders.held_orders(NOW + timedelta(minutes=45), limit=2)
    assert [h.order_id for h in held] == [expired.id], "only holds that have run out, whoever holds more"


async def test_a_document_in_another_currency_does_not_pay_a_request_of_the_same_number(
    app_client: TestClient, fake: FakeIcount
) -> None:
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    ipn_url, fields = fake.pay(sale, document="receipt")
    fake.documents[("receipt", fields["docnum"])]["currency_code"] = "USD"  # 150 dollars, not 150 shekels
    assert await post_ipn(app_client, ipn_url, {"doctype": "receipt", "docnum": fields["docnum"]}) == 200
    async with app_client.app[uow_key]() as uow:
        transaction = await uow.transactions.get(transaction_id)
    assert transaction is not None and transaction.status is TransactionStatus.PENDING
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.order.status is not OrderStatus.PAID


async def test_one_payment_told_by_its_code_and_then_by_its_document_pays_only_one_request(
    app_client: TestClient, fake: FakeIcount
) -> None:
    _first, first_id, first_sale = await new_request(app_client, AskKind.FULL, None)
    _second, second_id, second_sale = await new_request(app_client, AskKind.FULL, None)
    _third, third_id, third_sale = await new_request(app_client, AskKind.FULL, None)
    ipn_url, fields = fake.pay(first_sale, document="receipt")
    assert await post_ipn(app_client, ipn_url, fields) == 200  # counted by its confirmation code
    by_document = {"doctype": fields["doctype"], "docnum": fields["docnum"]}
    assert await post_ipn(app_client, fake.sales[second_sale]["ipn_url"], by_document) == 200
    # And the other way round: counted by its document, then told by its code.
    ipn_url, fields = fake.pay(third_sale, document="receipt")
    assert await post_ipn(app_client, ipn_url, {"doctype": "receipt", "docnum": fields["docnum"]}) == 200
    _fourth, fourth_id, fourth_sale = await new_request(app_client, AskKind.FULL, None)
    assert await post_ipn(app_client, fake.sales[fourth_sale]["ipn_url"], fields) == 200
    async with app_client.app[uow_key]() as uow:
        found = [await uow.transactions.get(t) for t in (first_id, second_id, third_id, fourth_id)]
    assert [t.status if t else None for t in found] == [TransactionStatus.PAID, TransactionStatus.PENDING] * 2


async def test_a_deeply_nested_json_ipn_is_refused_with_a_4xx_not_a_server_error(
    app_client: TestClient, fake: FakeIcount
) -> None:
    _number, _transaction_id, sale = await new_request(app_client)
    ipn_url, _fields = fake.pay(sale)
    nested = "[" * 100_000 + "]" * 100_000
    for path in (ipn_url.removeprefix(BASE_URL), f"/webhooks/icount/{uuid.uuid4().hex * 2}"):
        response = await app_client.post(path, data=nested, headers={"Content-Type": "application/json"})
        assert 400 <= response.status < 500
    assert await count(app_client, inbound_events) == 0


async def test_an_ipn_with_an_overlong_document_number_is_refused_with_a_4xx(
    app_client: TestClient, fake: FakeIcount
) -> None:
    _number, _transaction_id, sale = await new_request(app_client)
    ipn_url, _fields = fake.pay(sale)
    response = await app_client.post(
        ipn_url.removeprefix(BASE_URL), data={"doctype": "invrec" * 30, "docnum": "9" * 200}
    )
    assert response.status == 400
    assert await count(app_client, inbound_events) == 0


async def test_a_held_order_whose_payment_is_still_being_confirmed_is_not_freed_under_it(
    app_client: TestClient, fake: FakeIcount, clock: FrozenClock
) -> None:
    deps = app_client.app[payments_key]
    await vendor_service.change_settings(
        deps.uow, None, [("confirmation_rule", "paid_only"), ("hold_minutes", "30")], None, NOW
    )
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None, accept=False)
    clock.now = NOW + timedelta(minutes=29)  # paid in time; iCount's list does not show it yet
    fake.fail_next("cc/transactions", status=503, times=3)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    clock.now = NOW + timedelta(minutes=31)
    assert await holds.release_expired_holds(deps) == 0, "its IPN is still waiting to be confirmed"
    assert await callbacks.process_callback_backlog(deps, grace=timedelta(0)) == 1
    view = await order_service.show_order(deps.uow, None, number)
    assert view.transactions[0].status is TransactionStatus.PAID and view.order.status is OrderStatus.PAID
    assert "vendor_payment_anomaly" not in await outbox_kinds(app_client)


async def test_a_full_refund_gives_the_money_back_even_when_icount_does_not_tie_our_invoice_to_the_charge(
    app_client: TestClient, fake: FakeIcount
) -> None:
    fake.ties_created_documents = False  # doc/cancel refund_cc on our own invoice would refund nothing
    deps = app_client.app[payments_key]
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    await refunds.refund(deps, None, number)
    assert fake.transactions[code_of(fake, sale)].refunded == Decimal("150.00"), "the card got it back"
    async with app_client.app[uow_key]() as uow:
        invoice = await uow.invoices.invoice_for(transaction_id)
    assert invoice is not None and invoice.status == "cancelled"
    assert fake.documents[(invoice.doctype, invoice.docnum)]["is_cancelled"]
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.transactions[0].status is TransactionStatus.REFUNDED


async def test_a_payment_whose_invoice_keeps_failing_waits_longer_each_time_and_holds_up_no_other(
    app_client: TestClient, fake: FakeIcount, clock: FrozenClock
) -> None:
    deps = app_client.app[payments_key]
    _number, first, sale = await new_request(app_client, AskKind.FULL, None)
    fake.fail_next("doc/create", status=400, times=1000)  # refused each time, for good
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    backoff = invoices.InvoiceBackoff()
    assert await invoices.issue_invoices(deps, backoff=backoff) == 0
    calls = len(fake.calls_to("doc/create"))
    assert await invoices.issue_invoices(deps, backoff=backoff) == 0
    assert len(fake.calls_to("doc/create")) == calls, "resting: not asked again a moment later"
    clock.now += timedelta(minutes=1, seconds=1)
    assert await invoices.issue_invoices(deps, backoff=backoff) == 0
    assert len(fake.calls_to("doc/create")) > calls, "asked again once its wait is over"
    assert backoff.waits[first][0] == 2
    # Another payment, made later: with a batch of one and the failing payment first in line, it is
    # still invoiced, because the failing one is resting.
    fake.clear_faults()
    _number, second, sale = await new_request(app_client, AskKind.FULL, None)
    fake.fail_next("doc/create", status=400, times=3)  # the IPN's own attempt fails: left to the pass
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    fake.clear_faults()
    assert await invoices.issue_invoices(deps, limit=1, backoff=backoff) == 1
    async with app_client.app[uow_key]() as uow:
        assert await uow.invoices.invoice_for(second) is not None
        assert await uow.invoices.invoice_for(first) is None


async def test_a_refund_icount_made_but_did_not_answer_is_found_made_and_never_made_twice(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    fake.lose_answer_next("cc/refund")  # iCount refunds the card, but its answer is lost
    with pytest.raises(RefundUncertain):
        await refunds.refund(deps, None, number, "20")
    assert len(fake.calls_to("cc/refund")) == 1, "a refund is never retried blindly"
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert [r.status for r in view.refunds[transaction_id]] == [RefundStatus.UNKNOWN]
    assert view.transactions[0].status is TransactionStatus.PAID, "not counted while unknown"
    # The vendor asks again: the bot first reads the card transaction, finds the refund made, says so.
    with pytest.raises(RefundResolved) as resolved:
        await refunds.refund(deps, None, number, "20")
    assert resolved.value.params["made"] is True
    assert len(fake.calls_to("cc/refund")) == 1 and len(fake.refunds) == 1, "never made twice"
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    assert view.transactions[0].status is TransactionStatus.PARTIALLY_REFUNDED
    assert (await outbox_kinds(app_client)).count("payment_refunded") == 1
    # A new refund asked now is a new one.
    await refunds.refund(deps, None, number, "30")
    assert [r["sum"] for r in fake.refunds] == [Decimal("20.00"), Decimal("30.00")]


async def test_a_refund_icount_did_not_make_stays_unknown_until_it_plainly_was_not_made(
    app_client: TestClient, fake: FakeIcount, clock: FrozenClock
) -> None:
    deps = app_client.app[payments_key]
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    fake.fail_next("cc/refund", status=503)  # refused before anything was done
    with pytest.raises(RefundUncertain):
        await refunds.refund(deps, None, number, "20")
    with pytest.raises(RefundPending):
        await refunds.refund(deps, None, number, "20")  # iCount's lists may lag: not taken as not made yet
    assert await refunds.resolve_uncertain_refunds(deps) == 0
    clock.advance(timedelta(minutes=16))
    assert await refunds.resolve_uncertain_refunds(deps) == 1, "the recovery pass finds it was not made"
    view = await order_service.show_order(app_client.app[uow_key], None, number)
    [row] = view.refunds[transaction_id]
    assert row.status is RefundStatus.FAILED and "not made" in (row.failure_reason or "")
    outcome = await refunds.refund(deps, None, number, "20")
    assert outcome.ledger.refunded == Money(Decimal("20.00"), "ILS") and len(fake.refunds) == 1


async def last_reply(client: TestClient) -> str:
    """The last chat reply queued to a vendor's admin (the sender's notes may come in between)."""
    async with client.app[uow_key]() as uow:
        query = (
            select(outbox_messages.c.payload)
            .where(outbox_messages.c.kind == "vendor_reply")
            .order_by(outbox_messages.c.id.desc())
            .limit(1)
        )
        payload = (await uow.connection.execute(query)).scalar_one()
    return str(payload["text"])


async def test_a_hebrew_customer_gets_a_hebrew_icount_page_document_and_messages(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    await customer_service.set_customer(deps.uow, None, CUSTOMER, [("locale", "he")], deps.clock())
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    assert fake.sales[sale]["page_lang"] == "he"
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    async with app_client.app[uow_key]() as uow:
        invoice = await uow.invoices.invoice_for(transaction_id)
        query = select(outbox_messages.c.kind, outbox_messages.c.locale, outbox_messages.c.payload).where(
            outbox_messages.c.to_phone == CUSTOMER.removeprefix("+")
        )
        sent = list(await uow.connection.execute(query))
    assert invoice is not None and fake.documents[(invoice.doctype, invoice.docnum)]["doc_lang"] == "he"
    assert {row.kind for row in sent} == {"payment_request", "payment_receipt", "invoice_issued"}
    for row in sent:
        assert row.locale == "he" and any("\u0590" <= char <= "\u05ff" for char in row.payload["text"])
    page = await app_client.get("/pay/success", params={"tx": str(transaction_id)})
    assert '<html lang="he" dir="rtl">' in await page.text()


async def test_statut_lists_each_payments_invoice_with_its_number_and_link(
    app_client: TestClient, fake: FakeIcount
) -> None:
    number, transaction_id, sale = await new_request(app_client, AskKind.FULL, None)
    assert await post_ipn(app_client, *fake.pay(sale)) == 200
    async with app_client.app[uow_key]() as uow:
        invoice = await uow.invoices.invoice_for(transaction_id)
    assert invoice is not None and invoice.url
    chat = app_client.app[chat_key]
    actor = AdminActor(await vendor(app_client), "972541112222")
    await vendor_handlers.status(chat, actor, VendorCommand(Verb.STATUS, order=number, language="en"))
    text = await last_reply(app_client)
    assert f"🧾 invoice {invoice.docnum} — {invoice.url}" in text
    shown = order_json(await order_service.show_order(app_client.app[uow_key], None, number))
    assert shown["transactions"][0]["invoice"] == {
        "number": invoice.docnum, "type": "invrec", "url": invoice.url, "status": "issued",
        "provider": "icount",
    }  # fmt: skip


async def test_a_cash_payment_gets_its_icount_receipt_and_a_full_cash_refund_cancels_it(
    app_client: TestClient, fake: FakeIcount
) -> None:
    deps = app_client.app[payments_key]
    order = await order_service.create_order(deps.uow, None, CUSTOMER, "150", "Cake", True, deps.clock())
    cash = (await cash_service.record_cash_payment(deps, None, order.number, "50")).transaction
    async with app_client.app[uow_key]() as uow:
        invoice = await uow.invoices.invoice_for(cash.id)
    assert invoice is not None
    document = fake.documents[(invoice.doctype, invoice.docnum)]
    assert document["cash"] == {"sum": "50.00"} and "cc" not in document
    assert document["sanity_string"] == sanity_string(cash.id)
    assert "invoice_issued" in await outbox_kinds(app_client)
    assert await invoices.issue_invoices(deps) == 0, "one receipt, never two"
    await refunds.refund(deps, None, order.number)
    assert document["is_cancelled"] and fake.refunds == [], "cash goes back at the register, not by card"
    async with app_client.app[uow_key]() as uow:
        cancelled = await uow.invoices.invoice_for(cash.id)
    assert cancelled is not None and cancelled.status == "cancelled"
