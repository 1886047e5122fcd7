"""Refunds, whichever way the money came: an iCount card payment in full or in part (its own calls,
never retried blindly), a cash or Stripe payment in full."""

from __future__ import annotations

from bot.domain.errors import RefundNotSupported
from bot.domain.money import Money
from bot.domain.transaction import PaymentTransaction
from bot.services import icount, payments
from bot.services.context import PaymentDeps


async def refund(
    deps: PaymentDeps, vendor_reference: str | None, number: int, amount_text: str | None = None
) -> tuple[PaymentTransaction, Money]:
    """Refunds the order's latest payment (``amount_text``: part of it, iCount only); returns the
    transaction and the amount given back."""
    try:
        return await icount.refund_payment(deps, vendor_reference, number, amount_text)
    except RefundNotSupported:
        if amount_text is not None:
            raise
    transaction = await payments.refund_payment(deps, vendor_reference, number)
    return transaction, transaction.amount
