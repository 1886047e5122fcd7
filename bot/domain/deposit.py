"""Deposit ("acompte") and balance ("solde") arithmetic.

``balance`` is the price minus what is paid. ``requestable`` also subtracts the requests still open, so
that a customer who pays every link sent never pays more than the price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot.domain.errors import (
    AmountExceedsBalance,
    AmountNotPositive,
    CurrencyMismatch,
    DepositsDisabled,
    NothingToRequest,
    RequestAlreadyOpen,
)
from bot.domain.money import Money, Percent, money_sum
from bot.domain.order import PaymentType
from bot.domain.transaction import PaymentTransaction, TransactionType

DEFAULT_DEPOSIT_PERCENT = Percent(Decimal(30))
QUICK_PICKS: tuple[Percent, ...] = (
    Percent(Decimal(30)),
    Percent(Decimal(50)),
    Percent(Decimal(100)),
)


class AskKind(StrEnum):
    """What a vendor asks the customer to pay: a deposit, the full price, or the balance."""

    DEPOSIT = "deposit"
    FULL = "full"
    BALANCE = "balance"


class DepositMode(StrEnum):
    """What a vendor asks up front: nothing, the full price, a fixed amount, or a percentage."""

    NONE = "none"
    FULL = "full"
    FIXED = "fixed"
    PERCENT = "percent"


@dataclass(frozen=True, slots=True)
class DepositPolicy:
    mode: DepositMode = DepositMode.PERCENT
    percent: Percent = DEFAULT_DEPOSIT_PERCENT
    fixed: Decimal | None = None

    def suggested_deposit(self, ledger: Ledger) -> Money:
        """The amount pre-filled when the vendor chooses "Acompte"."""
        if self.mode is DepositMode.NONE:
            raise DepositsDisabled()
        if self.mode is DepositMode.FULL:
            return ledger.requestable
        if self.mode is DepositMode.FIXED and self.fixed is not None:
            wanted = Money(self.fixed, ledger.price.currency)
        else:
            wanted = ledger.price.percent(self.percent)
        return min(wanted, ledger.requestable)


@dataclass(frozen=True, slots=True)
class Ledger:
    """Where an order stands: its price, what is paid (net of refunds), what is requested but not yet
    paid, and what refunds gave back."""

    price: Money
    paid: Money
    pending: Money
    refunded: Money

    @classmethod
    def of(cls, price: Money, transactions: Iterable[PaymentTransaction]) -> Ledger:
        items = list(transactions)
        # Net of refunds: an order refunded below its price is no longer covered.
        paid = money_sum([t.net_paid for t in items], price.currency)
        # A guarantee is never money asked for: only what is captured of it counts (as its own payment).
        pending = money_sum([t.amount for t in items if t.is_payment_request], price.currency)
        refunded = money_sum([t.refunded_total for t in items if t.received], price.currency)
        return cls(price=price, paid=paid, pending=pending, refunded=refunded)

    @property
    def received(self) -> Money:
        """Everything the customer paid, before refunds."""
        return self.paid + self.refunded

    @property
    def balance(self) -> Money:
        """What the customer still owes (never negative)."""
        return max(self.price - self.paid, Money.zero(self.price.currency))

    @property
    def requestable(self) -> Money:
        """What may still be requested without risking an overpayment."""
        return max(self.balance - self.pending, Money.zero(self.price.currency))

    @property
    def is_covered(self) -> bool:
        return self.paid >= self.price

    def check_request(self, amount: Money) -> Money:
        """``amount`` if it is positive and at most what may still be requested."""
        if self.requestable.is_zero():
            if self.pending.is_positive():
                raise RequestAlreadyOpen(pending=self.pending, price=self.price, paid=self.paid)
            raise NothingToRequest(price=self.price, paid=self.paid, pending=self.pending)
        if not amount.is_positive():
            raise AmountNotPositive(amount=amount)
        if amount > self.requestable:
            raise AmountExceedsBalance(
                amount=amount,
                available=self.requestable,
                pending=self.pending,
                has_pending=self.pending.is_positive(),
            )
        return amount

    def quick_picks(self) -> list[tuple[Percent, Money]]:
        """The 30% / 50% / 100% suggestions of the price, each capped at what may be requested."""
        picks: list[tuple[Percent, Money]] = []
        for percent in QUICK_PICKS:
            amount = min(self.price.percent(percent), self.requestable)
            if amount.is_positive() and all(amount != seen for _, seen in picks):
                picks.append((percent, amount))
        return picks

    def request_type(self, amount: Money) -> TransactionType:
        """``total`` for the whole price at once, ``solde`` for all that remains after a deposit, else
        ``acompte``."""
        if amount == self.price:
            return TransactionType.TOTAL
        if amount == self.requestable and (self.paid.is_positive() or self.pending.is_positive()):
            return TransactionType.SOLDE
        return TransactionType.ACOMPTE

    def amount_for(self, ask: AskKind, typed: Money | Percent | None, policy: DepositPolicy) -> Money:
        """The amount a vendor's request means, checked against what may still be requested.

        A deposit is what they typed (an amount, or a percentage of the price) or the policy's
        suggestion; ``full`` is the whole balance; ``balance`` is all that may still be requested."""
        if ask is AskKind.FULL:
            amount = self.balance
        elif ask is AskKind.BALANCE:
            amount = self.requestable
        elif isinstance(typed, Percent):
            amount = self.price.percent(typed)
        elif typed is not None:
            amount = typed
        else:
            amount = policy.suggested_deposit(self)
        if amount.currency != self.price.currency:
            raise CurrencyMismatch(expected=self.price.currency, got=amount.currency)
        return self.check_request(amount)


def settlement_type(paid: Iterable[PaymentTransaction]) -> PaymentType:
    """How a covered order was paid, for ``commandes.payment_type``."""
    count = sum(1 for t in paid if t.net_paid.is_positive())
    return PaymentType.TOTAL if count <= 1 else PaymentType.ACOMPTE_SOLDE
