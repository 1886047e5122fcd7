from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.errors import IllegalTransition, RefundExceedsPaid
from bot.domain.refund import plan_refund
from bot.domain.transaction import TransactionStatus, TransactionType
from tests.conftest import NOW
from tests.unit.test_deposit import eur, transaction


def test_a_transaction_is_marked_paid_once() -> None:
    t = transaction(eur(45), TransactionStatus.PENDING)
    assert t.mark_paid(NOW, "card", "pi_1")
    later = NOW + timedelta(minutes=5)
    assert not t.mark_paid(later, "card", "pi_2")
    assert t.paid_at == NOW
    assert t.provider_reference == "pi_1"


def test_a_failed_attempt_can_still_be_paid() -> None:
    t = transaction(eur(45), TransactionStatus.PENDING)
    t.mark_failed(NOW)
    assert t.is_open
    assert t.mark_paid(NOW, "card", None)
    assert t.status is TransactionStatus.PAID


def test_a_cancelled_request_cannot_be_paid_silently() -> None:
    t = transaction(eur(45), TransactionStatus.PENDING)
    t.cancel(NOW)
    with pytest.raises(IllegalTransition):
        t.mark_paid(NOW, "card", None)


def test_only_money_received_can_be_refunded() -> None:
    with pytest.raises(IllegalTransition):
        transaction(eur(45), TransactionStatus.PENDING).apply_refund(eur(45), NOW)
    paid = transaction(eur(45), TransactionStatus.PAID)
    paid.apply_refund(eur(45), NOW)
    assert paid.status is TransactionStatus.REFUNDED and paid.net_paid == eur(0)


def test_two_partial_refunds_end_refunded_and_a_third_is_refused() -> None:
    paid = transaction(eur(150), TransactionStatus.PAID)
    paid.apply_refund(eur(20), NOW)
    assert paid.status is TransactionStatus.PARTIALLY_REFUNDED
    assert (paid.refunded_total, paid.net_paid) == (eur(20), eur(130))
    paid.apply_refund(eur(130), NOW)
    assert paid.status is TransactionStatus.REFUNDED and paid.net_paid == eur(0)
    with pytest.raises(RefundExceedsPaid) as refused:
        paid.apply_refund(eur(1), NOW)
    assert refused.value.params["nothing"] is True
    assert not paid.mark_paid(NOW, "card", "again"), "a refunded payment is not paid again"


def test_a_refund_never_goes_over_what_was_paid() -> None:
    paid = transaction(eur(45), TransactionStatus.PAID)
    with pytest.raises(RefundExceedsPaid):
        paid.apply_refund(eur("45.01"), NOW)
    assert paid.status is TransactionStatus.PAID and paid.refunded is None


def test_a_refund_is_split_over_the_payments_the_latest_first() -> None:
    deposit = transaction(eur(45), TransactionStatus.PAID)
    balance = transaction(eur(105), TransactionStatus.PAID, TransactionType.SOLDE)
    deposit.paid_at, balance.paid_at = NOW, NOW + timedelta(days=1)
    plan = plan_refund([deposit, balance], {}, eur(120))
    assert [(t.id, amount) for t, amount in plan.parts] == [(balance.id, eur(105)), (deposit.id, eur(15))]
    assert plan_refund([deposit, balance], {}, None).total == eur(150)


def test_what_is_being_refunded_cannot_be_refunded_again() -> None:
    paid = transaction(eur(150), TransactionStatus.PAID)
    in_flight = {paid.id: eur(100)}
    assert plan_refund([paid], in_flight, None).total == eur(50)
    with pytest.raises(RefundExceedsPaid) as refused:
        plan_refund([paid], in_flight, eur(51))
    assert refused.value.params["available"] == eur(50)
