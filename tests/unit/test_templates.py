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
