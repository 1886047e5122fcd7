"""The dashboard's read models (bot/services/dashboard.py): the orders list, the home page's figures and
the order page, on SQLite and a real Postgres, with data made by the services the chat uses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from bot.domain.deposit import AskKind, DepositMode
from bot.domain.errors import OrderNotFound
from bot.domain.money import Money, Percent
from bot.domain.order import OrderStatus
from bot.domain.transaction import TransactionStatus
from bot.domain.vendor import Vendor
from bot.payments.port import PaymentEvent, PaymentEventKind, SavedCard
from bot.payments.sandbox.consts import CARD_TOKEN
from bot.services import (
    cash as cash_service,
    customers,
    dashboard,
    guarantees,
    orders as order_service,
    payments,
    refunds,
    saved_cards,
    vendors as vendor_service,
)
from bot.services.context import PaymentDeps
from bot.services.dashboard import PaymentMethod, QuickPick
from bot.services.events import apply_event
from bot.services.settlement import Outcome
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.payment_support import deps_for

DANA = "+33 6 99 88 77 66"
NOA = "+972 50 123 4567"
SAM = "+44 7700 900123"


def eur(value: str | int) -> Money:
    return Money(Decimal(value), "EUR")


def ils(value: str | int) -> Money:
    return Money(Decimal(value), "ILS")


async def shop(
    uow: UnitOfWorkFactory, name: str = "Boulangerie", admin: str = "+33612345678", **settings: str
) -> Vendor:
    new = vendor_service.NewVendor(
        name=name,
        admin_phones=[admin],
        currency=settings.pop("currency", "EUR"),
        timezone=settings.pop("timezone", "Europe/Paris"),
    )
    vendor = (await vendor_service.add_vendor(uow, new, NOW)).vendor
    if settings:
        vendor = (await vendor_service.change_settings(uow, vendor, list(settings.items()), None, NOW)).vendor
    return vendor


async def order(
    uow: UnitOfWorkFactory,
    vendor: Vendor,
    phone: str = DANA,
    price: str | None = "150",
    label: str = "Gâteau",
    *,
    accept: bool = True,
    now: datetime = NOW,
) -> int:
    return (await order_service.create_order(uow, vendor, phone, price, label, accept, now)).number


def card_event(transaction_id: uuid.UUID, amount: Money, card: SavedCard | None = None) -> PaymentEvent:
    return PaymentEvent(
        provider="sandbox", event_id=f"evt_{uuid.uuid4().hex}", kind=PaymentEventKind.PAID, occurred_at=NOW,
        transaction_id=transaction_id, reference=f"sbx_{uuid.uuid4().hex[:8]}", amount=amount, method="card",
        saved_card=card,
    )  # fmt: skip


async def pay_by_card(
    deps: PaymentDeps, vendor: Vendor, number: int, ask: AskKind, typed: str | None = None
) -> uuid.UUID:
    request = await payments.request_payment(deps, vendor, number, ask, typed)
    assert (
        await apply_event(deps, card_event(request.transaction.id, request.transaction.amount))
        is Outcome.RECORDED
    )
    return request.transaction.id


async def hold(deps: PaymentDeps, vendor: Vendor, number: int, amount: str = "50") -> uuid.UUID:
    asked = await guarantees.request_guarantee(deps, vendor, number, amount)
    held = PaymentEvent(
        provider="sandbox", event_id=f"evt_{uuid.uuid4().hex}", kind=PaymentEventKind.HELD, occurred_at=NOW,
        transaction_id=asked.transaction.id, reference=f"sbx_{uuid.uuid4().hex[:8]}",
        amount=asked.transaction.amount, method="card",
    )  # fmt: skip
    assert await apply_event(deps, held) is Outcome.RECORDED
    return asked.transaction.id


async def numbers(uow: UnitOfWorkFactory, vendor: Vendor, **query: Any) -> list[int]:
    page = await dashboard.list_orders(uow, vendor, **query)
    return [row.number for row in page.rows]


@contextmanager
def statements(uow: UnitOfWorkFactory) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = uow.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


# The orders list


async def test_orders_are_listed_newest_first_with_their_customer_price_paid_and_balance(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory)
    clock = FrozenClock()
    first = await order(uow_factory, vendor, DANA, "150", "Gâteau", now=clock.now)
    second = await order(
        uow_factory, vendor, NOA, None, "Devis", accept=False, now=clock.advance(timedelta(hours=1))
    )
    third = await order(uow_factory, vendor, SAM, "80", "Tarte", now=clock.advance(timedelta(hours=1)))
    await customers.set_customer(uow_factory, vendor, DANA, [("name", "Dana Levi")], NOW)
    deps = deps_for(uow_factory, clock=clock)
    await cash_service.record_cash_payment(deps, vendor, first, "50")
    page = await dashboard.list_orders(uow_factory, vendor)
    assert [row.number for row in page.rows] == [third, second, first]
    assert (page.total, page.pages, page.page, page.has_previous, page.has_next) == (3, 1, 1, False, False)
    newest, quote, oldest = page.rows
    assert (oldest.reference, oldest.status, oldest.label) == (f"#{first}", OrderStatus.ACCEPTED, "Gâteau")
    assert (oldest.customer_phone, oldest.customer_name) == ("33699887766", "Dana Levi")
    assert (oldest.price, oldest.paid, oldest.balance) == (eur(150), eur(50), eur(100))
    assert oldest.created_at == NOW and oldest.created_at.tzinfo is not None
    assert (quote.status, quote.price, quote.balance, quote.paid) == (OrderStatus.PENDING, None, None, eur(0))
    assert (newest.paid, newest.balance, newest.open_requests) == (eur(0), eur(80), eur(0))


async def test_an_order_is_found_by_its_number_written_12_or_hash_12(uow_factory: UnitOfWorkFactory) -> None:
    vendor = await shop(uow_factory)
    for _ in range(12):
        await order(uow_factory, vendor, DANA)
    assert await numbers(uow_factory, vendor, search="12") == [12]
    assert await numbers(uow_factory, vendor, search="#12") == [12]
    assert await numbers(uow_factory, vendor, search=" # 3 ") == [3]
    assert await numbers(uow_factory, vendor, search="#13") == []
    assert await numbers(uow_factory, vendor, search="99999999999999999999") == []


@pytest.mark.parametrize(
    "typed",
    ["+33 6 99 88 77 66", "+33699887766", "0033699887766", "33699887766", "06 99 88 77 66", "06-99-88-77-66",
     "887766", "99 88 77", "(699) 887"],
)  # fmt: skip
async def test_a_customer_is_found_by_their_phone_written_any_way_or_some_of_its_digits(
    uow_factory: UnitOfWorkFactory, typed: str
) -> None:
    vendor = await shop(uow_factory)
    dana = await order(uow_factory, vendor, DANA)
    await order(uow_factory, vendor, NOA)
    await order(uow_factory, vendor, SAM)
    assert await numbers(uow_factory, vendor, search=typed) == [dana]


async def test_a_few_digits_find_the_order_number_and_not_every_phone_that_contains_them(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory)
    await order(uow_factory, vendor, DANA)
    noa = await order(uow_factory, vendor, NOA)
    # 12 is in Noa's and Sam's phones, but it is order #12 the vendor means (there is none).
    await order(uow_factory, vendor, SAM)
    assert await numbers(uow_factory, vendor, search="12") == []
    assert await numbers(uow_factory, vendor, search="123") == []
    assert await numbers(uow_factory, vendor, search="1234") == [noa]
    assert await numbers(uow_factory, vendor, search="050-123-4567") == [noa]


async def test_a_customer_is_found_by_name_and_an_order_by_its_label_whatever_the_case(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory)
    cake = await order(uow_factory, vendor, SAM, label="Birthday CAKE")
    dana = await order(uow_factory, vendor, DANA, label="Pièce montée")
    chocolate = await order(uow_factory, vendor, NOA, label="Tarte 100% chocolat")
    await customers.set_customer(uow_factory, vendor, DANA, [("name", "Dana Levi")], NOW)
    assert await numbers(uow_factory, vendor, search="dana") == [dana]
    assert await numbers(uow_factory, vendor, search="LEVI") == [dana]
    assert await numbers(uow_factory, vendor, search="cake") == [cake]
    assert await numbers(uow_factory, vendor, search="Pièce") == [dana]
    assert await numbers(uow_factory, vendor, search="t") == [chocolate, dana, cake]
    # LIKE's wildcards are taken as they are typed.
    assert await numbers(uow_factory, vendor, search="%") == [chocolate]
    assert await numbers(uow_factory, vendor, search="_") == []
    assert await numbers(uow_factory, vendor, search="nobody") == []
    page = await dashboard.list_orders(uow_factory, vendor, search="   ")
    assert page.search is None and page.total == 3


async def test_the_status_filter_keeps_that_status_and_works_with_the_search(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory)
    deps = deps_for(uow_factory)
    paid = await order(uow_factory, vendor, DANA)
    await cash_service.record_cash_payment(deps, vendor, paid)
    accepted = await order(uow_factory, vendor, DANA)
    pending = await order(uow_factory, vendor, NOA, accept=False)
    assert await numbers(uow_factory, vendor, status=OrderStatus.PAID) == [paid]
    assert await numbers(uow_factory, vendor, status=OrderStatus.ACCEPTED) == [accepted]
    assert await numbers(uow_factory, vendor, status=OrderStatus.PENDING) == [pending]
    assert await numbers(uow_factory, vendor, status=OrderStatus.CANCELLED) == []
    assert await numbers(uow_factory, vendor, status=OrderStatus.ACCEPTED, search="887766") == [accepted]
    assert await numbers(uow_factory, vendor, status=OrderStatus.PENDING, search="887766") == []
    page = await dashboard.list_orders(uow_factory, vendor, status=OrderStatus.PAID)
    assert page.status is OrderStatus.PAID and page.total == 1


async def test_pages_are_bounded_and_a_page_past_the_end_is_empty_not_an_error(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory)
    empty = await dashboard.list_orders(uow_factory, vendor)
    assert (empty.rows, empty.total, empty.pages, empty.has_next) == ((), 0, 1, False)
    for _ in range(5):
        await order(uow_factory, vendor)
    pages = [await dashboard.list_orders(uow_factory, vendor, page=n, per_page=2) for n in (1, 2, 3)]
    assert [[row.number for row in p.rows] for p in pages] == [[5, 4], [3, 2], [1]]
    assert [(p.total, p.pages, p.has_previous, p.has_next) for p in pages] == [
        (5, 3, False, True), (5, 3, True, True), (5, 3, True, False),
    ]  # fmt: skip
    past = await dashboard.list_orders(uow_factory, vendor, page=4, per_page=2)
    assert (past.rows, past.page, past.pages, past.total, past.has_next) == ((), 4, 3, 5, False)
    first = await dashboard.list_orders(uow_factory, vendor, page=0, per_page=0)
    assert (first.page, first.per_page, [row.number for row in first.rows]) == (1, 1, [5])
    huge = await dashboard.list_orders(uow_factory, vendor, per_page=10_000)
    assert huge.per_page == dashboard.MAX_PER_PAGE and huge.total == 5


async def test_paid_and_balance_are_net_of_refunds_and_a_held_guarantee_counts_for_neither(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory, guarantee_mode="optional")
    clock = FrozenClock()
    deps = deps_for(uow_factory, clock=clock)
    number = await order(uow_factory, vendor)
    await pay_by_card(deps, vendor, number, AskKind.DEPOSIT, "45")
    clock.advance(timedelta(minutes=5))
    await cash_service.record_cash_payment(deps, vendor, number, "20")
    clock.advance(timedelta(minutes=5))
    await refunds.refund(deps, vendor, number, "20")  # the latest first: the cash
    await hold(deps, vendor, number, "50")
    await payments.request_payment(deps, vendor, number, AskKind.DEPOSIT, "30")
    [row] = (await dashboard.list_orders(uow_factory, vendor)).rows
    assert (row.paid, row.refunded, row.balance) == (eur(45), eur(20), eur(105))
    assert (row.open_requests, row.guarantee_held) == (eur(30), eur(50))
    stats = await dashboard.home(uow_factory, vendor, clock.now)
    assert (stats.collected_today, stats.collected_month) == (eur(45), eur(45))
    assert (stats.open_requests, stats.open_requests_total) == (1, eur(30))
    assert (stats.guarantees_held, stats.guarantees_held_total) == (1, eur(50))
    assert (stats.unpaid_orders, stats.unpaid_balances) == (1, eur(105))


async def test_a_page_of_20_orders_takes_three_statements_however_many_payments_they_have(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory)
    deps = deps_for(uow_factory)
    for index in range(25):
        number = await order(uow_factory, vendor, DANA if index % 2 else NOA)
        if index % 3 == 0:
            await cash_service.record_cash_payment(deps, vendor, number, "20")
        if index % 4 == 0:
            await payments.request_payment(deps, vendor, number, AskKind.DEPOSIT, "30")
    with statements(uow_factory) as sent:
        page = await dashboard.list_orders(uow_factory, vendor, search="33 6 99", page=1)
    assert len(page.rows) == 12
    with statements(uow_factory) as sent:
        page = await dashboard.list_orders(uow_factory, vendor, page=1, per_page=20)
    assert len(page.rows) == 20 and page.total == 25
    assert sum(1 for row in page.rows if row.paid == eur(20)) == 7
    assert sum(1 for row in page.rows if row.open_requests == eur(30)) == 5
    selects = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3, sent
    # SQLite's BEGIN IMMEDIATE is one more; nothing else.
    assert len(sent) <= 4, sent


# The home page


async def test_today_starts_at_local_midnight_in_the_vendors_time_zone(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory, currency="ILS", timezone="Asia/Jerusalem")
    # Jerusalem is at UTC+2 in November: its 21 November starts at 22:00 UTC on the 20th.
    clock = FrozenClock(datetime(2026, 11, 20, 21, 59, tzinfo=UTC))
    deps = deps_for(uow_factory, clock=clock)
    number = await order(uow_factory, vendor, NOA, "300", now=clock.now)
    await cash_service.record_cash_payment(deps, vendor, number, "10")  # 23:59 on the 20th, there
    clock.advance(timedelta(minutes=2))
    await cash_service.record_cash_payment(deps, vendor, number, "20")  # 00:01 on the 21st, there
    stats = await dashboard.home(uow_factory, vendor, NOW)
    assert stats.today_start == datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    assert stats.today_end == datetime(2026, 11, 21, 22, 0, tzinfo=UTC)
    assert (stats.collected_today, stats.collected_month) == (ils(20), ils(30))
    assert stats.currency == "ILS"
    # A day later, there, the 20 is yesterday's.
    tomorrow = await dashboard.home(uow_factory, vendor, datetime(2026, 11, 21, 22, 0, tzinfo=UTC))
    assert (tomorrow.collected_today, tomorrow.collected_month) == (ils(0), ils(30))


async def test_the_month_starts_at_local_midnight_on_the_first(uow_factory: UnitOfWorkFactory) -> None:
    vendor = await shop(uow_factory, currency="ILS", timezone="Asia/Jerusalem")
    clock = FrozenClock(datetime(2026, 11, 15, 12, 0, tzinfo=UTC))
    deps = deps_for(uow_factory, clock=clock)
    number = await order(uow_factory, vendor, NOA, "1000", now=clock.now)
    await cash_service.record_cash_payment(deps, vendor, number, "100")  # mid-November
    clock.now = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)  # 23:30 on 30 November, there
    await cash_service.record_cash_payment(deps, vendor, number, "200")
    clock.now = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # 00:30 on 1 December, there
    await cash_service.record_cash_payment(deps, vendor, number, "400")
    december = await dashboard.home(uow_factory, vendor, datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert december.month_start == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    assert december.month_end == datetime(2026, 12, 31, 22, 0, tzinfo=UTC)
    assert (december.collected_today, december.collected_month) == (ils(400), ils(400))
    november = await dashboard.home(uow_factory, vendor, datetime(2026, 11, 30, 21, 45, tzinfo=UTC))
    assert (november.collected_today, november.collected_month) == (ils(200), ils(300))
    # In summer Jerusalem is at UTC+3: July starts at 21:00 UTC on 30 June.
    _, _, july, august = dashboard.local_periods(datetime(2026, 7, 10, 12, 0, tzinfo=UTC), "Asia/Jerusalem")
    assert (july, august) == (
        datetime(2026, 6, 30, 21, 0, tzinfo=UTC),
        datetime(2026, 7, 31, 21, 0, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="naive"):
        dashboard.local_periods(datetime(2026, 7, 10, 12, 0), "Asia/Jerusalem")  # noqa: DTZ001


async def test_the_last_payments_are_the_ten_latest_with_how_each_was_paid(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory, guarantee_mode="optional", saved_cards="on")
    clock = FrozenClock()
    deps = deps_for(uow_factory, clock=clock)
    await customers.set_customer(uow_factory, vendor, DANA, [("name", "Dana")], NOW)
    first = await order(uow_factory, vendor, NOA, "1000", "Mariage")
    for _ in range(8):
        await cash_service.record_cash_payment(deps, vendor, first, "10")
        clock.advance(timedelta(minutes=1))
    number = await order(uow_factory, vendor, DANA, "150", "Gâteau")
    request = await payments.request_payment(deps, vendor, number, AskKind.DEPOSIT, "50")
    visa = SavedCard(token=f"{CARD_TOKEN}abc", brand="visa", last4="4242", exp_month=12, exp_year=2029)
    assert await apply_event(deps, card_event(request.transaction.id, eur(50), visa)) is Outcome.RECORDED
    clock.advance(timedelta(minutes=1))
    await hold(deps, vendor, number, "40")
    await guarantees.capture_guarantee(deps, vendor, number, "30")
    clock.advance(timedelta(minutes=1))
    await saved_cards.charge_saved_card(deps, vendor, number, AskKind.BALANCE)
    stats = await dashboard.home(uow_factory, vendor, clock.now)
    last = stats.last_payments
    assert len(last) == 10
    assert [p.method for p in last[:3]] == [
        PaymentMethod.SAVED_CARD,
        PaymentMethod.CAPTURE,
        PaymentMethod.CARD,
    ]
    assert [p.amount for p in last[:3]] == [eur(70), eur(30), eur(50)]
    assert all(p.method is PaymentMethod.CASH and p.order_number == first for p in last[3:])
    assert [p.paid_at for p in last] == sorted((p.paid_at for p in last), reverse=True)
    latest = last[0]
    assert (latest.order_reference, latest.order_label, latest.customer_phone, latest.customer_name) == (
        f"#{number}", "Gâteau", "33699887766", "Dana",
    )  # fmt: skip
    assert latest.paid_at == clock.now and latest.refunded == eur(0)
    # The guarantee itself (held, then captured) is never a payment; its capture is.
    assert stats.guarantees_held == 0 and stats.collected_today == eur(230)


async def test_home_counts_only_the_vendors_own_money(uow_factory: UnitOfWorkFactory) -> None:
    mine = await shop(uow_factory)
    theirs = await shop(uow_factory, "Fleuriste", "+33655555555")
    deps = deps_for(uow_factory)
    await cash_service.record_cash_payment(deps, theirs, await order(uow_factory, theirs), "99")
    await payments.request_payment(deps, theirs, await order(uow_factory, theirs), AskKind.FULL)
    stats = await dashboard.home(uow_factory, mine, NOW)
    assert (stats.collected_today, stats.open_requests, stats.unpaid_orders, stats.last_payments) == (
        eur(0), 0, 0, (),
    )  # fmt: skip
    assert (await dashboard.list_orders(uow_factory, mine)).total == 0


# The order page


async def test_a_fresh_accepted_order_offers_the_paye_modal_with_30_percent_of_150(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory)
    number = await order(uow_factory, vendor)
    detail = await dashboard.order_page(uow_factory, vendor, number)
    actions = detail.actions
    assert (actions.request_deposit, actions.request_full, actions.request_balance, actions.cash) == (
        True, True, True, True,
    )  # fmt: skip
    assert (actions.accept, actions.refund, actions.cancel_request, actions.ship, actions.complete) == (
        False, False, False, False, False,
    )  # fmt: skip
    assert not (actions.request_guarantee or actions.capture_guarantee or actions.release_guarantee)
    assert detail.request_refused is None and detail.number == number
    assert detail.suggested_deposit == eur("45.00")
    assert detail.deposit_policy.mode is DepositMode.PERCENT
    assert detail.quick_picks == (
        QuickPick(Percent(Decimal(30)), eur(45)), QuickPick(Percent(Decimal(50)), eur(75)),
        QuickPick(Percent(Decimal(100)), eur(150)),
    )  # fmt: skip
    assert (detail.full_amount, detail.balance_amount, detail.cash_amount) == (eur(150), eur(150), eur(150))
    assert detail.ledger is not None and detail.ledger.balance == eur(150)
    assert (detail.payments, detail.guarantees, detail.refundable) == ((), (), eur(0))


async def test_with_a_deposit_asked_only_the_rest_can_be_asked_and_the_request_cancelled(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory, deposit_percent="50")
    number = await order(uow_factory, vendor)
    await payments.request_payment(deps_for(uow_factory), vendor, number, AskKind.DEPOSIT, "45")
    detail = await dashboard.order_page(uow_factory, vendor, number)
    assert (detail.actions.request_full, detail.actions.request_balance, detail.actions.cancel_request) == (
        False, True, True,
    )  # fmt: skip
    assert (detail.full_amount, detail.balance_amount, detail.suggested_deposit) == (None, eur(105), eur(75))
    assert [pick.amount for pick in detail.quick_picks] == [eur(45), eur(75), eur(105)]
    [request] = detail.payments
    assert request.status is TransactionStatus.PENDING and request.payment_link_id in detail.view.links
    assert detail.view.reminders[request.id], "the request's reminders are shown"


async def test_a_paid_order_offers_refund_and_delivery_and_no_more_requests(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory)
    deps = deps_for(uow_factory)
    number = await order(uow_factory, vendor)
    await pay_by_card(deps, vendor, number, AskKind.FULL)
    detail = await dashboard.order_page(uow_factory, vendor, number)
    actions = detail.actions
    assert detail.view.order.status is OrderStatus.PAID
    assert not (actions.request_deposit or actions.request_full or actions.request_balance or actions.cash)
    assert detail.request_refused == "order_not_payable"
    assert (detail.suggested_deposit, detail.quick_picks, detail.cash_amount) == (None, (), None)
    assert (actions.refund, detail.refundable, actions.ship, actions.complete) == (
        True,
        eur(150),
        True,
        False,
    )
    assert not actions.cancel_request
    await order_service.advance_order(uow_factory, vendor, number, "ship", NOW)
    shipped = await dashboard.order_page(uow_factory, vendor, number)
    assert (shipped.actions.ship, shipped.actions.complete) == (False, True)
    await refunds.refund(deps, vendor, number, "150")
    refunded = await dashboard.order_page(uow_factory, vendor, number)
    assert (refunded.actions.refund, refunded.refundable) == (False, eur(0))
    assert refunded.ledger is not None and refunded.ledger.refunded == eur(150)
    assert refunded.view.refunds[refunded.payments[0].id][0].amount == eur(150)


async def test_a_pending_order_under_paid_only_can_be_paid_or_accepted_but_not_shipped(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory, confirmation_rule="paid_only")
    number = await order(uow_factory, vendor, accept=False)
    detail = await dashboard.order_page(uow_factory, vendor, number)
    actions = detail.actions
    assert detail.view.order.status is OrderStatus.PENDING
    assert (actions.accept, actions.request_deposit, actions.request_full, actions.cash) == (
        True,
        True,
        True,
        True,
    )
    assert (actions.ship, actions.complete, actions.refund) == (False, False, False)
    assert detail.suggested_deposit == eur(45)
    immediate = await shop(uow_factory, "Fleuriste", "+33655555555")
    held = await dashboard.order_page(
        uow_factory, immediate, await order(uow_factory, immediate, accept=False)
    )
    assert held.request_refused == "order_not_payable" and held.actions.accept
    assert not (held.actions.request_deposit or held.actions.cash)


async def test_an_order_without_a_price_or_with_deposits_off_asks_nothing_up_front(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory, deposit_mode="none")
    quote = await dashboard.order_page(uow_factory, vendor, await order(uow_factory, vendor, price=None))
    assert quote.ledger is None and quote.request_refused == "order_has_no_price"
    assert not (quote.actions.request_deposit or quote.actions.cash or quote.actions.refund)
    priced = await dashboard.order_page(uow_factory, vendor, await order(uow_factory, vendor))
    assert priced.suggested_deposit is None and priced.actions.request_full and priced.actions.request_deposit


async def test_a_held_guarantee_shows_its_dates_and_can_be_captured_or_released(
    uow_factory: UnitOfWorkFactory,
) -> None:
    vendor = await shop(uow_factory, guarantee_mode="optional")
    deps = deps_for(uow_factory)
    number = await order(uow_factory, vendor)
    before = await dashboard.order_page(uow_factory, vendor, number)
    assert before.actions.request_guarantee and not before.actions.release_guarantee
    guarantee_id = await hold(deps, vendor, number, "50")
    detail = await dashboard.order_page(uow_factory, vendor, number)
    [guarantee] = detail.guarantees
    assert guarantee.transaction.id == guarantee_id and guarantee.status is TransactionStatus.HELD
    assert (guarantee.asked, guarantee.held, guarantee.captured) == (eur(50), eur(50), None)
    assert guarantee.release_at == NOW + timedelta(days=7) and guarantee.hold_lapses_at is not None
    assert guarantee.active and not guarantee.capture_pending and not guarantee.card_on_file
    assert (detail.actions.capture_guarantee, detail.actions.release_guarantee) == (True, True)
    assert not detail.actions.request_guarantee and detail.payments == ()
    assert detail.ledger is not None and detail.ledger.paid == eur(0) and detail.ledger.pending == eur(0)
    await guarantees.capture_guarantee(deps, vendor, number, "20")
    captured = await dashboard.order_page(uow_factory, vendor, number)
    [after] = captured.guarantees
    assert (after.status, after.captured, after.active) == (TransactionStatus.CAPTURED, eur(20), False)
    assert not (captured.actions.capture_guarantee or captured.actions.release_guarantee)
    assert captured.ledger is not None and captured.ledger.paid == eur(20)
    assert [p.guarantee_id for p in captured.payments] == [guarantee_id]


async def test_vendor_b_cannot_read_vendor_a_order(uow_factory: UnitOfWorkFactory) -> None:
    a = await shop(uow_factory, "Boulangerie", "+33612345678")
    b = await shop(uow_factory, "Fleuriste", "+33655555555")
    number = await order(uow_factory, a)
    assert (await dashboard.order_page(uow_factory, a, number)).number == number
    with pytest.raises(OrderNotFound):
        await dashboard.order_page(uow_factory, b, number)
    with pytest.raises(OrderNotFound):
        await dashboard.order_page(uow_factory, a, number + 1)
    assert await numbers(uow_factory, b) == []
    assert await numbers(uow_factory, b, search=str(number)) == []
    assert await numbers(uow_factory, b, search="887766") == []
    # The vendor may be named as the command line names it.
    assert (await dashboard.order_page(uow_factory, "Boulangerie", number)).number == number
