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


# Next to a card number, what else lets someone charge it: the expiry (12/28, 12-2028, 1228 after "exp")
# and the security code (a 3 or 4 digit group after cvc/cvv/code..., or right after the card or expiry).
_EXPIRY = re.compile(r"(?<!\d)(?:0?[1-9]|1[0-2])\s?[/\-.]\s?(?:20)?\d{2}(?!\d)")
_LABELLED = re.compile(
    r"(?i)\b(?:exp(?:iry|iration|ire)?|date|valid(?:e|ité|ity)?|cvc2?|cvv2?|cvn|cid|csc|ccv|code|crypto(?:gramme)?"
    r"|s[ée]curit[ée]|security)\b[^\d\n]{0,12}(\d{3,4})(?!\d)"
)
_FOLLOWING = re.compile(
    r"(\[card number removed\]|\[expiry removed\]|\[code removed\])([^\d\n]{0,12})(\d{3,4})(?!\d)"
)
_GROUPS = re.compile(r"([\s.\-/]{1,2})")
EXPIRY_REDACTION = "[expiry removed]"
CODE_REDACTION = "[code removed]"


def redact_cards(text: str) -> tuple[str, bool]:
    """The text with every card number replaced by REDACTION, and whether any was found. With a card
    number in it, expiry dates and security codes are removed too."""
    found = False

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        # The card may run on into other numbers (its expiry, its code): its groups are tried longest first.
        parts = _GROUPS.split(match.group())
        for end in range(len(parts), 0, -2):
            if looks_like_card(re.sub(r"\D", "", "".join(parts[:end]))):
                found = True
                return REDACTION + "".join(parts[end:])
        return match.group()

    redacted = _CANDIDATE.sub(replace, text)
    if not found:
        return redacted, False
    redacted = _EXPIRY.sub(EXPIRY_REDACTION, redacted)
    redacted = _LABELLED.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + CODE_REDACTION, redacted)
    for _ in range(3):  # card, expiry, code: each group may follow the one before
        redacted = _FOLLOWING.sub(lambda m: f"{m.group(1)}{m.group(2)}{CODE_REDACTION}", redacted)
    return redacted, True
