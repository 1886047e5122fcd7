"""A payment transaction: one amount requested from (or recorded for) a customer on an order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import IllegalTransition
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
    TransactionStatus.PAID: frozenset({TransactionStatus.REFUNDED}),
    TransactionStatus.CANCELLED: frozenset(),
    TransactionStatus.EXPIRED: frozenset(),
    TransactionStatus.REFUNDED: frozenset(),
}

OPEN_STATUSES = frozenset({TransactionStatus.PENDING, TransactionStatus.FAILED})


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

    @property
    def is_open(self) -> bool:
        """Still waiting for the customer's money."""
        return self.status in OPEN_STATUSES

    def _move(self, target: TransactionStatus, now: datetime) -> None:
        if target not in _MOVES[self.status]:
            raise IllegalTransition(order=str(self.id), current=self.status, target=target)
        self.status = target
        self.updated_at = now

    def mark_paid(self, now: datetime, method: str | None, reference: str | None) -> bool:
        """Records the payment once; False (and nothing changes) when it was already paid."""
        if self.status in {TransactionStatus.PAID, TransactionStatus.REFUNDED}:
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

    def refund(self, now: datetime) -> None:
        self._move(TransactionStatus.REFUNDED, now)
