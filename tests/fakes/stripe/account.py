"""The account the API key belongs to (``GET /v1/account``), as Stripe shows a standard account: what
the bot's connection test reads (its dashboard name, its business name and its id)."""

from __future__ import annotations

from tests.fakes.stripe.wire import Json, Schema

ACCOUNT_ID = "acct_1FakeBakery000001"
ACCOUNT_RETRIEVE: Schema = {"expand": None}


def account_object(created: int) -> Json:
    """A standard account in test mode; tests change ``settings.dashboard.display_name`` or
    ``business_profile.name`` (None, as Stripe leaves them unset) to see what the bot falls back on."""
    return {
        "id": ACCOUNT_ID,
        "object": "account",
        "business_profile": {
            "mcc": "5462",
            "name": "Fake Bakery Ltd",
            "product_description": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "country": "FR",
        "created": created,
        "default_currency": "eur",
        "details_submitted": True,
        "email": "owner@fake-bakery.test",
        "metadata": {},
        "payouts_enabled": True,
        "settings": {
            "dashboard": {"display_name": "Fake Bakery", "timezone": "Europe/Paris"},
            "payments": {"statement_descriptor": "FAKE BAKERY"},
        },
        "type": "standard",
    }
