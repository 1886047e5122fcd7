from __future__ import annotations

import pytest

from bot.domain.errors import AmountExceedsBalance, all_error_codes
from bot.domain.vendor import VENDOR_LOCALES
from bot.rendering import environment, explain


@pytest.mark.parametrize("locale", VENDOR_LOCALES)
def test_every_domain_error_has_a_message_in_every_vendor_language(locale: str) -> None:
    names = set(environment().list_templates())
    missing = {code for code in all_error_codes() if f"{locale}/errors/{code}.j2" not in names}
    assert missing == set()


def test_an_error_is_explained_in_the_vendors_language() -> None:
    error = AmountExceedsBalance(
        amount="200.00 EUR", available="105.00 EUR", pending="45.00 EUR", has_pending=True
    )
    assert explain(error, "en") == (
        "200.00 EUR is more than can still be requested "
        "(105.00 EUR; 45.00 EUR is already requested and unpaid)."
    )
    assert explain(error, "fr").startswith("200.00 EUR dépasse ce qui peut encore être demandé")


def test_a_vendor_can_word_a_message_their_own_way() -> None:
    from bot.domain.vendor import apply_setting
    from bot.rendering import render_for
    from tests.unit.test_settings_and_rules import make_vendor

    vendor = make_vendor()
    apply_setting(vendor, "text.payment_request.fr", "Bonjour ! Acompte de {{ amount }} ici : {{ url }}")
    text = render_for(
        vendor,
        "messages/payment_request",
        "fr",
        kind="acompte",
        amount="45.00 EUR",
        url="https://x",
        vendor_name="Boulangerie",
        order="#1",
    )
    assert text == "Bonjour ! Acompte de 45.00 EUR ici : https://x"
    english = render_for(
        vendor,
        "messages/payment_request",
        "en",
        kind="acompte",
        amount="45.00 EUR",
        url="u",
        vendor_name="Boulangerie",
        order="#1",
    )
    assert english.startswith("💰 Payment link for your deposit")
    apply_setting(vendor, "text.payment_request.fr", "")
    assert vendor.message_overrides == {}


def test_a_vendor_text_that_does_not_render_falls_back_to_ours() -> None:
    from bot.domain.vendor import apply_setting
    from bot.rendering import render_for
    from tests.unit.test_settings_and_rules import make_vendor

    vendor = make_vendor()
    apply_setting(vendor, "text.payment_request.fr", "Montant {{ price_typo }}")
    text = render_for(
        vendor,
        "messages/payment_request",
        "fr",
        kind="acompte",
        amount="45.00 EUR",
        url="u",
        vendor_name="Boulangerie",
        order="#1",
    )
    assert text.startswith("💰 Lien de paiement pour votre acompte")


def test_customers_read_amounts_in_their_language() -> None:
    from decimal import Decimal

    from bot.domain.money import Money
    from bot.services.messages import shown

    amount = Money(Decimal("1234.5"), "EUR")
    assert shown(amount, "fr") == "1234.50 EUR"
    assert shown(amount, "en") == "€1,234.50"
    assert "₪" in shown(Money(Decimal(45), "ILS"), "he")
