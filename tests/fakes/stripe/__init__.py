"""An in-process fake of the Stripe HTTP API, at the wire level, for stripe-python's ``StripeClient``.

It speaks Stripe's form encoding, answers with Stripe's JSON shapes and error envelopes, honours
``Idempotency-Key`` like Stripe (declines included), and can inject failures and delays. Only what the
bot uses is modelled: products, payment links, refunds and invoices (``links``); customers, saved cards
and PaymentIntents: holds, captures, cancellations, off-session charges (``cards``); Checkout Sessions
made through the API and a customer completing one (``checkout``); the key's own account (``account``).
Parameters it does not model are refused as unknown, like Stripe refuses a typo, so a test never passes
because the fake ignored something.
Time is the test's clock: holds lapse and sessions expire by it, never by the wall clock.
"""

from tests.fakes.stripe.cards import TEST_CARD_NUMBERS, TEST_CARDS
from tests.fakes.stripe.checkout import SessionNotOpen
from tests.fakes.stripe.server import FakeStripe
from tests.fakes.stripe.wire import API_VERSION, PaymentLinkInactive, RecordedRequest, decode_form, sign

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
