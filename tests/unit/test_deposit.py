from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import assume, given, strategies as st

from bot.domain.deposit import DepositMode, DepositPolicy, Ledger, settlement_type
from bot.domain.errors import (
    AmountExceedsBalance,
    AmountNotPositive,
    DepositsDisabled,
    NothingToRequest,
    RequestAlreadyOpen,
)
from bot.domain.money import Money, Percent
from bot.domain.order import PaymentType
from bot.domain.transaction import PaymentTransaction, TransactionStatus, TransactionType
from tests.conftest import NOW

EUR = "EUR"


def eur(value: str | int) -> Money:
    return Money(Decimal(value), EUR)


def transaction(
    amount: Money, status: TransactionStatus, kind: TransactionType = TransactionType.ACOMPTE
) -> PaymentTransaction:
    return PaymentTransaction(
        id=uuid.uuid4(),
        commande_id=uuid.uuid4(),
        vendor_id=uuid.uuid4(),
        amount=amount,
        type=kind,
        label=kind.value,
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def test_the_default_deposit_is_thirty_percent_of_the_price() -> None:
    ledger = Ledger.of(eur(150), [])
    assert DepositPolicy().suggested_deposit(ledger) == eur(45)


def test_the_quick_picks_are_thirty_fifty_and_a_hundred_percent_with_amounts() -> None:
    picks = Ledger.of(eur(150), []).quick_picks()
    assert [(str(p), str(m)) for p, m in picks] == [
        ("30%", "45.00 EUR"),
        ("50%", "75.00 EUR"),
        ("100%", "150.00 EUR"),
    ]


def test_quick_picks_never_offer_more_than_can_still_be_requested() -> None:
    ledger = Ledger.of(eur(150), [transaction(eur(100), TransactionStatus.PAID)])
    assert [str(m) for _, m in ledger.quick_picks()] == ["45.00 EUR", "50.00 EUR"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (DepositPolicy(DepositMode.FULL), "150.00"),
        (DepositPolicy(DepositMode.FIXED, fixed=Decimal(20)), "20.00"),
        (DepositPolicy(DepositMode.FIXED, fixed=Decimal(500)), "150.00"),
        (DepositPolicy(DepositMode.PERCENT, percent=Percent(Decimal(50))), "75.00"),
    ],
)
def test_each_deposit_mode_suggests_its_amount(policy: DepositPolicy, expected: str) -> None:
    assert policy.suggested_deposit(Ledger.of(eur(150), [])) == eur(expected)


def test_deposit_mode_none_offers_no_deposit() -> None:
    with pytest.raises(DepositsDisabled):
        DepositPolicy(DepositMode.NONE).suggested_deposit(Ledger.of(eur(150), []))


def test_the_balance_is_the_price_minus_what_is_paid() -> None:
    ledger = Ledger.of(
        eur(150),
        [
            transaction(eur(45), TransactionStatus.PAID),
            transaction(eur(30), TransactionStatus.CANCELLED),
            transaction(eur(20), TransactionStatus.PENDING),
        ],
    )
    assert ledger.paid == eur(45)
    assert ledger.balance == eur(105)
    assert ledger.requestable == eur(85)


def test_an_open_request_blocks_a_second_request_that_would_overpay() -> None:
    ledger = Ledger.of(eur(150), [transaction(eur(45), TransactionStatus.PENDING)])
    with pytest.raises(AmountExceedsBalance) as raised:
        ledger.check_request(eur(150))
    assert raised.value.params["has_pending"] is True
    assert ledger.check_request(eur(105)) == eur(105)


def test_a_zero_or_negative_request_is_refused() -> None:
    ledger = Ledger.of(eur(150), [])
    for amount in (eur(0), eur(-5)):
        with pytest.raises(AmountNotPositive):
            ledger.check_request(amount)


def test_nothing_can_be_requested_once_everything_is_paid() -> None:
    ledger = Ledger.of(eur(150), [transaction(eur(150), TransactionStatus.PAID)])
    assert ledger.is_covered
    with pytest.raises(NothingToRequest):
        ledger.check_request(eur(1))


def test_request_types_follow_the_source_vocabulary() -> None:
    fresh = Ledger.of(eur(150), [])
    assert fresh.request_type(eur(150)) is TransactionType.TOTAL
    assert fresh.request_type(eur(45)) is TransactionType.ACOMPTE
    after_deposit = Ledger.of(eur(150), [transaction(eur(45), TransactionStatus.PAID)])
    assert after_deposit.request_type(eur(105)) is TransactionType.SOLDE


def test_settlement_type_says_whether_the_order_was_paid_at_once() -> None:
    assert settlement_type([transaction(eur(150), TransactionStatus.PAID)]) is PaymentType.TOTAL
    paid_twice = [transaction(eur(45), TransactionStatus.PAID), transaction(eur(105), TransactionStatus.PAID)]
    assert settlement_type(paid_twice) is PaymentType.ACOMPTE_SOLDE


prices = st.integers(min_value=1, max_value=9_999_999_999).map(lambda c: Money.from_minor(c, EUR))
percents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2).map(Percent)


@given(price=prices, percent=percents)
def test_deposit_plus_balance_always_equals_the_price(price: Money, percent: Percent) -> None:
    ledger = Ledger.of(price, [])
    deposit = DepositPolicy(DepositMode.PERCENT, percent=percent).suggested_deposit(ledger)
    assume(deposit.is_positive())
    ledger.check_request(deposit)
    after = Ledger.of(price, [transaction(deposit, TransactionStatus.PAID)])
    assert deposit + after.balance == price
    assert after.requestable == after.balance
    if not after.balance.is_zero():
        assert not after.is_covered
        after.check_request(after.balance)
        paid = Ledger.of(
            price,
            [
                transaction(deposit, TransactionStatus.PAID),
                transaction(after.balance, TransactionStatus.PAID),
            ],
        )
        assert paid.is_covered and paid.balance.is_zero()


@given(
    price=prices,
    history=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**9),
            st.sampled_from(list(TransactionStatus)),
        ),
        max_size=6,
    ),
    wanted=st.integers(min_value=-(10**6), max_value=10**10),
)
def test_no_accepted_request_ever_exceeds_what_remains(
    price: Money, history: list[tuple[int, TransactionStatus]], wanted: int
) -> None:
    ledger = Ledger.of(price, [transaction(Money.from_minor(c, EUR), s) for c, s in history])
    amount = Money.from_minor(wanted, EUR)
    try:
        accepted = ledger.check_request(amount)
    except (AmountNotPositive, AmountExceedsBalance, NothingToRequest, RequestAlreadyOpen):
        assert not amount.is_positive() or amount > ledger.requestable or ledger.requestable.is_zero()
        return
    assert accepted.is_positive()
    assert accepted <= ledger.requestable <= ledger.balance
    assert ledger.paid + ledger.pending + accepted <= max(price, ledger.paid + ledger.pending)
    for _, pick in ledger.quick_picks():
        assert pick <= ledger.requestable
