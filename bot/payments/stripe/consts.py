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
# A manual-capture PaymentIntent was authorised (its amount_capturable went up): a guarantee's hold.
INTENT_CAPTURABLE = "payment_intent.amount_capturable_updated"
# Paid: a captured hold, an off-session charge of a saved card, or a checkout payment (then told twice).
INTENT_SUCCEEDED = "payment_intent.succeeded"
# Cancelled by us, or lapsed (cancellation_reason "expired" since API 2025-03-31.basil).
INTENT_CANCELED = "payment_intent.canceled"
# How an invoice Stripe made is named in our invoices table.
DOCTYPE_INVOICE = "invoice"

PAYMENT_STATUS_PAID = "paid"
# PaymentIntent statuses the bot reads.
INTENT_REQUIRES_CAPTURE = "requires_capture"
INTENT_SUCCEEDED_STATUS = "succeeded"
INTENT_CANCELED_STATUS = "canceled"
INTENT_PROCESSING = "processing"
# What may still become a payment, so is cancelled when a hold or a charge is let go.
INTENT_CANCELABLE = frozenset(
    {"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing"}
)
# A PaymentMethod the customer agreed to see again: what Checkout sets when they tick "save my card"
# (https://support.stripe.com/questions/prefilling-saved-cards-in-checkout).
REDISPLAY_ALWAYS = "always"
# The card error of an off-session charge the bank wants the customer to authenticate (3-D Secure).
AUTHENTICATION_REQUIRED = "authentication_required"
# The error of a capture or cancel on a PaymentIntent in another state (already captured, cancelled).
INTENT_UNEXPECTED_STATE = "payment_intent_unexpected_state"
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
