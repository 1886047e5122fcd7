"""Stripe's names and amount rules, written once."""

from decimal import Decimal

from bot.domain.money import Money

NAME = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300

SESSION_COMPLETED = "checkout.session.completed"
ASYNC_PAYMENT_SUCCEEDED = "checkout.session.async_payment_succeeded"
ASYNC_PAYMENT_FAILED = "checkout.session.async_payment_failed"
CHARGE_REFUNDED = "charge.refunded"
INVOICE_PAID = "invoice.paid"
# How an invoice Stripe made is named in our invoices table.
DOCTYPE_INVOICE = "invoice"

PAYMENT_STATUS_PAID = "paid"
# Our refund's key, kept in the refund's metadata so that it can be found again.
REFUND_KEY = "refund_key"
RESOURCE_MISSING = "resource_missing"
RESOURCE_EXISTS = "resource_already_exists"


def product_id(vendor_hex: str) -> str:
    """One reusable Product per vendor, with an id we choose, so no lookup table is needed."""
    return f"bot_vendor_{vendor_hex}"


# Zero-decimal in ISO 4217 but sent to Stripe as two-decimal amounts ending in 00 (Stripe's "special
# cases"): without this, 5000 ISK would be charged as 50 ISK.
TWO_DECIMAL_AT_STRIPE = frozenset({"ISK", "UGX"})


def stripe_amount(money: Money) -> int:
    if money.currency in TWO_DECIMAL_AT_STRIPE:
        return int(money.amount * 100)
    return money.to_minor()


def from_stripe_amount(units: int, currency: str) -> Money:
    code = currency.upper()
    if code in TWO_DECIMAL_AT_STRIPE:
        return Money(Decimal(units) / 100, code)
    return Money.from_minor(units, code)
