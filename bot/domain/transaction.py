"""A payment transaction: one amount requested from (or recorded for) a customer on an order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import CaptureExceedsHold, HoldNotActive, IllegalTransition, RefundExceedsPaid
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
    # A guarantee (is_guarantee): requested (pending) -> held -> captured | released | expired | failed.
    HELD = "held"
    CAPTURED = "captured"
    RELEASED = "released"


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
    TransactionStatus.HELD: frozenset(
        {TransactionStatus.CAPTURED, TransactionStatus.RELEASED, TransactionStatus.EXPIRED}
    ),
    TransactionStatus.CAPTURED: frozenset(),
    TransactionStatus.RELEASED: frozenset(),
}
# Where a guarantee may go: a request is held (or fails, or is cancelled); only a hold is captured.
_GUARANTEE_FROM_OPEN = frozenset({TransactionStatus.PENDING, TransactionStatus.FAILED})
_MOVES[TransactionStatus.PENDING] |= {TransactionStatus.HELD}
_MOVES[TransactionStatus.FAILED] |= {TransactionStatus.HELD}

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
    # A guarantee: what the card holds, what was captured of it, when the provider lets the hold go,
    # when we release it ourselves (guarantee_release_days) and when the vendor was warned of the lapse.
    held: Money | None = None
    captured: Money | None = None
    hold_lapses_at: datetime | None = None
    release_at: datetime | None = None
    lapse_warned_at: datetime | None = None
    # The provider keeps the card but holds no money (an iCount account without J5).
    card_on_file: bool = False
    # A payment made by capturing a guarantee, or by charging a saved card: where it came from.
    guarantee_id: uuid.UUID | None = None
    card_token_id: uuid.UUID | None = None

    @property
    def is_open(self) -> bool:
        """Still waiting for the customer's money (or, for a guarantee, for their card)."""
        return self.status in OPEN_STATUSES

    @property
    def is_payment_request(self) -> bool:
        """An open request for money: counted as pending in the ledger (a guarantee never is)."""
        return self.is_open and not self.is_guarantee

    @property
    def is_charge_in_flight(self) -> bool:
        """A saved-card charge or a capture asked of the provider and not answered yet: it may have been
        made, so it is never cancelled, only looked up."""
        return (
            self.is_open
            and self.payment_link_id is None
            and (self.card_token_id is not None or self.guarantee_id is not None)
        )

    @property
    def is_held(self) -> bool:
        return self.is_guarantee and self.status is TransactionStatus.HELD

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

    # Guarantees

    def hold(
        self,
        held: Money,
        reference: str | None,
        lapses_at: datetime,
        release_at: datetime,
        now: datetime,
        *,
        card_on_file: bool = False,
    ) -> bool:
        """The card authorised ``held``; False (nothing changes) when it was already told."""  # fmt: skip
        if self.status is TransactionStatus.HELD or self.status not in _GUARANTEE_FROM_OPEN:
            return False
        self._move(TransactionStatus.HELD, now)
        self.held, self.hold_lapses_at, self.release_at = held, lapses_at, min(release_at, lapses_at)
        self.provider_reference = reference or self.provider_reference
        self.card_on_file = card_on_file
        return True

    @property
    def capturable(self) -> Money:
        if not self.is_held or self.held is None:
            return Money.zero(self.amount.currency)
        return self.held

    def check_capture(self, amount: Money) -> None:
        """A capture of ``amount`` is possible now: the hold is there and covers it."""
        if not self.is_held:
            raise HoldNotActive(status=self.status.value)
        if not amount.is_positive() or amount > self.capturable:
            raise CaptureExceedsHold(amount=amount, held=self.capturable)

    def capture(self, amount: Money, now: datetime) -> None:
        """``amount`` of the hold was charged; the provider released the rest with it."""
        self.check_capture(amount)
        self._move(TransactionStatus.CAPTURED, now)
        self.captured = amount

    def captured_after_all(self, amount: Money, now: datetime) -> None:
        """The provider took ``amount`` of a hold we had taken for released or lapsed (its capture's answer
        came late): the money is there, so the guarantee is captured after all."""
        if (
            self.status not in {TransactionStatus.RELEASED, TransactionStatus.EXPIRED}
            or not self.is_guarantee
        ):
            raise HoldNotActive(status=self.status.value)
        self.status, self.updated_at, self.captured = TransactionStatus.CAPTURED, now, amount

    def release(self, now: datetime) -> bool:
        """The hold (or the request for it) is let go; False when it was already over."""
        if self.status is TransactionStatus.HELD:
            self._move(TransactionStatus.RELEASED, now)
            return True
        return False

    def lapse(self, now: datetime) -> bool:
        """The provider let the hold go by itself."""
        if self.status is TransactionStatus.HELD:
            self._move(TransactionStatus.EXPIRED, now)
            return True
        return False
