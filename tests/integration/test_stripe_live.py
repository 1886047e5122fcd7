"""Against Stripe's real test mode: runs only when STRIPE_TEST_API_KEY is set (and the network allows)."""

from __future__ import annotations

import os
import uuid
from decimal import Decimal

import pytest

from bot.domain.money import Money
from bot.payments.port import LinkRequest
from bot.payments.stripe.provider import StripeProvider

API_KEY = os.environ.get("STRIPE_TEST_API_KEY", "")
pytestmark = [
    pytest.mark.skipif(
        not API_KEY.startswith("sk_test_"), reason="STRIPE_TEST_API_KEY (sk_test_...) is not set"
    ),
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]


async def test_a_real_test_mode_link_is_created_idempotently_and_deactivated() -> None:
    provider = StripeProvider(API_KEY)
    request = LinkRequest(
        transaction_id=uuid.uuid4(),
        vendor_id=uuid.UUID(int=1),
        order_id=uuid.uuid4(),
        amount=Money(Decimal("45.00"), "EUR"),
        description="Test deposit",
        vendor_name="Bot test vendor",
        customer_phone="33699887766",
        locale="fr",
        success_url="https://example.com/pay/success",
        cancel_url="https://example.com/pay/cancelled",
    )
    try:
        first = await provider.create_link(request)
        again = await provider.create_link(request)
        assert first == again
        assert first.url.startswith("https://buy.stripe.com/")
        await provider.deactivate_link(first.provider_link_id)
    finally:
        await provider.close()
