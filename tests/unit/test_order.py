from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from bot.domain.errors import IllegalTransition, OrderHasNoPrice, OrderNotPayable
from bot.domain.money import Money
from bot.domain.order import ConfirmationRule, Order, OrderStatus, PaymentType, can_move
from tests.conftest import NOW

EUR = "EUR"


def make_order(status: OrderStatus = OrderStatus.PENDING, price: str | None = "150") -> Order:
    return Order(
        id=uuid.uuid4(),
        vendor_id=uuid.uuid4(),
        number=12,
        customer_id=uuid.uuid4(),
        label="Gâteau",
        price=None if price is None else Money(Decimal(price), EUR),
        currency=EUR,
        status=status,
        payment_type=None,
        created_at=NOW,
        updated_at=NOW,
    )


def test_an_order_goes_from_pending_to_completed_through_each_step() -> None:
    order = make_order()
    order.accept(NOW)
    assert order.settle(Money(Decimal(150), EUR), PaymentType.TOTAL, NOW)
    order.ship(NOW)
    order.complete(NOW)
    assert order.status is OrderStatus.COMPLETED
    assert order.payment_type is PaymentType.TOTAL


def test_a_deposit_leaves_the_order_accepted() -> None:
    order = make_order(OrderStatus.ACCEPTED)
    assert not order.settle(Money(Decimal(45), EUR), PaymentType.ACOMPTE_SOLDE, NOW)
    assert order.status is OrderStatus.ACCEPTED
    assert order.payment_type is None


def test_a_paid_order_always_has_a_payment_type() -> None:
    order = make_order(OrderStatus.ACCEPTED)
    order.settle(Money(Decimal(150), EUR), PaymentType.ACOMPTE_SOLDE, NOW)
    assert order.status is OrderStatus.PAID
    assert order.payment_type is PaymentType.ACOMPTE_SOLDE


def test_settling_twice_changes_nothing_the_second_time() -> None:
    order = make_order(OrderStatus.ACCEPTED)
    assert order.settle(Money(Decimal(150), EUR), PaymentType.TOTAL, NOW)
    assert not order.settle(Money(Decimal(300), EUR), PaymentType.ACOMPTE_SOLDE, NOW)
    assert order.payment_type is PaymentType.TOTAL


@pytest.mark.parametrize(
    ("status", "move"),
    [
        (OrderStatus.PENDING, "ship"),
        (OrderStatus.PENDING, "complete"),
        (OrderStatus.ACCEPTED, "ship"),
        (OrderStatus.ACCEPTED, "accept"),
        (OrderStatus.PAID, "cancel"),
        (OrderStatus.COMPLETED, "cancel"),
        (OrderStatus.CANCELLED, "accept"),
        (OrderStatus.IN_DELIVERY, "ship"),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(status: OrderStatus, move: str) -> None:
    order = make_order(status)
    with pytest.raises(IllegalTransition):
        getattr(order, move)(NOW)
    assert order.status is status


def test_a_cancelled_order_cannot_become_paid() -> None:
    order = make_order(OrderStatus.CANCELLED)
    with pytest.raises(IllegalTransition):
        order.settle(Money(Decimal(150), EUR), PaymentType.TOTAL, NOW)


def test_only_the_listed_moves_exist() -> None:
    allowed = {(a, b) for a in OrderStatus for b in OrderStatus if can_move(a, b)}
    assert allowed == {
        (OrderStatus.PENDING, OrderStatus.ACCEPTED),
        (OrderStatus.PENDING, OrderStatus.PAID),
        (OrderStatus.PENDING, OrderStatus.CANCELLED),
        (OrderStatus.ACCEPTED, OrderStatus.PAID),
        (OrderStatus.ACCEPTED, OrderStatus.CANCELLED),
        (OrderStatus.PAID, OrderStatus.IN_DELIVERY),
        (OrderStatus.PAID, OrderStatus.ACCEPTED),
        (OrderStatus.IN_DELIVERY, OrderStatus.COMPLETED),
    }


def test_a_payment_can_be_requested_only_for_an_accepted_order_with_a_price() -> None:
    assert make_order(OrderStatus.ACCEPTED).check_payable(ConfirmationRule.IMMEDIATE) == Money(
        Decimal(150), EUR
    )
    with pytest.raises(OrderNotPayable):
        make_order(OrderStatus.PENDING).check_payable(ConfirmationRule.IMMEDIATE)
    with pytest.raises(OrderNotPayable):
        make_order(OrderStatus.PAID).check_payable(ConfirmationRule.IMMEDIATE)
    with pytest.raises(OrderHasNoPrice):
        make_order(OrderStatus.ACCEPTED, price=None).check_payable(ConfirmationRule.IMMEDIATE)


def test_under_paid_only_a_pending_order_can_be_paid() -> None:
    order = make_order(OrderStatus.PENDING)
    assert order.check_payable(ConfirmationRule.PAID_ONLY) == Money(Decimal(150), EUR)
    assert order.settle(Money(Decimal(150), EUR), PaymentType.TOTAL, NOW)
    assert order.status is OrderStatus.PAID


def test_a_refund_that_uncovers_the_price_reopens_a_paid_order() -> None:
    order = make_order(OrderStatus.ACCEPTED)
    order.settle(Money(Decimal(150), EUR), PaymentType.TOTAL, NOW)
    assert not order.reopen(Money(Decimal(150), EUR), NOW)
    assert order.reopen(Money(Decimal(105), EUR), NOW)
    assert order.status is OrderStatus.ACCEPTED
    assert order.payment_type is None
