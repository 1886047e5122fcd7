"""Stripe's names, written once."""

NAME = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300

SESSION_COMPLETED = "checkout.session.completed"
ASYNC_PAYMENT_SUCCEEDED = "checkout.session.async_payment_succeeded"
ASYNC_PAYMENT_FAILED = "checkout.session.async_payment_failed"
CHARGE_REFUNDED = "charge.refunded"

PAYMENT_STATUS_PAID = "paid"
RESOURCE_MISSING = "resource_missing"
RESOURCE_EXISTS = "resource_already_exists"


def product_id(vendor_hex: str) -> str:
    """One reusable Product per vendor, with an id we choose, so no lookup table is needed."""
    return f"bot_vendor_{vendor_hex}"
