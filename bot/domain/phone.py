"""Phone numbers as WhatsApp writes them (``wa_id``): country code and number, digits only."""

from __future__ import annotations

import re

from bot.domain.errors import InvalidPhone

_SEPARATORS = re.compile(r"[\s\-().\u00a0]")


def normalise_phone(text: str) -> str:
    """``+33 6 12 34 56 78`` or ``0033612345678`` -> ``33612345678``.

    A number without its country code is refused rather than guessed."""
    compact = _SEPARATORS.sub("", text.strip())
    if compact.startswith("+"):
        compact = compact[1:]
    elif compact.startswith("00"):
        compact = compact[2:]
    elif compact.startswith("0"):
        raise InvalidPhone(phone=text)
    if not compact.isdigit() or not 8 <= len(compact) <= 15:
        raise InvalidPhone(phone=text)
    return compact
