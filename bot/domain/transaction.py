"""A payment transaction: one amount requested from (or recorded for) a customer on an order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import IllegalTransition, RefundExceedsPaid
from bot.domain.money import Money


class TransactionType(StrEnum):
    ACOMPTE = "acompte"
    SOLDE = "solde"
    PARTIEL = "partiel"
    TOTAL = "total"


class TransactionStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


# A failed attempt may still be paid later (the customer retries with another card).
_MOVES: dict[TransactionStatus, frozenset[TransactionStatus]] = {
    TransactionStatus.PENDING: frozenset(
        {
            TransactionStatus.PAID,
            TransactionStatus.FAILED,
            TransactionStatus.CANCELLED,
            TransactionStatus.EXPIRED,
        }
    ),
    TransactionStatus.FAILED: frozenset(
        {TransactionStatus.PAID, TransactionStatus.CANCELLED, TransactionStatus.EXPIRED}
    ),
    TransactionStatus.PAID: frozenset({TransactionStatus.PARTIALLY_REFUNDED, TransactionStatus.REFUNDED}),
    TransactionStatus.PARTIALLY_REFUNDED: frozenset(
        {TransactionStatus.PARTIALLY_REFUNDED, TransactionStatus.REFUNDED}
    ),
    TransactionStatus.CANCELLED: frozenset(),
    TransactionStatus.EXPIRED: frozenset(),
    TransactionStatus.REFUNDED: frozenset(),
}

# payment_method of money taken at the register (no provider holds it).
CASH_REGISTER = "cash_register"
OPEN_STATUSES = frozenset({TransactionStatus.PENDING, TransactionStatus.FAILED})
# The customer's money came in (some of it may have gone back since).
RECEIVED_STATUSES = frozenset(
    {TransactionStatus.PAID, TransactionStatus.PARTIALLY_REFUNDED, TransactionStatus.REFUNDED}
)


@dataclass(slots=True)
class PaymentTransaction:
    id: uuid.UUID
    commande_id: uuid.UUID
    vendor_id: uuid.UUID
    amount: Money
    type: TransactionType
    label: str
    status: TransactionStatus
    created_at: datetime
    updated_at: datetime
    payment_method: str | None = None
    payment_link_id: uuid.UUID | None = None
    provider: str | None = None
    provider_reference: str | None = None
    is_guarantee: bool = False
    paid_at: datetime | None = None
    user_id: uuid.UUID | None = None
    # What refunds have given back of it so far (kept with the row: the ledger and the source's app
    # read it without summing the refunds table).
    refunded: Money | None = None

    @property
    def is_open(self) -> bool:
        """Still waiting for the customer's money."""
        return self.status in OPEN_STATUSES

    @property
    def is_cash(self) -> bool:
        return self.payment_method == CASH_REGISTER

    @property
    def received(self) -> bool:
        return self.status in RECEIVED_STATUSES

    @property
    def refunded_total(self) -> Money:
        return self.refunded or Money.zero(self.amount.currency)

    @property
    def net_paid(self) -> Money:
        """What the customer paid and still has not got back."""
        if not self.received:
            return Money.zero(self.amount.currency)
        return self.amount - self.refunded_total

    def apply_refund(self, amount: Money, now: datetime) -> None:
        """Records ``amount`` given back: ``partially_refunded``, or ``refunded`` once all of it is."""
        total = self.refunded_total + amount
        if not amount.is_positive() or total > self.amount:
            raise RefundExceedsPaid(
                amount=amount, available=self.net_paid, paid=self.amount,
                refunded=self.refunded_total, nothing=self.net_paid.is_zero(),
            )  # fmt: skip
        target = TransactionStatus.REFUNDED if total == self.amount else TransactionStatus.PARTIALLY_REFUNDED
        self._move(target, now)
        self.refunded = total

    def _move(self, target: TransactionStatus, now: datetime) -> None:
        if target not in _MOVES[self.status]:
            raise IllegalTransition(order=str(self.id), current=self.status, target=target)
        self.status = target
        self.updated_at = now

    def mark_paid(self, now: datetime, method: str | None, reference: str | None) -> bool:
        """Records the payment once; False (and nothing changes) when it was already paid."""
        if self.received:
            return False
        self._move(TransactionStatus.PAID, now)
        self.paid_at = now
        self.payment_method = method or self.payment_method
        self.provider_reference = reference or self.provider_reference
        return True

    def mark_failed(self, now: datetime) -> None:
        self._move(TransactionStatus.FAILED, now)

    def cancel(self, now: datetime) -> None:
        self._move(TransactionStatus.CANCELLED, now)

    def expire(self, now: datetime) -> None:
        self._move(TransactionStatus.EXPIRED, now)
