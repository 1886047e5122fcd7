"""Customers' payment confirmations by email: the email outbox, its sender and a real SMTP server
(aiosmtpd, started by the tests), on SQLite and on a real Postgres.

Payments are recorded through the use cases (the sandbox provider, or one that goes by Stripe's name so
that its confirmation waits for the invoice), and end to end through the app with the wire-level fake
of iCount: its IPN, its document, a restart between the commit and the send.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_app
from bot.channels.email.sender import EmailSender
from bot.config import Settings, parse_smtp_url
from bot.domain.deposit import AskKind
from bot.domain.email import LEASE, MAX_ATTEMPTS, EmailKind, EmailSettings, EmailStatus, retry_delay
from bot.domain.errors import InvalidEmail
from bot.domain.money import Money
from bot.payments.port import Document, LinkRequest, PaymentEvent, PaymentEventKind, PaymentLink
from bot.payments.sandbox.provider import SandboxProvider
from bot.services import (
    cash as cash_service,
    customers as customer_service,
    orders as order_service,
    payments,
)
from bot.services.context import PaymentDeps
from bot.services.settlement import Outcome, record_invoice, record_payment
from bot.store.repositories.email_outbox import EmailRow
from bot.store.tables import customers, email_outbox
from bot.store.uow import UnitOfWorkFactory
from bot.web.keys import jobs_key, payments_key, tasks_key, uow_key
from tests.conftest import NOW, FrozenClock
from tests.email_support import BOUNCE, BUSY, LocalSmtp
from tests.fakes.icount_api import FakeIcount
from tests.payment_support import BASE_URL, CUSTOMER, OneProviderRegistry, settings_for, vendor_with_order

FROM = "receipts@shop.test"
DANA = "dana@example.com"
INVOICE_WAIT = timedelta(minutes=5)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def smtp() -> AsyncIterator[LocalSmtp]:
    """The SMTP server, not started: each test says when it is up."""
    server = LocalSmtp()
    yield server
    await server.stop()


@pytest.fixture
def email_uow(engine: AsyncEngine) -> UnitOfWorkFactory:
    """The store as `bot serve` opens it with SMTP_URL set: the payment flows queue emails."""
    return UnitOfWorkFactory(engine, EmailSettings(invoice_wait=INVOICE_WAIT))


def sender(uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock) -> EmailSender:
    return EmailSender(uow, parse_smtp_url(smtp.url), FROM, clock, timeout=5)


@dataclass
class Renamed:
    """The sandbox provider under another provider's name: its payments are Stripe's as far as the
    confirmation is concerned (an invoice follows them)."""

    inner: SandboxProvider
    name: str = "stripe"

    async def create_link(self, request: LinkRequest) -> PaymentLink:
        return await self.inner.create_link(request)

    async def deactivate_link(self, provider_link_id: str) -> None:
        await self.inner.deactivate_link(provider_link_id)

    async def close(self) -> None:
        await self.inner.close()


def deps(uow: UnitOfWorkFactory, clock: FrozenClock, provider: str = "sandbox") -> PaymentDeps:
    sandbox = SandboxProvider(BASE_URL)
    chosen = Renamed(sandbox) if provider == "stripe" else sandbox
    return PaymentDeps(uow, OneProviderRegistry(chosen), BASE_URL, clock, retry_delay=0)


def paid(
    transaction_id: uuid.UUID, amount: str, provider: str = "sandbox", reference: str = "pay_1"
) -> PaymentEvent:
    return PaymentEvent(
        provider=provider, event_id=f"evt_{uuid.uuid4().hex}", kind=PaymentEventKind.PAID,
        occurred_at=NOW, transaction_id=transaction_id, reference=reference,
        amount=Money(Decimal(amount), "EUR"), method="card",
    )  # fmt: skip


def invoiced(transaction_id: uuid.UUID, url: str = "https://invoice.stripe.test/i/42") -> PaymentEvent:
    return PaymentEvent(
        provider="stripe", event_id=f"evt_{uuid.uuid4().hex}", kind=PaymentEventKind.INVOICED,
        occurred_at=NOW, transaction_id=transaction_id, document=Document("invoice", "INV-0042", url),
    )  # fmt: skip


async def paid_deposit(
    payment_deps: PaymentDeps, email: str | None = DANA, price: str = "150", amount: str = "45"
) -> uuid.UUID:
    """An order for a customer with ``email``, a deposit asked and paid; the transaction."""
    uow = payment_deps.uow
    number = await vendor_with_order(uow, price=price)
    if email is not None:
        await customer_service.set_customer(uow, None, f"+{CUSTOMER}", [("email", email)], NOW)
    provider = payment_deps.providers.for_vendor(None, None).name  # type: ignore[arg-type]
    request = await payments.request_payment(payment_deps, None, number, AskKind.DEPOSIT, amount)
    outcome = await record_payment(payment_deps, paid(request.transaction.id, amount, provider))
    assert outcome is Outcome.RECORDED
    return request.transaction.id


async def rows(uow: UnitOfWorkFactory) -> list[EmailRow]:
    async with uow() as work:
        ids = (await work.connection.execute(select(email_outbox.c.transaction_id).distinct())).scalars()
        return [row for transaction in list(ids) for row in await work.emails.for_transaction(transaction)]


async def test_a_payment_ends_with_one_email_with_its_amount_sent_to_the_customer_once(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    payment_deps = deps(email_uow, clock)
    transaction_id = await paid_deposit(payment_deps)
    # The provider tells it again (same payment), and once more under another event id: nothing more.
    assert await record_payment(payment_deps, paid(transaction_id, "45")) is Outcome.DUPLICATE
    assert await sender(email_uow, smtp, clock).send_due() == 1
    assert await sender(email_uow, smtp, clock).send_due() == 0
    [message] = smtp.mailbox.messages
    assert smtp.mailbox.recipients == [[DANA]]
    assert message["To"] == DANA
    assert message["From"] == f"Boulangerie <{FROM}>"
    assert message["Subject"] == "Paiement reçu : 45.00 EUR — Boulangerie, commande #1"
    assert message["Message-ID"] == f"<payment_receipt.{transaction_id}@shop.test>"
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = smtp.bodies(message)
    assert "Montant payé : 45.00 EUR" in text and "Reste à payer : 105.00 EUR" in text
    assert "Gâteau" in text and "commande #1" in text
    assert "<strong>" not in text and "45.00 EUR" in html and "105.00 EUR" in html
    assert '<html lang="fr" dir="ltr">' in html
    [row] = await rows(email_uow)
    assert (row.status, row.attempts, row.kind) == (EmailStatus.SENT, 1, EmailKind.PAYMENT_RECEIPT)
    assert row.payload["facts"]["paid"] == "45.00" and row.payload["facts"]["currency"] == "EUR"


async def test_a_confirmation_waits_for_its_invoice_and_goes_once_with_the_link(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    payment_deps = deps(email_uow, clock, provider="stripe")
    transaction_id = await paid_deposit(payment_deps)
    email = sender(email_uow, smtp, clock)
    assert await email.send_due() == 0, "waiting for the invoice"
    clock.advance(timedelta(seconds=20))
    assert await record_invoice(payment_deps, invoiced(transaction_id)) is Outcome.RECORDED
    assert await record_invoice(payment_deps, invoiced(transaction_id)) is Outcome.DUPLICATE
    assert await email.send_due() == 1
    assert await email.send_due() == 0
    [message] = smtp.mailbox.messages
    assert message["Subject"] == "Paiement reçu : 45.00 EUR — Boulangerie, commande #1"
    text, html = smtp.bodies(message)
    assert "Montant payé : 45.00 EUR" in text
    assert "Votre facture n° INV-0042 :\nhttps://invoice.stripe.test/i/42" in text
    assert 'href="https://invoice.stripe.test/i/42"' in html and "INV-0042" in html
    assert [r.kind for r in await rows(email_uow)] == [EmailKind.PAYMENT_RECEIPT]


async def test_an_invoice_later_than_the_wait_follows_the_confirmation_in_one_more_email(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    payment_deps = deps(email_uow, clock, provider="stripe")
    transaction_id = await paid_deposit(payment_deps)
    email = sender(email_uow, smtp, clock)
    clock.advance(INVOICE_WAIT)
    assert await email.send_due() == 1, "the confirmation goes without its invoice"
    assert "INV-0042" not in smtp.bodies(smtp.mailbox.messages[0])[0]
    assert await record_invoice(payment_deps, invoiced(transaction_id)) is Outcome.RECORDED
    assert await email.send_due() == 1
    assert await email.send_due() == 0
    first, second = smtp.mailbox.messages
    assert second["Subject"] == "Votre facture n° INV-0042 — Boulangerie, commande #1"
    text, _html = smtp.bodies(second)
    assert "paiement de 45.00 EUR" in text and "https://invoice.stripe.test/i/42" in text
    assert first["Message-ID"] != second["Message-ID"]


async def test_an_smtp_server_down_keeps_the_email_queued_and_it_is_delivered_once_when_back(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await paid_deposit(deps(email_uow, clock))
    email = sender(email_uow, smtp, clock)
    assert await email.send_due() == 0, "nothing listens"
    [row] = await rows(email_uow)
    assert (row.status, row.attempts) == (EmailStatus.PENDING, 1)
    assert row.next_attempt_at == NOW + retry_delay(1) and row.last_error
    assert await email.send_due() == 0, "not due again yet"
    [row] = await rows(email_uow)
    assert row.attempts == 1
    clock.advance(retry_delay(1))
    assert await email.send_due() == 0, "still down: the next wait is longer"
    [row] = await rows(email_uow)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        EmailStatus.PENDING,
        2,
        clock() + retry_delay(2),
    )
    await smtp.start()
    clock.advance(retry_delay(2))
    assert await email.send_due() == 1
    assert await email.send_due() == 0
    assert len(smtp.mailbox.messages) == 1
    [row] = await rows(email_uow)
    assert (row.status, row.attempts, row.last_error) == (EmailStatus.SENT, 3, None)


async def test_an_email_claimed_by_a_sender_that_died_is_sent_once_after_its_lease(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    await paid_deposit(deps(email_uow, clock))
    async with email_uow() as work:  # a sender claims it, then its process is killed
        assert await work.emails.claim_next(clock()) is not None
        await work.commit()
    email = sender(email_uow, smtp, clock)
    assert await email.send_due() == 0, "another sender holds it"
    clock.advance(LEASE - timedelta(seconds=1))
    assert await email.send_due() == 0, "its lease still runs"
    clock.advance(timedelta(seconds=2))
    assert await email.send_due() == 1
    assert await email.send_due() == 0
    assert len(smtp.mailbox.messages) == 1
    [row] = await rows(email_uow)
    assert (row.status, row.attempts) == (EmailStatus.SENT, 2)


async def test_a_recipient_the_server_refuses_for_good_fails_at_once_with_its_answer(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    await paid_deposit(deps(email_uow, clock), email=f"{BOUNCE}@example.com")
    email = sender(email_uow, smtp, clock)
    assert await email.send_due() == 0
    clock.advance(timedelta(days=1))
    assert await email.send_due() == 0
    [row] = await rows(email_uow)
    assert (row.status, row.attempts) == (EmailStatus.FAILED, 1)
    assert row.last_error is not None and "550" in row.last_error and "No such user" in row.last_error
    assert smtp.mailbox.messages == []


async def test_an_email_the_server_keeps_deferring_is_given_up_after_a_bounded_number_of_attempts(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    await paid_deposit(deps(email_uow, clock), email=f"{BUSY}@example.com")
    email = sender(email_uow, smtp, clock)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await email.send_due() == 0
        [row] = await rows(email_uow)
        assert row.attempts == attempt
        clock.advance(retry_delay(attempt))
    [row] = await rows(email_uow)
    assert row.status is EmailStatus.FAILED
    assert row.last_error is not None and row.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert "451" in row.last_error
    clock.advance(timedelta(days=1))
    assert await email.send_due() == 0
    assert smtp.mailbox.messages == []


async def test_a_cash_payment_at_the_register_is_confirmed_by_email_too(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    payment_deps = deps(email_uow, clock)
    number = await vendor_with_order(email_uow)
    await customer_service.set_customer(email_uow, None, f"+{CUSTOMER}", [("email", DANA)], NOW)
    await cash_service.record_cash_payment(payment_deps, None, number)
    assert await sender(email_uow, smtp, clock).send_due() == 1
    text, _html = smtp.bodies(smtp.mailbox.messages[0])
    assert "Montant payé : 150.00 EUR" in text and "Votre commande est entièrement payée." in text


async def test_a_customer_without_an_email_gets_none(
    email_uow: UnitOfWorkFactory, clock: FrozenClock
) -> None:
    await paid_deposit(deps(email_uow, clock), email=None)
    assert await rows(email_uow) == []


async def test_with_email_off_a_payment_queues_no_email(
    uow_factory: UnitOfWorkFactory, clock: FrozenClock
) -> None:
    await paid_deposit(deps(uow_factory, clock))
    async with uow_factory() as work:
        assert (
            await work.connection.execute(select(func.count()).select_from(email_outbox))
        ).scalar_one() == 0


async def test_an_address_that_does_not_parse_is_refused_where_the_vendor_enters_it(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await vendor_with_order(uow_factory)
    await customer_service.set_customer(uow_factory, None, f"+{CUSTOMER}", [("email", DANA)], NOW)
    for typed in ("dana@", "dana example.com", "dana@@example.com", "dana@example", "a" * 250 + "@x.com"):
        with pytest.raises(InvalidEmail):
            await customer_service.set_customer(uow_factory, None, f"+{CUSTOMER}", [("email", typed)], NOW)
    async with uow_factory() as work:
        stored = (await work.connection.execute(select(customers.c.email))).scalar_one()
    assert stored == DANA


async def test_two_senders_at_once_send_each_email_once(
    email_uow: UnitOfWorkFactory, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    payment_deps = deps(email_uow, clock)
    await paid_deposit(payment_deps)
    for index in range(11):
        order = await order_service.create_order(
            email_uow, None, f"+{CUSTOMER}", "80", f"Tarte {index}", True, NOW
        )
        request = await payments.request_payment(payment_deps, None, order.number, AskKind.FULL)
        await record_payment(payment_deps, paid(request.transaction.id, "80", reference=f"pay_{index + 2}"))
    first, second = sender(email_uow, smtp, clock), sender(email_uow, smtp, clock)
    sent = await asyncio.gather(first.send_due(), second.send_due())
    assert sum(sent) == 12
    ids = [message["Message-ID"] for message in smtp.mailbox.messages]
    assert len(ids) == 12 and len(set(ids)) == 12


# -- end to end through the app, with iCount ----------------------------------------------------------

ISRAELI = "+972501234567"


def icount_settings(database_url: str, fake: FakeIcount, smtp: LocalSmtp | None) -> Settings:
    email: dict[str, Any] = {}
    if smtp is not None:
        email = {"smtp_url": smtp.url, "email_from": f"Pâtisserie Dana <{FROM}>"}
    return settings_for(
        database_url, payment_provider="icount", icount_api_token=fake.token,
        icount_paypage_id=fake.paypage_id, icount_api_base=fake.base_url, secret_key="a long test secret key",
        vendor_name="Boulangerie",
        vendor_admin_phones="+972541112222", vendor_currency="ILS", vendor_locale="en",
        vendor_timezone="Asia/Jerusalem", recovery_seconds=3600, provider_jobs_seconds=3600,
        email_outbox_seconds=3600, **email,
    )  # fmt: skip


async def started(settings: Settings, clock: FrozenClock) -> TestClient:
    """The app on a real port, its start-up passes done (the email job's among them)."""
    client = TestClient(TestServer(create_app(settings, clock=clock)))
    await client.start_server()
    await client.app[jobs_key].started()
    await client.app[tasks_key].drain()
    return client


@pytest.fixture
async def fake(clock: FrozenClock) -> AsyncIterator[FakeIcount]:
    async with FakeIcount(clock=clock) as server:
        yield server


async def pay_deposit_at_icount(client: TestClient, fake: FakeIcount, **extra: str) -> uuid.UUID:
    """An order of 150 ILS, a 30% deposit asked, paid on iCount's page and told by its IPN."""
    payment_deps = client.app[payments_key]
    order = await order_service.create_order(
        payment_deps.uow, None, ISRAELI, "150", "Cake", True, payment_deps.clock()
    )
    request = await payments.request_payment(payment_deps, None, order.number, AskKind.DEPOSIT, "30%")
    async with client.app[uow_key]() as work:
        transaction = await work.transactions.get(request.transaction.id)
        assert transaction is not None and transaction.payment_link_id is not None
        link = await work.links.get(transaction.payment_link_id)
    assert link is not None
    ipn_url, fields = fake.pay(link.provider_link_id)
    response = await client.post(ipn_url.removeprefix(BASE_URL), data={**fields, **extra})
    assert response.status == 200
    await client.app[tasks_key].drain()
    return request.transaction.id


async def test_an_icount_payment_ends_with_exactly_one_email_with_amount_and_invoice_link_across_a_restart(
    database_url: str, engine: AsyncEngine, fake: FakeIcount, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    settings = icount_settings(database_url, fake, smtp)
    first = await started(settings, clock)
    try:
        await customer_service.set_customer(first.app[uow_key], None, ISRAELI, [("email", DANA)], clock())
        transaction_id = await pay_deposit_at_icount(first, fake)
    finally:
        # The process stops right after the payment and its invoice were committed, before any send.
        await first.close()
    assert smtp.mailbox.messages == []
    [(doctype, docnum)] = list(fake.documents)
    invoice_url = fake.documents[(doctype, docnum)]["doc_url"]
    async with UnitOfWorkFactory(engine)() as work:
        [row] = await work.emails.for_transaction(transaction_id)
    assert row.status is EmailStatus.PENDING and row.payload["facts"]["invoice_url"] == invoice_url

    second = await started(settings, clock)  # a new process over the same database
    try:
        assert len(smtp.mailbox.messages) == 1, "sent by the email job's pass at start"
        assert await second.app[jobs_key].run_now("email_outbox") == 0
    finally:
        await second.close()
    [message] = smtp.mailbox.messages
    assert smtp.mailbox.recipients == [[DANA]]
    assert message["From"] == f"Pâtisserie Dana <{FROM}>"
    assert message["Subject"] == "Payment received: ₪45.00 — Boulangerie, order #1"
    text, html = smtp.bodies(message)
    assert "Amount paid: ₪45.00" in text and "Still to pay: ₪105.00" in text
    assert f"Your invoice-receipt no. {docnum}:\n{invoice_url}" in text
    assert f'href="{invoice_url}"' in html and "₪45.00" in html
    async with UnitOfWorkFactory(engine)() as work:
        [row] = await work.emails.for_transaction(transaction_id)
    assert (row.status, row.attempts) == (EmailStatus.SENT, 1)


async def test_the_address_typed_on_the_icount_page_is_kept_for_a_customer_who_had_none(
    database_url: str, engine: AsyncEngine, fake: FakeIcount, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    client = await started(icount_settings(database_url, fake, smtp), clock)
    try:
        await pay_deposit_at_icount(client, fake, customer_email="not an address")
        await pay_deposit_at_icount(client, fake, customer_email="noa@example.co.il")
        await pay_deposit_at_icount(client, fake, customer_email="other@example.com")
        await client.app[jobs_key].run_now("email_outbox")
    finally:
        await client.close()
    async with UnitOfWorkFactory(engine)() as work:
        stored = (await work.connection.execute(select(customers.c.email))).scalar_one()
    assert stored == "noa@example.co.il", "a bad address is not kept, a later one does not replace it"
    assert smtp.mailbox.recipients == [["noa@example.co.il"], ["noa@example.co.il"]]


async def test_with_smtp_url_unset_the_app_has_no_email_job_and_queues_nothing(
    database_url: str, engine: AsyncEngine, fake: FakeIcount, clock: FrozenClock
) -> None:
    client = await started(icount_settings(database_url, fake, None), clock)
    try:
        assert "email_outbox" not in client.app[jobs_key].names
        await customer_service.set_customer(client.app[uow_key], None, ISRAELI, [("email", DANA)], clock())
        await pay_deposit_at_icount(client, fake)
    finally:
        await client.close()
    async with UnitOfWorkFactory(engine)() as work:
        assert (
            await work.connection.execute(select(func.count()).select_from(email_outbox))
        ).scalar_one() == 0


async def test_a_customer_with_no_address_gives_one_on_the_page_after_paying_and_gets_one_email(
    database_url: str, engine: AsyncEngine, fake: FakeIcount, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    await smtp.start()
    client = await started(icount_settings(database_url, fake, smtp), clock)
    try:
        transaction_id = await pay_deposit_at_icount(client, fake)
        page = await client.get("/pay/success", params={"tx": str(transaction_id)})
        assert page.status == 200 and 'action="/pay/success/email"' in await page.text()
        form = {"tx": str(transaction_id), "email": "noa at example"}
        refused = await client.post("/pay/success/email", data=form, allow_redirects=False)
        text = await refused.text()
        assert refused.status == 400 and "does not look right" in text and 'value="noa at example"' in text
        for _ in range(2):  # a second tap, or the page sent again: one address, one email
            form["email"] = " noa@example.co.il "
            kept = await client.post("/pay/success/email", data=form, allow_redirects=False)
            assert kept.status == 303
        assert kept.headers["Location"] == f"/pay/success?tx={transaction_id}&email=already"
        shown = await client.get(kept.headers["Location"])
        text = await shown.text()
        assert "already on file" in text and "/pay/success/email" not in text
        await client.app[jobs_key].run_now("email_outbox")
        someone_else = {"tx": str(transaction_id), "email": "thief@example.com"}
        assert (
            await client.post("/pay/success/email", data=someone_else, allow_redirects=False)
        ).status == 303
        await client.app[jobs_key].run_now("email_outbox")
        bad_tx = await client.post("/pay/success/email", data={"tx": "nope", "email": DANA})
        assert bad_tx.status == 400
    finally:
        await client.close()
    async with UnitOfWorkFactory(engine)() as work:
        stored = (await work.connection.execute(select(customers.c.email))).scalar_one()
    assert stored == "noa@example.co.il", "a later address from the page never replaces the first"
    assert smtp.mailbox.recipients == [["noa@example.co.il"]]
    [message] = smtp.mailbox.messages
    text, _html = smtp.bodies(message)
    assert "Amount paid: ₪45.00" in text


async def test_the_page_after_paying_asks_no_address_with_email_off_or_when_one_is_known(
    database_url: str, fake: FakeIcount, smtp: LocalSmtp, clock: FrozenClock
) -> None:
    client = await started(icount_settings(database_url, fake, None), clock)
    try:
        transaction_id = await pay_deposit_at_icount(client, fake)
        page = await client.get("/pay/success", params={"tx": str(transaction_id)})
        assert "/pay/success/email" not in await page.text()
        form = {"tx": str(transaction_id), "email": DANA}
        answer = await client.post("/pay/success/email", data=form, allow_redirects=False)
        assert answer.headers["Location"].endswith("&email=unavailable")
    finally:
        await client.close()
