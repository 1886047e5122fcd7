"""The fake Stripe API under its first name: the package ``tests.fakes.stripe`` holds it."""

from tests.fakes.stripe import (
    API_VERSION,
    TEST_CARD_NUMBERS,
    TEST_CARDS,
    FakeStripe,
    PaymentLinkInactive,
    RecordedRequest,
    SessionNotOpen,
    decode_form,
    sign,
)

__all__ = [
    "API_VERSION",
    "TEST_CARDS",
    "TEST_CARD_NUMBERS",
    "FakeStripe",
    "PaymentLinkInactive",
    "RecordedRequest",
    "SessionNotOpen",
    "decode_form",
    "sign",
]
