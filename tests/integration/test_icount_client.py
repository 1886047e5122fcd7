"""The iCount client and provider against a local fake of iCount API v3, at the wire level."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot.domain.money import Money
from bot.payments.icount.api import InvoiceRequest
from bot.payments.icount.client import (
    IcountAuthError,
    IcountClient,
    IcountCredentials,
    IcountError,
    IcountRateLimited,
    IcountUnavailable,
    RateLimiter,
)
from bot.payments.icount.provider import IcountProvider
from bot.payments.icount.webhooks import transaction_of_secret
from bot.payments.port import LinkRequest
from tests.conftest import NOW
from tests.fakes.icount_api import FakeIcount

BASE = "http://bot.test"


@pytest.fixture
async def fake() -> AsyncIterator[FakeIcount]:
    async with FakeIcount() as server:
        yield server


def token_client(fake: FakeIcount, **options: object) -> IcountClient:
    return IcountClient(
        IcountCredentials(token=fake.token),
        fake.base_url,
        limiter=RateLimiter(1000),
        **options,  # type: ignore[arg-type]
    )


def session_client(fake: FakeIcount, password: str | None = None) -> IcountClient:
    credentials = IcountCredentials(cid=fake.cid, user=fake.user, password=password or fake.password)
    return IcountClient(credentials, fake.base_url, limiter=RateLimiter(1000))


def link_request(amount: str = "150.00", currency: str = "ILS") -> LinkRequest:
    return LinkRequest(
        transaction_id=uuid.uuid4(),
        vendor_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        amount=Money(Decimal(amount), currency),
        description="Boulangerie Acompte #1",
        vendor_name="Boulangerie",
        customer_phone="972501234567",
        locale="he",
        success_url=f"{BASE}/pay/success",
        cancel_url=f"{BASE}/pay/cancelled",
        customer_name="Dana",
    )


async def test_a_token_client_sends_a_bearer_token_and_reads_the_company(fake: FakeIcount) -> None:
    provider = IcountProvider(token_client(fake), fake.paypage_id, BASE, "key")
    try:
        info = await provider.api.company_info()
    finally:
        await provider.close()
    assert (info.cid, info.name) == (fake.cid, "Fake Bakery Ltd")
    [call] = fake.calls_to("auth/info")
    assert call.auth == "token" and call.content_type == "application/json"
    assert "sid" not in call.params


async def test_a_password_client_logs_in_once_and_again_when_the_session_expires(fake: FakeIcount) -> None:
    client = session_client(fake)
    try:
        await client.call("auth/info")
        await client.call("auth/info")
        fake.expire_sessions()
        await client.call("auth/info")
    finally:
        await client.close()
    assert len(fake.calls_to("auth/login")) == 2
    # The call on the expired session was refused (not recorded), then made again after a new login.
    assert [c.auth for c in fake.calls_to("auth/info")] == ["sid", "sid", "sid"]
    assert len(fake.calls_to("auth/logout")) == 1, "the session is closed with the client"
    assert fake.sessions == set()


async def test_an_expired_session_refused_with_an_unforeseen_reason_is_renewed_all_the_same(
    fake: FakeIcount,
) -> None:
    fake.expired_session_reason = "not_authorized"  # no "sid" nor "session" in it
    client = session_client(fake)
    try:
        await client.call("auth/info")
        fake.expire_sessions()
        await client.call("auth/info")
        await client.call("auth/info")
    finally:
        await client.close()
    assert len(fake.calls_to("auth/login")) == 2, "logged in again once, not on every call"


async def test_wrong_credentials_are_an_auth_error_that_is_not_retried(fake: FakeIcount) -> None:
    client = session_client(fake, password="Pw-9f3k-secret")
    try:
        with pytest.raises(IcountAuthError) as caught:
            await client.call("auth/info")
    finally:
        await client.close()
    assert not caught.value.transient
    assert "Pw-9f3k" not in str(caught.value), "the password never appears in an error"
    bad_token = IcountClient(IcountCredentials(token="nope"), fake.base_url, limiter=RateLimiter(1000))
    try:
        with pytest.raises(IcountAuthError):
            await bad_token.call("auth/info")
    finally:
        await bad_token.close()


async def test_an_error_with_http_200_becomes_a_typed_error_with_its_reason(fake: FakeIcount) -> None:
    provider = IcountProvider(token_client(fake), "not-a-page", BASE, "key")
    try:
        with pytest.raises(IcountError) as caught:
            await provider.api.generate_sale(link_request(), provider.callbacks.url(uuid.uuid4()))
    finally:
        await provider.close()
    assert caught.value.reason == "missing_paypage_id"
    assert not caught.value.transient


@pytest.mark.parametrize("http_429", [False, True])
async def test_the_plain_text_too_many_requests_is_a_transient_rate_limit(
    fake: FakeIcount, http_429: bool
) -> None:
    client = token_client(fake)
    fake.throttle_next(http_429=http_429)
    try:
        with pytest.raises(IcountRateLimited) as caught:
            await client.call("auth/info")
        assert caught.value.transient
        assert (await client.call("auth/info"))["status"] is True
    finally:
        await client.close()


async def test_server_errors_and_timeouts_are_transient(fake: FakeIcount) -> None:
    client = token_client(fake, timeout=0.2)
    fake.fail_next("auth/info", status=502)
    fake.delay_next("auth/info", 1.0)
    try:
        with pytest.raises(IcountUnavailable):
            await client.call("auth/info")
        with pytest.raises(IcountUnavailable) as caught:
            await client.call("auth/info")
        assert caught.value.transient
    finally:
        await client.close()


async def test_the_client_keeps_to_the_rate_per_token() -> None:
    now = [0.0]
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(limit=30, period=60.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(30):
        await limiter.acquire()
        now[0] += 0.5
    assert waited == []
    await limiter.acquire()
    assert waited == [pytest.approx(45.0)], "the 31st request waits until the first leaves the window"


async def test_a_sale_carries_the_pay_page_amount_currency_client_urls_and_a_per_request_ipn_secret(
    fake: FakeIcount,
) -> None:
    provider = IcountProvider(token_client(fake), fake.paypage_id, BASE, "key")
    request = link_request()
    try:
        link = await provider.create_link(request)
        other = await provider.create_link(link_request())
    finally:
        await provider.close()
    params = fake.sales[link.provider_link_id]
    assert params["paypage_id"] == 77 and params["sum"] == "150.00"
    assert (params["currency_id"], params["currency_code"]) == (5, "ILS")
    assert (params["client_name"], params["phone"], params["page_lang"]) == ("Dana", "+972501234567", "he")
    assert params["success_url"] == f"{BASE}/pay/success" and params["failure_url"] == f"{BASE}/pay/cancelled"
    secret = params["ipn_url"].rsplit("/", 1)[1]
    assert params["ipn_url"] == f"{BASE}/webhooks/icount/{secret}"
    assert transaction_of_secret(secret) == request.transaction_id and provider.accepts_callback(secret)
    assert secret != fake.sales[other.provider_link_id]["ipn_url"].rsplit("/", 1)[1]
    assert not provider.accepts_callback(secret[:-1] + ("0" if secret[-1] != "0" else "1"))
    assert link.url == f"{BASE}/pay/icount/{request.transaction_id}"


async def test_form_encoded_bodies_reach_the_same_methods(fake: FakeIcount) -> None:
    provider = IcountProvider(token_client(fake, form_encoded=True), fake.paypage_id, BASE, "key")
    try:
        sale = await provider.api.generate_sale(
            link_request("20.00", "EUR"), provider.callbacks.url(uuid.uuid4())
        )
        _, ipn = fake.pay(sale.uniqid)
        document = await provider.api.issue_document(invoice(ipn["confirmation_code"], "20.00", "EUR"))
    finally:
        await provider.close()
    assert fake.calls_to("paypage/generate_sale")[0].content_type == "application/x-www-form-urlencoded"
    assert fake.sales[sale.uniqid]["currency_id"] == "1"
    created = fake.documents[(document.doctype, document.docnum)]
    assert created["items"][0]["unitprice_incvat"] == "20.00"
    assert created["cc"][0]["confirmation_code"] == ipn["confirmation_code"]


def invoice(
    code: str | None, amount: str = "150.00", currency: str = "ILS", doctype: str = "invrec"
) -> InvoiceRequest:
    return InvoiceRequest(
        doctype=doctype,
        sanity_string=uuid.uuid4().hex,
        client_id=None,
        client_name="Dana",
        amount=Money(Decimal(amount), currency),
        description="Acompte #1",
        paid_on=NOW.date(),
        confirmation_code=code,
        lang="he",
    )


async def test_clients_payments_documents_and_refunds_go_through_the_real_v3_methods(
    fake: FakeIcount,
) -> None:
    provider = IcountProvider(token_client(fake), fake.paypage_id, BASE, "key")
    today = NOW.date()
    try:
        client_id = await provider.api.ensure_client("cust-1", "Dana", "+972501234567")
        assert await provider.api.ensure_client("cust-1", "Dana", "+972501234567") == client_id
        sale = await provider.api.generate_sale(link_request(), provider.callbacks.url(uuid.uuid4()))
        _, ipn = fake.pay(sale.uniqid)
        found = await provider.api.find_card_payment(ipn["confirmation_code"], today)
        assert found is not None and found.amount == Money(Decimal("150.00"), "ILS")
        assert await provider.api.find_card_payment("0000000", today) is None
        request = invoice(ipn["confirmation_code"])
        document = await provider.api.issue_document(request)
        again = await provider.api.issue_document(request)
        assert again == document and fake.created["document"] == 1, "sanity_string: made once"
        receipt = await provider.api.issue_document(invoice(ipn["confirmation_code"], doctype="receipt"))
        assert receipt.doctype == "receipt" and "items" not in fake.documents[("receipt", receipt.docnum)]
        total = await provider.api.document_total(document.doctype, document.docnum, "ILS")
        assert total.paid == Money(Decimal("150.00"), "ILS") and not total.cancelled
        assert await provider.api.document_url(document.doctype, document.docnum, "he") == document.url
        partial = await provider.api.refund_card(str(found.cc_bill_log_id), Money(Decimal("20.00"), "ILS"))
        assert partial.amount == Money(Decimal("20.00"), "ILS")
        await provider.api.cancel_document(
            document.doctype, document.docnum, "customer cancelled", refund_card=True
        )
        assert (await provider.api.document_total(document.doctype, document.docnum, "ILS")).cancelled
    finally:
        await provider.close()
    assert fake.created["client"] == 1 and len(fake.calls_to("client/info")) == 1
    assert fake.transactions[ipn["confirmation_code"]].refunded == Decimal("150.00")
    assert [c.method for c in fake.calls if c.method.startswith("cc/")] == [
        "cc/transactions",
        "cc/transactions",
        "cc/refund",
    ]
