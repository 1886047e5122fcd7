"""Refunds: money given back on a payment, each one a row with its own outcome.

A refund is ``pending`` while the provider is asked, then ``succeeded`` or ``failed``; ``unknown`` when the
provider did not answer (a timeout): it may have been made, so it is checked at the provider before
anything else is refunded on that payment, and never asked again blindly. What a refund may give back is
what was paid minus what was refunded and what is still being refunded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import RefundExceedsPaid
from bot.domain.money import Money, money_sum
from bot.domain.transaction import PaymentTransaction


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


IN_FLIGHT = frozenset({RefundStatus.PENDING, RefundStatus.UNKNOWN})
# Who asked, when no admin's phone did: the command line, or the provider (a refund made in its dashboard).
BY_CLI = "cli"


@dataclass(slots=True)
class Refund:
    id: uuid.UUID
    vendor_id: uuid.UUID
    transaction_id: uuid.UUID
    amount: Money
    status: RefundStatus
    requested_by: str
    created_at: datetime
    updated_at: datetime
    provider: str | None = None
    provider_reference: str | None = None
    failure_reason: str | None = None

    @property
    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT

    @property
    def idempotency_key(self) -> str:
        """The provider's key for this refund: asking again never refunds twice."""
        return f"refund-{self.id}"


@dataclass(frozen=True, slots=True)
class RefundPlan:
    """Where the money of one refund comes back from: the order's payments, the latest first."""

    parts: tuple[tuple[PaymentTransaction, Money], ...]

    @property
    def total(self) -> Money:
        return money_sum([amount for _, amount in self.parts], self.parts[0][1].currency)


def in_flight_by_transaction(refunds: Iterable[Refund]) -> dict[uuid.UUID, Money]:
    found: dict[uuid.UUID, Money] = {}
    for refund in refunds:
        if refund.in_flight:
            before = found.get(refund.transaction_id, Money.zero(refund.amount.currency))
            found[refund.transaction_id] = before + refund.amount
    return found


def refundable(transaction: PaymentTransaction, in_flight: Mapping[uuid.UUID, Money]) -> Money:
    """What may still be refunded on one payment."""
    zero = Money.zero(transaction.amount.currency)
    left = transaction.net_paid - in_flight.get(transaction.id, zero)
    return max(left, zero)


def plan_refund(
    transactions: Iterable[PaymentTransaction], in_flight: Mapping[uuid.UUID, Money], amount: Money | None
) -> RefundPlan:
    """Splits ``amount`` (None: all that may be refunded) over the payments, the latest first.

    Refused when nothing or not that much may be refunded, with what was paid and refunded."""
    received = [t for t in transactions if t.received]
    currency = received[0].amount.currency if received else (amount.currency if amount else "EUR")
    available = money_sum([refundable(t, in_flight) for t in received], currency)
    paid = money_sum([t.amount for t in received], currency)
    refunded = money_sum([t.refunded_total for t in received], currency)
    wanted = available if amount is None else amount
    if not wanted.is_positive() or wanted > available:
        raise RefundExceedsPaid(
            amount=wanted, available=available, paid=paid, refunded=refunded,
            nothing=available.is_zero(),
        )  # fmt: skip
    parts: list[tuple[PaymentTransaction, Money]] = []
    left = wanted
    # The latest paid first; between payments made at the same moment, the one listed last.
    position = {t.id: index for index, t in enumerate(received)}
    latest_first = sorted(received, key=lambda t: (t.paid_at or t.created_at, position[t.id]), reverse=True)
    for transaction in latest_first:
        share = min(left, refundable(transaction, in_flight))
        if share.is_positive():
            parts.append((transaction, share))
            left = left - share
        if left.is_zero():
            break
    return RefundPlan(tuple(parts))
