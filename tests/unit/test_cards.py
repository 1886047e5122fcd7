from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from bot.domain.cards import REDACTION, luhn_valid, redact_cards


@pytest.mark.parametrize(
    "card",
    ["4242 4242 4242 4242", "4000-0000-0000-0002", "5555555555554444", "378282246310005", "6011111111111117"],
)
def test_a_card_number_in_a_message_is_redacted(card: str) -> None:
    text, found = redact_cards(f"voici ma carte {card} exp 12/28")
    assert found
    assert text == f"voici ma carte {REDACTION} exp [expiry removed]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Ma carte: 4242 4242 4242 4242 exp 12/28 cvc 123",
            "Ma carte: [card number removed] exp [expiry removed] cvc [code removed]",
        ),
        ("4242424242424242 12/2028 123", "[card number removed] [expiry removed] [code removed]"),
        (
            "carte 4242 4242 4242 4242, date 09-27, cryptogramme : 456",
            "carte [card number removed], date [expiry removed], cryptogramme : [code removed]",
        ),
        ("5555555555554444/0927/321", "[card number removed]/[code removed]/[code removed]"),
        (
            "card 378282246310005 expires 03/29 CVV 1234",
            "card [card number removed] expires [expiry removed] CVV [code removed]",
        ),
    ],
)
def test_the_expiry_and_security_code_next_to_a_card_number_are_redacted_too(
    text: str, expected: str
) -> None:
    assert redact_cards(text) == (expected, True)


def test_dates_and_small_numbers_without_a_card_number_are_left_alone() -> None:
    text = "commande 12 pour 15 personnes le 12/28, code 123"
    assert redact_cards(text) == (text, False)


@pytest.mark.parametrize(
    "text",
    [
        "nouvelle +33612345678 150 Gâteau",
        "+8613812345678",
        "appelle le 0612345678",
        "commande 4242 pour 15 personnes",
        "4242424242424241",
        "iban FR7630006000011234567890189",
    ],
)
def test_phones_amounts_and_invalid_numbers_are_left_alone(text: str) -> None:
    assert redact_cards(text) == (text, False)


@given(st.text())
def test_redaction_never_fails_and_leaves_no_card_behind(text: str) -> None:
    redacted, _ = redact_cards(text)
    assert redact_cards(redacted)[1] is False


def test_luhn_matches_the_known_test_cards() -> None:
    assert luhn_valid("4242424242424242")
    assert not luhn_valid("4242424242424243")


@pytest.mark.parametrize("separator", ["\u00a0", "\u202f", "  ", ".", "/"])
def test_pasted_card_numbers_with_other_separators_are_redacted(separator: str) -> None:
    card = separator.join(["4242", "4242", "4242", "4242"])
    text, found = redact_cards(f"carte {card}")
    assert found and "4242" not in text
