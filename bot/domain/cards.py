"""Card numbers typed in chat: found (Luhn and brand rules) so they can be refused and redacted.

Card numbers never enter the system (DESIGN.md §3). Phone numbers look alike, so a digit run counts only
if it has a card brand's prefix and length and passes the Luhn check, and never when written with "+".
"""

from __future__ import annotations

import re

REDACTION = "[card number removed]"
# Separators people paste: spaces (also no-break and thin), hyphens, dots, slashes, up to two in a row.
_CANDIDATE = re.compile(r"(?<![\d+])\d(?:[\s.\-/]{0,2}\d){12,18}(?!\d)")
# (prefix ranges, allowed lengths) of the major brands.
_BRANDS: tuple[tuple[tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    (((4, 4),), frozenset({13, 16, 19})),  # Visa
    (((51, 55), (2221, 2720)), frozenset({16})),  # Mastercard
    (((34, 34), (37, 37)), frozenset({15})),  # American Express
    (((6011, 6011), (644, 649), (65, 65)), frozenset({16, 17, 18, 19})),  # Discover
    (((300, 305), (36, 36), (38, 39)), frozenset({14, 15, 16, 17, 18, 19})),  # Diners
    (((3528, 3589),), frozenset({16, 17, 18, 19})),  # JCB
    (((62, 62),), frozenset({16, 17, 18, 19})),  # UnionPay
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _has_brand(digits: str) -> bool:
    for ranges, lengths in _BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return True
    return False


def looks_like_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and _has_brand(digits) and luhn_valid(digits)


def redact_cards(text: str) -> tuple[str, bool]:
    """The text with every card number replaced by REDACTION, and whether any was found."""
    found = False

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        digits = re.sub(r"\D", "", match.group())
        if looks_like_card(digits):
            found = True
            return REDACTION
        return match.group()

    return _CANDIDATE.sub(replace, text), found
