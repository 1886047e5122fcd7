"""What a customer's short reply to a reminder asks for (``lien``, ``j'ai payé``, ``mes cartes``, ``oublier ma
carte``): a pure parser, no I/O.

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
    # The cards they saved with the vendor: listed, or forgotten (never charged again, deleted).
    CARDS = "cards"
    FORGET_CARD = "forget_card"
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
_NEGATABLE: Final = frozenset({CustomerIntent.PAID, CustomerIntent.FORGET_CARD})
# Saved cards are asked about with a card word and a word that says which: "mes cartes", "my card",
# "הכרטיסים שלי" list them; "oublier ma carte", "forget card", "שכח כרטיס", "מחק כרטיס" forget them. Any
# order, any article between ("oubliez ma carte svp", "supprimer la carte").
_CARD_WORDS: Final = frozenset(
    {"carte", "cartes", "card", "cards", "כרטיס", "הכרטיס", "כרטיסים", "הכרטיסים", "כרטיסי", "כרטיסיי"}
)
_FORGET_WORDS: Final = frozenset(
    {"oublier", "oubliez", "oublie", "supprimer", "supprimez", "supprime", "effacer", "effacez", "forget",
     "delete", "remove", "erase", "שכח", "שכחו", "תשכח", "תשכחו", "מחק", "מחקו", "תמחק", "תמחקו", "הסירו"}
)  # fmt: skip
_WHOSE_WORDS: Final = frozenset(
    {"mes", "ma", "mon", "my", "saved", "enregistree", "enregistrees", "שלי", "השמור", "השמורים", "שמור",
     "שמורים"}
)  # fmt: skip
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
    one of the phrases above has that intent (first in priority order); one with a card word and a forget
    word (not negated) forgets the cards, one with a card word and a "mine" word lists them; anything
    longer, or without a phrase, is OTHER and goes to the vendor.
    """
    words = [word.strip("'") for word in _NOT_WORD.sub(" ", normalise(text)).split()]
    words = [word for word in words if word]
    if not words or len(words) > _SHORT_REPLY_WORDS:
        return CustomerIntent.OTHER
    parts = [part for word in words for part in word.split("'") if part]
    negated = not _NEGATIONS.isdisjoint(parts)
    if "stop" not in parts and not _CARD_WORDS.isdisjoint(parts):
        if not negated and not _FORGET_WORDS.isdisjoint(parts):
            return CustomerIntent.FORGET_CARD
        if not _WHOSE_WORDS.isdisjoint(parts):
            return CustomerIntent.CARDS
    for intent, phrases in _INTENTS:
        if negated and intent in _NEGATABLE:
            continue
        if any(_contains(parts, phrase) for phrase in phrases):
            return intent
    return CustomerIntent.OTHER
