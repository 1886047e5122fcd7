"""request_payment, record_payment, cancellation, cash and refunds, on SQLite and a real Postgres."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.domain.deposit import AskKind
from bot.domain.errors import (
    AmountExceedsBalance,
    NoOpenRequest,
    OrderNotPayable,
    PaymentLinkDelayed,
    PaymentLinkFailed,
    RefundExceedsPaid,
)
from bot.domain.money import Money
from bot.domain.order import OrderStatus, PaymentType
from bot.domain.transaction import TransactionStatus, TransactionType
from bot.payments.port import PaymentEvent, PaymentEventKind
from bot.payments.sandbox.provider import SandboxProvider
from bot.services import cash as cash_service, closing, orders as order_service, payments, refunds
from bot.services.events import apply_event
from bot.services.settlement import Outcome, record_payment
from bot.store.tables import outbox_messages, payment_links, payment_transactions, reminders
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.payment_support import (
    ADMIN,
    BASE_URL,
    CUSTOMER,
    FlakyProvider,
    OneProviderRegistry,
    deps_for,
    vendor_with_order,
)


def eur(value: str | int) -> Money:
    return Money(Decimal(value), "EUR")


def paid_event(transaction_id: uuid.UUID, amount: Money, reference: str = "pay_1") -> PaymentEvent:
    return PaymentEvent(
        provider="sandbox",
        event_id=f"evt_{uuid.uuid4().hex}",
        kind=PaymentEventKind.PAID,
        occurred_at=NOW,
        transaction_id=transaction_id,
        reference=reference,
        amount=amount,
        method="card",
    )


async def outbox(uow_factory: UnitOfWorkFactory) -> list[dict[str, object]]:
    async with uow_factory() as uow:
        rows = await uow.connection.execute(select(outbox_messages).order_by(outbox_messages.c.id))
        return [dict(row._mapping) for row in rows]


async def test_a_deposit_request_records_the_transaction_its_link_and_the_customer_message(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    outcome = await payments.request_payment(deps_for(uow_factory), None, number, AskKind.DEPOSIT, "30%")
    assert outcome.transaction.amount == eur(45)
    assert outcome.transaction.type is TransactionType.ACOMPTE
    assert outcome.url.startswith(f"{BASE_URL}/sandbox/checkout/sbx_")
    view = await order_service.show_order(uow_factory, None, number)
    assert view.order.status is OrderStatus.ACCEPTED
    [transaction] = view.transactions
    assert transaction.status is TransactionStatus.PENDING
    assert transaction.payment_link_id is not None
    assert view.links[transaction.payment_link_id].url == outcome.url
    [message] = await outbox(uow_factory)
    assert message["to_phone"] == CUSTOMER
    assert message["kind"] == "payment_request"
    assert message["payload"]["text"] == (  # type: ignore[index]
        "💰 Lien de paiement pour votre acompte\n\n"
        "Montant: 45.00 EUR\n\n"
        "Pour confirmer votre commande, veuillez effectuer le paiement de l'acompte via ce lien sécurisé :\n"
        f"{outcome.url}\n\n"
        "Merci ! 🙏\n"
        "— Boulangerie, commande #1"
    )


async def test_the_default_deposit_follows_the_vendor_setting(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    outcome = await payments.request_payment(deps_for(uow_factory), None, number, AskKind.DEPOSIT)
    assert outcome.transaction.amount == eur(45)


async def test_a_request_that_would_overpay_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    with pytest.raises(AmountExceedsBalance):
        await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "120")
    balance = await payments.request_payment(deps, None, number, AskKind.BALANCE)
    assert balance.transaction.amount == eur(105)
    assert balance.transaction.type is TransactionType.SOLDE


async def test_a_pending_order_cannot_be_asked_to_pay(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory, accept=False)
    with pytest.raises(OrderNotPayable):
        await payments.request_payment(deps_for(uow_factory), None, number, AskKind.FULL)


async def test_a_deposit_paid_leaves_the_order_accepted_and_the_balance_makes_it_paid(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    deposit = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    assert await record_payment(deps, paid_event(deposit.transaction.id, eur(45), "p1")) is Outcome.RECORDED
    view = await order_service.show_order(uow_factory, None, number)
    assert view.order.status is OrderStatus.ACCEPTED and view.order.payment_type is None
    balance = await payments.request_payment(deps, None, number, AskKind.BALANCE)
    assert balance.transaction.amount == eur(105)
    assert await record_payment(deps, paid_event(balance.transaction.id, eur(105), "p2")) is Outcome.RECORDED
    view = await order_service.show_order(uow_factory, None, number)
    assert view.order.status is OrderStatus.PAID
    assert view.order.payment_type is PaymentType.ACOMPTE_SOLDE
    assert all(t.status is TransactionStatus.PAID for t in view.transactions)
    assert not any(link.active for link in view.links.values())
    kinds = [(m["kind"], m["to_phone"]) for m in await outbox(uow_factory)]
    assert kinds.count(("payment_receipt", CUSTOMER)) == 2
    assert kinds.count(("vendor_payment_received", ADMIN)) == 2


async def test_the_same_payment_told_twice_is_counted_once(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    request = await payments.request_payment(deps, None, number, AskKind.FULL)
    event = paid_event(request.transaction.id, eur(150), "p1")
    assert await record_payment(deps, event) is Outcome.RECORDED
    replay = paid_event(request.transaction.id, eur(150), "p1")
    assert await record_payment(deps, replay) is Outcome.DUPLICATE
    receipts = [m for m in await outbox(uow_factory) if m["kind"] == "payment_receipt"]
    assert len(receipts) == 1


async def test_a_second_payment_of_a_paid_request_is_flagged_and_not_counted(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    request = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    await record_payment(deps, paid_event(request.transaction.id, eur(45), "p1"))
    assert await record_payment(deps, paid_event(request.transaction.id, eur(45), "p2")) is Outcome.FLAGGED
    view = await order_service.show_order(uow_factory, None, number)
    ledger = view.ledger
    assert ledger is not None and ledger.paid == eur(45)
    anomalies = [m for m in await outbox(uow_factory) if m["kind"] == "vendor_payment_anomaly"]
    assert len(anomalies) == 1
    assert "déjà payée" in anomalies[0]["payload"]["text"]  # type: ignore[index]


async def test_a_payment_for_a_cancelled_request_is_flagged_and_not_counted(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    request = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    [cancelled] = await closing.cancel_requests(deps, None, number)
    assert cancelled.status is TransactionStatus.CANCELLED
    with pytest.raises(NoOpenRequest):
        await closing.cancel_requests(deps, None, number)
    assert await record_payment(deps, paid_event(request.transaction.id, eur(45))) is Outcome.FLAGGED
    view = await order_service.show_order(uow_factory, None, number)
    assert view.transactions[0].status is TransactionStatus.CANCELLED
    assert not any(link.active for link in view.links.values())


async def test_a_request_plans_its_reminders_and_paying_cancels_them(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    request = await payments.request_payment(deps, None, number, AskKind.FULL)
    async with uow_factory() as uow:
        planned = await uow.reminders.for_transaction(request.transaction.id)
    assert [r.due_at - NOW for r in planned] == [timedelta(days=1), timedelta(days=3), timedelta(days=7)]
    await record_payment(deps, paid_event(request.transaction.id, eur(150)))
    async with uow_factory() as uow:
        statuses = (await uow.connection.execute(select(reminders.c.status))).scalars().all()
    assert statuses == ["cancelled", "cancelled", "cancelled"]


async def test_a_provider_outage_leaves_the_request_for_the_next_start(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    flaky = FlakyProvider(SandboxProvider(BASE_URL), fail_times=3)
    deps = deps_for(uow_factory, OneProviderRegistry(flaky))
    with pytest.raises(PaymentLinkDelayed):
        await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    view = await order_service.show_order(uow_factory, None, number)
    [waiting] = view.transactions
    assert waiting.status is TransactionStatus.PENDING and waiting.payment_link_id is None
    assert await outbox(uow_factory) == []
    assert await payments.complete_unlinked_requests(deps) == 1
    assert await payments.complete_unlinked_requests(deps) == 0
    view = await order_service.show_order(uow_factory, None, number)
    assert view.transactions[0].payment_link_id is not None
    assert {c.idempotency_key for c in flaky.calls} == {f"payment-link-{waiting.id}"}
    assert [m["kind"] for m in await outbox(uow_factory)] == ["payment_request"]


async def test_a_refused_link_cancels_the_request(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    flaky = FlakyProvider(SandboxProvider(BASE_URL), fail_times=1, transient=False)
    deps = deps_for(uow_factory, OneProviderRegistry(flaky))
    with pytest.raises(PaymentLinkFailed):
        await payments.request_payment(deps, None, number, AskKind.FULL)
    async with uow_factory() as uow:
        row = (await uow.connection.execute(select(payment_transactions))).one()
    assert row.status == "cancelled" and "unavailable" in row.failure_reason
    assert len(flaky.calls) == 1


async def test_completing_a_request_twice_makes_one_link_and_one_message(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    outcome = await payments.request_payment(deps, None, number, AskKind.FULL)
    provider = SandboxProvider(BASE_URL)
    again = await payments._link_and_message(deps, provider, outcome.transaction.id)
    assert again == outcome.url
    async with uow_factory() as uow:
        links = (await uow.connection.execute(select(func.count()).select_from(payment_links))).scalar()
    assert links == 1
    assert len(await outbox(uow_factory)) == 1


async def test_cash_at_the_register_settles_the_order(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    cash = await cash_service.record_cash_payment(deps, None, number, "50")
    order, transaction, ledger = cash.order, cash.transaction, cash.ledger
    assert transaction.payment_method == "cash_register" and transaction.status is TransactionStatus.PAID
    assert order.status is OrderStatus.ACCEPTED and ledger.balance == eur(100)
    cash = await cash_service.record_cash_payment(deps, None, number)
    order, transaction, ledger = cash.order, cash.transaction, cash.ledger
    assert transaction.amount == eur(100) and transaction.type is TransactionType.SOLDE
    assert order.status is OrderStatus.PAID and order.payment_type is PaymentType.ACOMPTE_SOLDE


async def test_a_refund_reopens_the_order_and_tells_the_customer(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    request = await payments.request_payment(deps, None, number, AskKind.FULL)
    await record_payment(deps, paid_event(request.transaction.id, eur(150)))
    outcome = await refunds.refund(deps, None, number)
    assert [r.transaction_id for r in outcome.refunds] == [request.transaction.id]
    view = await order_service.show_order(uow_factory, None, number)
    assert view.transactions[0].status is TransactionStatus.REFUNDED
    assert view.order.status is OrderStatus.ACCEPTED and view.order.payment_type is None
    assert "payment_refunded" in [m["kind"] for m in await outbox(uow_factory)]
    replay = PaymentEvent(
        provider="sandbox",
        event_id="evt_refund",
        kind=PaymentEventKind.REFUNDED,
        occurred_at=NOW,
        transaction_id=request.transaction.id,
        refunded_amount=eur(150),
    )
    assert await apply_event(deps, replay) is Outcome.DUPLICATE


async def test_cash_and_sandbox_payments_are_refunded_in_part_the_latest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    clock = FrozenClock()
    deps = deps_for(uow_factory, clock=clock)
    deposit = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    await record_payment(deps, paid_event(deposit.transaction.id, eur(45)))
    clock.advance(timedelta(days=2))
    cash = (await cash_service.record_cash_payment(deps, None, number)).transaction
    assert (await order_service.show_order(uow_factory, None, number)).order.status is OrderStatus.PAID
    preview = await refunds.preview(deps, None, number, "120")
    assert [(t.id, share) for t, share in preview.plan.parts] == [
        (cash.id, eur(105)),
        (deposit.transaction.id, eur(15)),
    ]
    assert (preview.paid, preview.refunded, preview.available) == (eur(150), eur(0), eur(150))
    outcome = await refunds.refund(deps, None, number, "120")
    assert outcome.amount == eur(120) and outcome.ledger.paid == eur(30)
    view = await order_service.show_order(uow_factory, None, number)
    statuses = {t.id: t.status for t in view.transactions}
    assert statuses[cash.id] is TransactionStatus.REFUNDED
    assert statuses[deposit.transaction.id] is TransactionStatus.PARTIALLY_REFUNDED
    assert view.order.status is OrderStatus.ACCEPTED
    sent = await outbox(uow_factory)
    refund_texts = [str(m["payload"]["text"]) for m in sent if m["kind"] == "payment_refunded"]  # type: ignore[index]
    assert len(refund_texts) == 2 and any("espèces" in text for text in refund_texts)
    with pytest.raises(RefundExceedsPaid) as refused:
        await refunds.refund(deps, None, number, "31")
    assert refused.value.params["available"] == eur(30)


async def test_deposit_and_balance_paid_at_the_same_moment_settle_the_order_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    deposit = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    balance = await payments.request_payment(deps, None, number, AskKind.BALANCE)
    outcomes = await asyncio.gather(
        record_payment(deps, paid_event(deposit.transaction.id, eur(45), "p1")),
        record_payment(deps, paid_event(balance.transaction.id, eur(105), "p2")),
    )
    assert outcomes == [Outcome.RECORDED, Outcome.RECORDED]
    view = await order_service.show_order(uow_factory, None, number)
    assert view.order.status is OrderStatus.PAID
    assert view.order.payment_type is PaymentType.ACOMPTE_SOLDE
    assert [t.status for t in view.transactions] == [TransactionStatus.PAID, TransactionStatus.PAID]
