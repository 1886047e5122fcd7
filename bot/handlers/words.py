"""Text as keywords are compared in: case-, accent-, quote- and spacing-insensitive.

Shared by the vendor command parser (``parsing``) and the customer reply parser (``customer_words``): people
type fast on phones and auto-correct adds or drops accents at random, so both compare words in this form.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["normalise"]


# Typographic apostrophes and quotes, folded so "j’ai" and "j'ai" read alike. Applied before NFKD (which
# turns the acute accent "´", often typed as an apostrophe, into a space) and after it (which turns a double
# prime into two primes).
_QUOTES: Final = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035\u02bc\u02b9\u00b4`", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb", '"'),
    }
)


def normalise(text: str) -> str:
    """Case-, accent- and spacing-insensitive form of ``text``, the only form keywords are compared in.

    NFKD splits accents off their letters (and reads full-width digits as digits), casefold lowers case,
    combining marks are dropped, quotes folded, whitespace collapsed. Idempotent.
    """
    folded = unicodedata.normalize("NFKD", text.translate(_QUOTES)).casefold()
    # casefold can produce new decomposable letters and marks ("İ" -> "i̇"), hence a second NFKD.
    folded = unicodedata.normalize("NFKD", folded)
    kept = "".join(char for char in folded if not unicodedata.combining(char))
    return " ".join(kept.translate(_QUOTES).split())
