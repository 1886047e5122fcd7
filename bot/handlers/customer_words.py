"""What a customer's short reply to a reminder asks for (``lien``, ``j'ai payé``): a pure parser, no I/O.

Customers answer with a word or two, in French, English or Hebrew, in any case, with or without accents;
anything else goes to the vendor. Vendor commands are read in ``parsing``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from bot.handlers.words import normalise

__all__ = ["CustomerIntent", "parse_customer_reply"]


class CustomerIntent(StrEnum):
    """What a customer's short reply asks for; anything else is forwarded to the vendor."""

    LINK = "link"
    BALANCE = "balance"
    PAID = "paid"
    STOP = "stop"
    START = "start"
    OTHER = "other"


# Customer phrases, normalised and split into words (apostrophes split too: "j'ai" -> "j", "ai"), by
# priority: STOP first, since an opt-out must never be missed.
_INTENTS: Final[tuple[tuple[CustomerIntent, tuple[tuple[str, ...], ...]], ...]] = (
    (
        CustomerIntent.STOP,
        (
            ("stop",),
            ("stopper",),
            ("arret",),
            ("arreter",),
            ("unsubscribe",),
            ("desabonner",),
            ("desabonne",),
            ("desabonnement",),
            ("הסר",),
            ("עצור",),
        ),
    ),
    (
        CustomerIntent.START,
        (("start",), ("reprendre",), ("subscribe",), ("abonner",), ("reabonner",), ("הרשמה",)),
    ),
    (
        CustomerIntent.PAID,
        (
            ("paye",),
            ("payee",),
            ("paid",),
            ("regle",),
            ("paiement", "effectue"),
            ("paiement", "fait"),
            ("payment", "made"),
            ("payment", "sent"),
            ("שילמתי",),
            ("שולם",),
        ),
    ),
    (
        CustomerIntent.BALANCE,
        (
            ("solde",),
            ("balance",),
            ("reste",),
            ("restant",),
            ("combien",),
            ("how", "much"),
            ("remaining",),
            ("יתרה",),
            ("כמה",),
        ),
    ),
    (CustomerIntent.LINK, (("lien",), ("liens",), ("link",), ("links",), ("קישור",), ("לינק",))),
)
# In a negated message ("pas encore payé", "not paid") a PAID keyword means the opposite. Other intents
# survive negation: "pas reçu le lien" still wants the link, "non, stop" still opts out.
_NEGATIONS: Final = frozenset(
    {"pas", "ne", "n", "not", "non", "no", "jamais", "never", "didn", "didnt", "לא", "עוד"}
)
_NEGATABLE: Final = frozenset({CustomerIntent.PAID})
# Intent is read from short messages only: in a longer one a keyword is usually incidental ("le lien ne
# marche pas sur mon téléphone, je peux payer en espèces ?") and the vendor should read it.
_SHORT_REPLY_WORDS: Final = 4
_NOT_WORD: Final = re.compile(r"[^\w']|_")


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(tuple(words[i : i + size]) == phrase for i in range(len(words) - size + 1))


def parse_customer_reply(text: str) -> CustomerIntent:
    """The intent of a customer's message. Never raises.

    Rule: a message of at most four words (punctuation and emoji ignored, "j'ai" counting as one) carrying
    one of the phrases above has that intent (first in priority order); anything longer, or without a
    phrase, is OTHER and goes to the vendor.
    """
    words = [word.strip("'") for word in _NOT_WORD.sub(" ", normalise(text)).split()]
    words = [word for word in words if word]
    if not words or len(words) > _SHORT_REPLY_WORDS:
        return CustomerIntent.OTHER
    parts = [part for word in words for part in word.split("'") if part]
    negated = not _NEGATIONS.isdisjoint(parts)
    for intent, phrases in _INTENTS:
        if negated and intent in _NEGATABLE:
            continue
        if any(_contains(parts, phrase) for phrase in phrases):
            return intent
    return CustomerIntent.OTHER
