"""Card guarantees, saved cards and phone payments through the services, on SQLite and a real Postgres,
with the sandbox provider (the Stripe and iCount wire fakes are in test_cards_at_providers.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.domain.card_token import ConsentSource
from bot.domain.deposit import AskKind, Ledger
from bot.domain.errors import (
    CaptureExceedsHold,
    ChargePending,
    GuaranteeAlreadyActive,
    GuaranteesOff,
    HoldNotActive,
    NoGuarantee,
    NoOpenRequest,
    NoSavedCard,
)
from bot.domain.money import Money
from bot.domain.order import OrderStatus
from bot.domain.transaction import TransactionStatus
from bot.payments.cards import ChargeAttempt, ChargeStatus
from bot.payments.port import PaymentEvent, PaymentEventKind, SavedCard
from bot.payments.sandbox.consts import CARD_TOKEN, THREE_DS_CARD
from bot.payments.sandbox.provider import SandboxProvider
from bot.services import (
    cash as cash_service,
    closing,
    guarantee_sweep,
    guarantees,
    orders as order_service,
    payments,
    phone_payments,
    saved_cards,
    vendors as vendor_service,
)
from bot.services.context import PaymentDeps
from bot.services.events import apply_event
from bot.services.phone_payments import PhoneLinkProblem
from bot.services.settlement import Outcome
from bot.store.tables import outbox_messages
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.payment_support import CUSTOMER, deps_for, vendor_with_order


def eur(value: str | int) -> Money:
    return Money(Decimal(value), "EUR")


async def cards_on(uow: UnitOfWorkFactory, *pairs: tuple[str, str]) -> None:
    settings = [("guarantee_mode", "optional"), ("saved_cards", "on"), *pairs]
    await vendor_service.change_settings(uow, None, settings, None, NOW)


def sandbox_event(
    kind: PaymentEventKind, transaction_id: uuid.UUID, amount: Money, card: SavedCard | None = None
) -> PaymentEvent:
    return PaymentEvent(
        provider="sandbox", event_id=f"evt_{uuid.uuid4().hex}", kind=kind, occurred_at=NOW,
        transaction_id=transaction_id, reference=f"sbx_{uuid.uuid4().hex[:8]}", amount=amount, method="card",
        saved_card=card,
    )  # fmt: skip


async def held_guarantee(deps: PaymentDeps, number: int, amount: str = "50") -> uuid.UUID:
    outcome = await guarantees.request_guarantee(deps, None, number, amount)
    held = sandbox_event(PaymentEventKind.HELD, outcome.transaction.id, outcome.transaction.amount)
    assert await apply_event(deps, held) is Outcome.RECORDED
    return outcome.transaction.id


async def kinds(uow: UnitOfWorkFactory) -> list[str]:
    async with uow() as unit:
        rows = await unit.connection.execute(select(outbox_messages.c.kind).order_by(outbox_messages.c.id))
        return [row.kind for row in rows]


async def test_a_guarantee_of_50_is_held_20_captured_as_a_payment_and_the_rest_released(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    guarantee_id = await held_guarantee(deps, number)
    async with uow_factory() as uow:
        guarantee = await uow.transactions.get(guarantee_id)
    assert guarantee is not None and guarantee.status is TransactionStatus.HELD
    assert guarantee.held == eur(50) and guarantee.release_at == NOW + timedelta(days=7)
    assert "guarantee_held" in await kinds(uow_factory)
    preview = await guarantees.preview_capture(deps, None, number, "20")
    assert preview.amount == eur(20)
    outcome = await guarantees.capture_guarantee(deps, None, number, "20")
    assert outcome.payment.status is TransactionStatus.PAID and outcome.payment.amount == eur(20)
    assert outcome.payment.guarantee_id == guarantee_id
    assert outcome.ledger.paid == eur(20) and outcome.ledger.balance == eur(130)
    async with uow_factory() as uow:
        captured = await uow.transactions.get(guarantee_id)
    assert captured is not None and captured.status is TransactionStatus.CAPTURED
    assert captured.captured == eur(20) and captured.held == eur(50)
    with pytest.raises(NoGuarantee):
        await guarantees.capture_guarantee(deps, None, number, "10")


async def test_a_guarantee_never_counts_as_paid_or_pending_until_captured(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    asked = await guarantees.request_guarantee(deps, None, number, "150")
    async with uow_factory() as uow:
        ledger = Ledger.of(eur(150), await uow.transactions.for_order(asked.order.id))
    assert ledger.pending.is_zero() and ledger.paid.is_zero()
    # The whole price can still be asked: a guarantee is not money owed.
    full = await payments.request_payment(deps, None, number, AskKind.FULL)
    assert full.transaction.amount == eur(150)
    await apply_event(deps, sandbox_event(PaymentEventKind.HELD, asked.transaction.id, eur(150)))
    async with uow_factory() as uow:
        ledger = Ledger.of(eur(150), await uow.transactions.for_order(asked.order.id))
    assert ledger.paid.is_zero()


async def test_capturing_more_than_the_hold_or_a_released_hold_is_refused_before_the_provider(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    asked = await guarantees.request_guarantee(deps, None, number, "50")
    with pytest.raises(HoldNotActive):
        await guarantees.capture_guarantee(deps, None, number, "10")
    await apply_event(deps, sandbox_event(PaymentEventKind.HELD, asked.transaction.id, eur(50)))
    with pytest.raises(CaptureExceedsHold):
        await guarantees.capture_guarantee(deps, None, number, "60")
    released = await guarantees.release_guarantee(deps, None, number)
    assert released.status is TransactionStatus.RELEASED
    with pytest.raises(NoGuarantee):
        await guarantees.capture_guarantee(deps, None, number, "10")
    assert (await kinds(uow_factory)).count("guarantee_released") == 1


async def test_guarantees_are_refused_when_the_vendor_turned_them_off_and_one_at_a_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    with pytest.raises(GuaranteesOff):
        await guarantees.request_guarantee(deps, None, number, "50")
    await cards_on(uow_factory)
    await guarantees.request_guarantee(deps, None, number, "50")
    with pytest.raises(GuaranteeAlreadyActive):
        await guarantees.request_guarantee(deps, None, number, "50")


async def test_a_cash_payment_that_covers_the_order_releases_its_guarantee(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    guarantee_id = await held_guarantee(deps, number)
    cash = await cash_service.record_cash_payment(deps, None, number)
    assert cash.ledger.is_covered and cash.order.status is OrderStatus.PAID
    async with uow_factory() as uow:
        guarantee = await uow.transactions.get(guarantee_id)
    assert guarantee is not None and guarantee.status is TransactionStatus.RELEASED
    assert "vendor_guarantee_released" in await kinds(uow_factory)


async def test_a_hold_is_released_after_the_release_days_with_a_warning_the_day_before_it_lapses(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory, ("guarantee_release_days", "7"))
    clock = FrozenClock()
    deps = deps_for(uow_factory, clock=clock)
    guarantee_id = await held_guarantee(deps, number)
    assert await guarantee_sweep.sweep_guarantees(deps) == 0
    clock.advance(timedelta(days=5, hours=23))
    assert await guarantee_sweep.sweep_guarantees(deps) == 0
    clock.advance(timedelta(hours=2))
    assert await guarantee_sweep.sweep_guarantees(deps) == 1
    assert (await kinds(uow_factory)).count("vendor_guarantee_lapsing") == 1
    assert await guarantee_sweep.sweep_guarantees(deps) == 0, "warned once"
    clock.advance(timedelta(days=1))
    assert await guarantee_sweep.sweep_guarantees(deps) == 1
    async with uow_factory() as uow:
        guarantee = await uow.transactions.get(guarantee_id)
    assert guarantee is not None and guarantee.status is TransactionStatus.RELEASED
    assert (await kinds(uow_factory)).count("guarantee_released") == 1


async def test_a_guarantee_of_a_completed_order_is_released_by_the_job(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    guarantee_id = await held_guarantee(deps, number)
    async with uow_factory() as uow:
        order = await uow.orders.by_number((await uow.vendors.all())[0].id, number, for_update=True)
        assert order is not None
        order.status = OrderStatus.CANCELLED
        await uow.orders.update(order)
        await uow.commit()
    assert await guarantee_sweep.sweep_guarantees(deps) == 1
    async with uow_factory() as uow:
        guarantee = await uow.transactions.get(guarantee_id)
    assert guarantee is not None and guarantee.status is TransactionStatus.RELEASED


def visa(token: str = f"{CARD_TOKEN}abc") -> SavedCard:
    return SavedCard(token=token, brand="visa", last4="4242", exp_month=12, exp_year=2029)


async def paid_with_saved_card(deps: PaymentDeps, number: int, card: SavedCard) -> None:
    deposit = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "50")
    paid = sandbox_event(PaymentEventKind.PAID, deposit.transaction.id, eur(50), card)
    assert await apply_event(deps, paid) is Outcome.RECORDED


async def test_a_saved_card_is_kept_with_consent_and_charged_for_the_balance_with_no_link(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    await paid_with_saved_card(deps, number, visa())
    _customer, cards = await saved_cards.customer_cards(deps, None, f"+{CUSTOMER}")
    [card] = cards
    assert card.label == "Visa •••• 4242 (12/29)" and card.consent_source is ConsentSource.CHECKOUT
    outcome = await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    assert outcome.link_url is None and outcome.transaction.status is TransactionStatus.PAID
    assert outcome.transaction.amount == eur(100) and outcome.transaction.card_token_id == card.id
    assert outcome.ledger is not None and outcome.ledger.is_covered
    assert outcome.order.status is OrderStatus.PAID


async def test_a_card_is_not_kept_when_the_vendor_does_not_offer_saving(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    deps = deps_for(uow_factory)
    await paid_with_saved_card(deps, number, visa())
    _customer, cards = await saved_cards.customer_cards(deps, None, f"+{CUSTOMER}")
    assert cards == []
    with pytest.raises(NoSavedCard):
        await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)


async def test_a_card_whose_bank_asks_for_authentication_gets_the_customer_a_normal_link(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    await paid_with_saved_card(deps, number, visa(f"{THREE_DS_CARD}abc"))
    outcome = await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    assert outcome.link_url is not None and "/sandbox/checkout/" in outcome.link_url
    assert outcome.transaction.status is TransactionStatus.PENDING
    assert (await kinds(uow_factory)).count("payment_request") == 2


async def test_a_forgotten_card_can_never_be_charged(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    await paid_with_saved_card(deps, number, visa())
    [forgotten] = await saved_cards.forget_cards(deps, None, f"+{CUSTOMER}")
    with pytest.raises(NoSavedCard):
        await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    async with uow_factory() as uow:
        card = await uow.cards.get(forgotten.id)
    assert card is not None and card.forgotten_at == NOW and card.deleted_at_provider == NOW
    # The same card told again by a late event stays forgotten.
    await paid_with_saved_card(deps, await vendor_order(uow_factory), visa())
    _customer, cards = await saved_cards.customer_cards(deps, None, f"+{CUSTOMER}")
    assert cards == []


async def vendor_order(uow: UnitOfWorkFactory) -> int:
    order = await order_service.create_order(uow, None, f"+{CUSTOMER}", "80", "Tarte", True, NOW)
    return order.number


async def test_a_phone_link_works_once_and_expires(uow_factory: UnitOfWorkFactory) -> None:
    number = await vendor_with_order(uow_factory)
    clock = FrozenClock()
    deps = deps_for(uow_factory, clock=clock)
    made = await phone_payments.create_phone_link(deps, None, number, AskKind.DEPOSIT, "50", save_card=True)
    assert made.expires_at == NOW + timedelta(minutes=15)
    token = made.url.rsplit("/", 1)[-1]
    opened = await phone_payments.open_phone_link(deps, token)
    assert isinstance(opened, str) and "/sandbox/checkout/" in opened
    assert await phone_payments.open_phone_link(deps, token) is PhoneLinkProblem.USED
    late = await phone_payments.create_phone_link(deps, None, number, AskKind.DEPOSIT, "20")
    clock.advance(timedelta(minutes=16))
    assert await phone_payments.open_phone_link(deps, late.url.rsplit("/", 1)[-1]) is PhoneLinkProblem.EXPIRED
    assert await phone_payments.open_phone_link(deps, "x" * 32) is PhoneLinkProblem.UNKNOWN
    # A phone payment never sends the customer a message, and is not "completed" by the recovery.
    assert "payment_request" not in await kinds(uow_factory)
    assert await payments.complete_unlinked_requests(deps) == 0
    clock.advance(timedelta(hours=3))
    assert await phone_payments.close_stale_phone_payments(deps) == 2


def unanswered(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """The sandbox's ``method`` gets no answer (a timeout): the charge may or may not have been made."""

    async def lost(*_args: object) -> ChargeAttempt:
        return ChargeAttempt(ChargeStatus.UNKNOWN, reason="timeout")

    monkeypatch.setattr(SandboxProvider, method, lost)


async def test_a_hold_is_never_let_go_while_its_capture_has_no_answer_and_a_late_capture_still_counts(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    guarantee_id = await held_guarantee(deps, number)
    unanswered(monkeypatch, "capture_hold")
    with pytest.raises(ChargePending):
        await guarantees.capture_guarantee(deps, None, number, "20")
    with pytest.raises(ChargePending):
        await guarantees.release(deps, guarantee_id, "completed")
    assert not await guarantees.record_release(deps, guarantee_id, "completed", lapsed=False)
    async with uow_factory() as uow:
        guarantee = await uow.transactions.get(guarantee_id)
        [payment] = [t for t in await uow.transactions.for_order(guarantee.commande_id) if t.guarantee_id]
        # The provider's own lapse is recorded meanwhile (its capture's answer is still missing).
        guarantee.lapse(NOW)
        await uow.transactions.update(guarantee)
        await uow.commit()
    assert payment.is_charge_in_flight
    late = ChargeAttempt(ChargeStatus.SUCCEEDED, "sbx_cap_late", amount=eur(20))
    outcome = await guarantees.apply_capture(deps, payment.id, late)
    assert outcome.payment.status is TransactionStatus.PAID and outcome.ledger.paid == eur(20)
    async with uow_factory() as uow:
        captured = await uow.transactions.get(guarantee_id)
    assert captured is not None and captured.status is TransactionStatus.CAPTURED
    assert captured.captured == eur(20)


async def test_a_saved_card_charge_without_an_answer_blocks_cash_a_second_charge_and_is_never_cancelled(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = await vendor_with_order(uow_factory)
    await cards_on(uow_factory)
    deps = deps_for(uow_factory)
    await paid_with_saved_card(deps, number, visa())
    unanswered(monkeypatch, "charge_saved_card")
    with pytest.raises(ChargePending):
        await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    with pytest.raises(ChargePending):
        await saved_cards.charge_saved_card(deps, None, number, AskKind.BALANCE)
    with pytest.raises(ChargePending):
        await cash_service.record_cash_payment(deps, None, number)
    with pytest.raises(NoOpenRequest):
        await closing.cancel_requests(deps, None, number)
    async with uow_factory() as uow:
        order = await uow.orders.by_number((await uow.vendors.all())[0].id, number)
        assert order is not None
        in_flight = [t for t in await uow.transactions.for_order(order.id) if t.is_charge_in_flight]
    assert len(in_flight) == 1 and in_flight[0].status is TransactionStatus.PENDING


async def test_a_guarantee_s_card_is_kept_for_later_only_when_the_customer_ticked_save_on_its_page(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    await vendor_service.change_settings(uow_factory, None, [("guarantee_mode", "optional")], None, NOW)
    deps = deps_for(uow_factory)
    asked = await guarantees.request_guarantee(deps, None, number, "50")
    held = sandbox_event(PaymentEventKind.HELD, asked.transaction.id, eur(50), visa())
    assert await apply_event(deps, held) is Outcome.RECORDED
    async with uow_factory() as uow:
        guarantee = await uow.transactions.get(asked.transaction.id)
        assert guarantee is not None and guarantee.card_token_id is not None
        card = await uow.cards.get(guarantee.card_token_id)
    assert card is not None and card.consent_source is ConsentSource.GUARANTEE and not card.usable
    # Saving offered and the box ticked on the page (the sandbox sends the card only then): kept for later.
    await cards_on(uow_factory)
    other = await vendor_order(uow_factory)
    second = await guarantees.request_guarantee(deps, None, other, "50")
    ticked = sandbox_event(PaymentEventKind.HELD, second.transaction.id, eur(50), visa(f"{CARD_TOKEN}xyz"))
    assert await apply_event(deps, ticked) is Outcome.RECORDED
    _customer, usable = await saved_cards.customer_cards(deps, None, f"+{CUSTOMER}")
    assert [c.consent_source for c in usable] == [ConsentSource.CHECKOUT]
