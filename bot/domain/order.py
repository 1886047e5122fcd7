"""An order ("commande") and its status machine.

pending -> accepted -> paid -> in_delivery -> completed, and cancelled from pending or accepted.
An order becomes ``paid`` only through ``settle``, when the paid transactions cover its price, and then
always with a ``payment_type`` (the source's ``check_payment_logic`` constraint).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import IllegalTransition, OrderHasNoPrice, OrderNotPayable
from bot.domain.money import Money


class OrderStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    PAID = "paid"
    IN_DELIVERY = "in_delivery"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentType(StrEnum):
    """How a paid order was settled: in one payment, or a deposit followed by the rest."""

    TOTAL = "total"
    ACOMPTE_SOLDE = "acompte_solde"


class ConfirmationRule(StrEnum):
    """``immediate``: the vendor accepts orders; ``paid_only``: an order is held pending until paid."""

    IMMEDIATE = "immediate"
    PAID_ONLY = "paid_only"


_MOVES: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.ACCEPTED, OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.ACCEPTED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    # Back to accepted when a refund leaves the price uncovered.
    OrderStatus.PAID: frozenset({OrderStatus.IN_DELIVERY, OrderStatus.ACCEPTED}),
    OrderStatus.IN_DELIVERY: frozenset({OrderStatus.COMPLETED}),
    OrderStatus.COMPLETED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in _MOVES[current]


@dataclass(slots=True)
class Order:
    id: uuid.UUID
    vendor_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    label: str
    price: Money | None
    currency: str
    status: OrderStatus
    payment_type: PaymentType | None
    created_at: datetime
    updated_at: datetime
    reminders_enabled: bool = True
    # The Supabase auth user who owns the vendor (read policies check it).
    user_id: uuid.UUID | None = None

    @property
    def reference(self) -> str:
        return f"#{self.number}"

    def _move(self, target: OrderStatus, now: datetime) -> None:
        if not can_move(self.status, target):
            raise IllegalTransition(order=self.reference, current=self.status, target=target)
        self.status = target
        self.updated_at = now

    def accept(self, now: datetime) -> None:
        self._move(OrderStatus.ACCEPTED, now)

    def cancel(self, now: datetime) -> None:
        self._move(OrderStatus.CANCELLED, now)

    def ship(self, now: datetime) -> None:
        self._move(OrderStatus.IN_DELIVERY, now)

    def complete(self, now: datetime) -> None:
        self._move(OrderStatus.COMPLETED, now)

    def require_price(self) -> Money:
        if self.price is None:
            raise OrderHasNoPrice(order=self.reference)
        return self.price

    def check_payable(self, rule: ConfirmationRule) -> Money:
        """The price, if a payment may be requested now: accepted, or held pending under paid_only."""
        price = self.require_price()
        allowed = {OrderStatus.ACCEPTED}
        if rule is ConfirmationRule.PAID_ONLY:
            allowed.add(OrderStatus.PENDING)
        if self.status not in allowed:
            raise OrderNotPayable(order=self.reference, status=self.status)
        return price

    def reopen(self, paid_total: Money, now: datetime) -> bool:
        """A paid order whose price a refund no longer covers goes back to accepted; True if it did."""
        if self.status is not OrderStatus.PAID or paid_total >= self.require_price():
            return False
        self._move(OrderStatus.ACCEPTED, now)
        self.payment_type = None
        return True

    def settle(self, paid_total: Money, payment_type: PaymentType, now: datetime) -> bool:
        """Moves the order to ``paid`` if ``paid_total`` covers the price; True when it moved.

        A deposit that leaves something to pay changes nothing (the order stays accepted)."""
        price = self.require_price()
        already_settled = {OrderStatus.PAID, OrderStatus.IN_DELIVERY, OrderStatus.COMPLETED}
        if paid_total < price or self.status in already_settled:
            return False
        self._move(OrderStatus.PAID, now)
        self.payment_type = payment_type
        return True
