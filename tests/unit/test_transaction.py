from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.errors import IllegalTransition
from bot.domain.transaction import TransactionStatus
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


def test_only_a_paid_transaction_can_be_refunded() -> None:
    with pytest.raises(IllegalTransition):
        transaction(eur(45), TransactionStatus.PENDING).refund(NOW)
    paid = transaction(eur(45), TransactionStatus.PAID)
    paid.refund(NOW)
    assert paid.status is TransactionStatus.REFUNDED
