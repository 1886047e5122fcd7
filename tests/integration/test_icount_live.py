"""Against a real iCount account: runs only when ICOUNT_TEST_TOKEN is set (and the network allows).

Optional: ICOUNT_TEST_PAYPAGE_ID (a pay page of that account, for generate_sale), ICOUNT_TEST_API_BASE,
and ICOUNT_TEST_CID / ICOUNT_TEST_USER / ICOUNT_TEST_PASS for the session login. Nothing here charges a
card; a client "bot-live-test-..." is created in the account. Documents are issued (then cancelled) only
with ICOUNT_TEST_DOCUMENTS set to a doctype (receipt or invrec): use a test account.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.domain.money import Money
from bot.payments.icount.client import IcountClient, IcountCredentials
from bot.payments.icount.consts import DEFAULT_API_BASE
from bot.payments.icount.provider import IcountProvider, InvoiceRequest
from bot.payments.port import LinkRequest

TOKEN = os.environ.get("ICOUNT_TEST_TOKEN", "")
PAYPAGE = os.environ.get("ICOUNT_TEST_PAYPAGE_ID", "")
BASE = os.environ.get("ICOUNT_TEST_API_BASE", DEFAULT_API_BASE)
DOCUMENTS = os.environ.get("ICOUNT_TEST_DOCUMENTS", "")
SESSION = tuple(os.environ.get(f"ICOUNT_TEST_{name}", "") for name in ("CID", "USER", "PASS"))
pytestmark = pytest.mark.skipif(not TOKEN, reason="ICOUNT_TEST_TOKEN is not set")


def provider(credentials: IcountCredentials | None = None) -> IcountProvider:
    client = IcountClient(credentials or IcountCredentials(token=TOKEN), BASE)
    return IcountProvider(client, PAYPAGE or "0", "https://bot.example", "live-test-key")


async def test_the_real_account_answers_the_connection_test_and_finds_no_made_up_payment() -> None:
    icount = provider()
    try:
        info = await icount.company_info()
        assert info.cid or info.name
        missing = await icount.find_card_payment("0000000", datetime.now(UTC).date())
        assert missing is None
        client_id = await icount.ensure_client(
            f"bot-live-test-{uuid.uuid4().hex[:8]}", "Bot live test", "+972500000000"
        )
        assert client_id
    finally:
        await icount.close()


@pytest.mark.skipif(not PAYPAGE, reason="ICOUNT_TEST_PAYPAGE_ID is not set")
async def test_a_real_sale_page_is_generated_with_our_ipn_url() -> None:
    icount = provider()
    request = LinkRequest(
        transaction_id=uuid.uuid4(),
        vendor_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        amount=Money(Decimal("1.00"), "ILS"),
        description="Bot live test",
        vendor_name="Bot live test",
        customer_phone="972500000000",
        locale="he",
        success_url="https://bot.example/pay/success",
        cancel_url="https://bot.example/pay/cancelled",
    )
    try:
        sale = await icount.generate_sale(request)
    finally:
        await icount.close()
    assert sale.url.startswith("https://") and sale.uniqid


@pytest.mark.skipif(
    not all(SESSION), reason="ICOUNT_TEST_CID, ICOUNT_TEST_USER and ICOUNT_TEST_PASS are not set"
)
async def test_a_real_session_login_works_and_is_closed() -> None:
    cid, user, password = SESSION
    icount = provider(IcountCredentials(cid=cid, user=user, password=password))
    try:
        info = await icount.company_info()
    finally:
        await icount.close()
    assert info.cid or info.name


@pytest.mark.skipif(not DOCUMENTS, reason="ICOUNT_TEST_DOCUMENTS (a doctype) is not set")
async def test_a_real_document_is_made_once_for_its_sanity_string_then_cancelled() -> None:
    icount = provider()
    request = InvoiceRequest(
        doctype=DOCUMENTS,
        sanity_string=f"bot-live-test-{uuid.uuid4().hex}",
        client_id=None,
        client_name="Bot live test",
        amount=Money(Decimal("1.00"), "ILS"),
        description="Bot live test",
        paid_on=datetime.now(UTC).date(),
        confirmation_code="0000000",
        lang="he",
    )
    try:
        first = await icount.issue_document(request)
        again = await icount.issue_document(request)
        assert (again.doctype, again.docnum) == (first.doctype, first.docnum)
        total = await icount.document_total(first.doctype, first.docnum, "ILS")
        assert total.paid == Money(Decimal("1.00"), "ILS")
        await icount.cancel_document(first.doctype, first.docnum, "bot live test", refund_card=False)
    finally:
        await icount.close()
