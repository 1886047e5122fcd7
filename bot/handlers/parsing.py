"""What vendors and customers type on WhatsApp, read into plain values: a pure parser, no I/O, no reply text.

Vendors type short commands from an admin phone (``acompte 12 30%``); customers answer reminders with a word
or two (``lien``, ``j'ai payé``). Both come in French or English, in any case, with or without accents:
people type fast on phones and auto-correct adds or drops accents at random. Replies are rendered elsewhere
from templates, so a failure here is a stable code (``Unparsed.problem``), never a sentence.

Customer replies are read in ``customer_words``, and both compare words as ``words.normalise`` folds them;
``parse_customer_reply``, ``CustomerIntent`` and ``normalise`` are still importable from here.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.domain.channel import INSTAGRAM_PREFIX
from bot.handlers.customer_words import CustomerIntent, parse_customer_reply
from bot.handlers.words import normalise

__all__ = [
    "CustomerIntent",
    "Unparsed",
    "VendorCommand",
    "Verb",
    "normalise",
    "parse_customer_reply",
    "parse_vendor_command",
]


class Verb(StrEnum):
    """What a vendor asks for; the keywords of each verb are in ``_KEYWORDS``."""

    HELP = "help"
    ORDERS = "orders"
    NEW = "new"
    ACCEPT = "accept"
    PAY = "pay"
    DEPOSIT = "deposit"
    FULL = "full"
    BALANCE = "balance"
    CASH = "cash"
    STATUS = "status"
    CANCEL = "cancel"
    SHIP = "ship"
    DONE = "done"
    REMIND = "remind"
    REMINDERS = "reminders"
    CHECK = "check"
    REFUND = "refund"
    LANGUAGE = "language"
    # Card on file: a guarantee asked, captured or released; the saved card charged; a phone payment.
    GUARANTEE = "guarantee"
    CAPTURE = "capture"
    RELEASE = "release"
    CARD = "card"
    PHONE = "phone"
    # What was collected today, this week or this month.
    REPORT = "report"


@dataclass(frozen=True, slots=True)
class VendorCommand:
    """A well-formed vendor command. Amounts stay text: only the domain knows the vendor's currency."""

    verb: Verb
    order: int | None = None
    amount: str | None = None
    phone: str | None = None
    label: str = ""
    switch: bool | None = None
    language: str = "fr"
    # ``langue +972501234567 he``: the language asked for a customer, as typed (the domain checks it).
    locale: str | None = None
    # ``nouvelle PHONE 2x gateau-choc 1x livraison``: each product (its SKU or name, as typed) and how many.
    items: tuple[tuple[str, int], ...] = ()
    # ``rapport semaine``: the span of a report (today, week, month), in English.
    span: str | None = None


@dataclass(frozen=True, slots=True)
class Unparsed:
    """Text that is not a command, with enough to pick the right usage reply.

    ``verb`` is the verb recognised (its arguments were wrong) or, for ``unknown_command``, the nearest verb
    by spelling (so ``acompt 12`` can answer with the deposit usage), or None. ``problem`` is one of
    ``unknown_command``, ``missing_order``, ``bad_order``, ``missing_phone``, ``missing_price``,
    ``bad_switch``, ``missing_locale``, ``bad_period`` (a report's span), ``unexpected_argument``,
    ``missing_product`` (a quantity with no product after it), ``price_and_items`` (a new order given a price
    and products).
    """

    text: str
    verb: Verb | None
    problem: str
    language: str = "fr"


# Vendor keywords, already normalised, as (French, English). Words shared by both languages ("menu",
# "total") and the bare "?" are listed as French, the bot's default language.
_KEYWORDS_BY_VERB: Final[dict[Verb, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    Verb.HELP: (("aide", "menu", "?"), ("help",)),
    Verb.ORDERS: (("commandes", "liste"), ("orders", "list")),
    Verb.NEW: (("nouvelle", "nouveau"), ("new",)),
    Verb.ACCEPT: (("accepter", "accepte"), ("accept",)),
    Verb.PAY: (("paye", "payer"), ("paid", "pay")),
    Verb.DEPOSIT: (("acompte",), ("deposit",)),
    Verb.FULL: (("complet", "total"), ("full",)),
    Verb.BALANCE: (("solde",), ("balance",)),
    Verb.CASH: (("caisse",), ("cash",)),
    Verb.STATUS: (("statut", "etat"), ("status",)),
    Verb.CANCEL: (("annuler",), ("cancel",)),
    Verb.SHIP: (("livraison", "livrer"), ("ship",)),
    Verb.DONE: (("termine", "fini"), ("done",)),
    Verb.REMIND: (("rappel",), ("remind",)),
    Verb.REMINDERS: (("rappels",), ("reminders",)),
    Verb.CHECK: (("connexion",), ("connection",)),
    Verb.REFUND: (("rembourser", "remboursement", "rembourse"), ("refund",)),
    Verb.LANGUAGE: (("langue",), ("language", "lang")),
    Verb.GUARANTEE: (("garantie",), ("guarantee",)),
    Verb.CAPTURE: (("debiter",), ("capture",)),
    Verb.RELEASE: (("liberer",), ("release",)),
    Verb.CARD: (("carte",), ("card",)),
    Verb.PHONE: (("telephone",), ("phone",)),
    Verb.REPORT: (("rapport",), ("report",)),
}
_KEYWORDS: Final[dict[str, tuple[Verb, str]]] = {
    word: (verb, language)
    for verb, (french, english) in _KEYWORDS_BY_VERB.items()
    for language, words in (("fr", french), ("en", english))
    for word in words
}
# Verbs whose only argument is the order number: anything after it is refused rather than ignored, so a
# mistyped "payé 12 30%" does not silently open the wrong flow.
_ORDER_ONLY: Final = frozenset(
    {
        Verb.ACCEPT,
        Verb.PAY,
        Verb.FULL,
        Verb.BALANCE,
        Verb.STATUS,
        Verb.CANCEL,
        Verb.SHIP,
        Verb.DONE,
        Verb.REMIND,
        Verb.RELEASE,
        Verb.CARD,
        Verb.PHONE,
    }
)
# An optional amount after the order: ``acompte 12 45``, ``garantie 12 30%``, ``debiter 12 20``.
_WITH_AMOUNT: Final = frozenset({Verb.DEPOSIT, Verb.CASH, Verb.REFUND, Verb.GUARANTEE, Verb.CAPTURE})
_SWITCHES: Final[dict[str, bool]] = {
    **dict.fromkeys(("on", "oui", "yes", "activer", "marche"), True),
    **dict.fromkeys(("off", "non", "no", "desactiver", "arret"), False),
}
# A currency written as its own token after a price ("150 €"). An explicit list, not "any three letters",
# so that a label's first word ("150 pot de miel") is never swallowed.
_CURRENCIES: Final = frozenset(
    {"€", "$", "£", "₪", "¥", "₩", "eur", "euro", "euros", "usd", "gbp", "ils", "nis", "shekel", "shekels"}
    | {"chf", "cad", "cfa", "fcfa", "xof", "xaf", "mad"}
)
_CURRENCY_SIGNS: Final = frozenset({"€", "$", "£", "₪", "¥", "₩"})
# Order number markers: "#12", "n°12", "no 12", "nº 12" (NFKD reads "º" as "o").
_ORDER_MARKERS: Final = frozenset({"#", "n°", "no", "n°.", "no.", "num", "num.", "numero"})
_ORDER: Final = re.compile(r"(?:#|n°\.?|no\.?|num\.?|numero)?([0-9]+)")
_MAX_ORDER_DIGITS: Final = 9
# An order line's quantity: "2x", "2×", "2X", or glued to its product ("2×gateau-choc"); or "2" then "x".
_QUANTITY: Final = re.compile(r"([0-9]{1,6})[xX×](.*)")
_COUNT: Final = re.compile(r"[0-9]{1,6}")
_TIMES: Final = frozenset({"x", "X", "×"})
# Punctuation tolerated around a verb: "/aide", "!payé", "*payé*" (WhatsApp bold), "acompte:".
_VERB_EDGES: Final = "/!.,;:*_~?"
# ``rapport [aujourd'hui|semaine|mois]`` / ``report [today|week|month]``: the words of each span.
_SPANS: Final[dict[str, str]] = {
    **dict.fromkeys(("aujourd'hui", "aujourdhui", "jour", "today", "day"), "today"),
    **dict.fromkeys(("semaine", "week"), "week"),
    **dict.fromkeys(("mois", "month"), "month"),
}
_FUZZY_CUTOFF: Final = 0.7
_LONGEST_KEYWORD: Final = max(len(word) for word in _KEYWORDS)


@dataclass(frozen=True, slots=True)
class _Token:
    """A whitespace-separated word: its normalised form to match, its place in the text to slice the
    original (amounts and labels are returned exactly as typed)."""

    word: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    return [
        _Token(normalise(match.group()), match.start(), match.end()) for match in re.finditer(r"\S+", text)
    ]


def _bare(word: str) -> str:
    """The word without tolerated punctuation; a lone "?" (or "??") stays, being the help keyword."""
    core = word.strip(_VERB_EDGES)
    if not core and "?" in word:
        return "?"
    return core


def _verb(token: _Token) -> tuple[Verb, str] | None:
    return _KEYWORDS.get(_bare(token.word))


def _take_order(tokens: list[_Token], index: int) -> tuple[int | str, int]:
    """The order number at ``index`` (or a problem code) and the index after it. A lone marker ("no",
    "#") joins the next token."""
    if index >= len(tokens):
        return "missing_order", index
    word = tokens[index].word
    used = 1
    if word in _ORDER_MARKERS:
        if index + 1 >= len(tokens):
            return "missing_order", index + 1
        word += tokens[index + 1].word
        used = 2
    core = word.strip("*_~").rstrip(".!,;:")
    match = _ORDER.fullmatch(core)
    if match is None:
        return ("bad_order" if re.search("[0-9]", core) else "missing_order"), index + used
    # Leading zeros are harmless; the length check keeps int() away from absurd (and slow) numbers.
    digits = match.group(1).lstrip("0")
    if not digits or len(digits) > _MAX_ORDER_DIGITS:
        return "bad_order", index + used
    return int(digits), index + used


def _is_phone(word: str) -> bool:
    """Shaped like a phone number ("+33612345678", "0033612345678", "+33-6-12-34-56-78"); the domain checks
    the rest. Enough digits that a price ("150") is never taken for a phone."""
    if not re.fullmatch(r"\+?[0-9(][0-9().\-/]*", word):
        return False
    return 6 <= sum(char.isdigit() for char in word) <= 17


def _is_customer(word: str) -> bool:
    """A phone, or an Instagram customer: ``ig:`` and their username or the end of their id (the domain
    checks the rest)."""
    return _is_phone(word) or (word.startswith(INSTAGRAM_PREFIX) and len(word) > len(INSTAGRAM_PREFIX))


def _is_price(word: str) -> bool:
    """A number, with a currency sign before it or a currency after it at most ("150€", "€150", "45,50")."""
    match = re.fullmatch(r"([^0-9]*)([0-9][0-9.,']*)([^0-9]*)", word)
    if match is None:
        return False
    before, _, after = match.groups()
    return (not before or before in _CURRENCY_SIGNS) and (not after or after in _CURRENCIES)


def _nearest(text: str, word: str) -> Unparsed:
    """An unknown command, with the verb the first word is closest to (difflib), for a helpful usage reply."""
    core = _bare(word)
    if not core or len(core) > 2 * _LONGEST_KEYWORD:
        return Unparsed(text, None, "unknown_command")
    close = difflib.get_close_matches(core, list(_KEYWORDS), n=1, cutoff=_FUZZY_CUTOFF)
    if not close:
        return Unparsed(text, None, "unknown_command")
    verb, language = _KEYWORDS[close[0]]
    return Unparsed(text, verb, "unknown_command", language)


def _quantity(text: str, tokens: list[_Token], index: int) -> tuple[int, int, int] | None:
    """A quantity at ``index`` ("2x", "2×", "2 x", or "2×sku" glued to its product): the quantity, the
    index of the token after it and where its product starts in the text; None when there is none."""
    typed = text[tokens[index].start : tokens[index].end]
    match = _QUANTITY.fullmatch(typed)
    if match is not None:
        start = tokens[index].start + match.start(2)
        glued = bool(match.group(2))
        return int(match.group(1)), index + (0 if glued else 1), start
    after = index + 1
    if (
        _COUNT.fullmatch(typed)
        and after < len(tokens)
        and text[tokens[after].start : tokens[after].end] in _TIMES
    ):
        return int(typed), after + 1, tokens[after].end
    return None


def _items(text: str, args: list[_Token], language: str) -> list[tuple[str, int]] | Unparsed:
    """``2x gateau-choc 1x livraison``, ``2 x choc-cake``, ``2×choc-cake``, ``gateau-choc`` (one): a quantity
    starts a product, whose SKU or name runs to the next quantity or comma."""
    found: list[tuple[str, int]] = []
    quantity: int | None = None
    start: int | None = None
    end = 0

    def close() -> None:
        nonlocal quantity, start
        if start is not None:
            reference = text[start:end].strip().strip(",").strip()
            if reference:
                found.append((reference, 1 if quantity is None else quantity))
        quantity, start = None, None

    index = 0
    while index < len(args):
        token = args[index]
        typed = text[token.start : token.end]
        counted = _quantity(text, args, index)
        if counted is not None:
            if quantity is not None and start is None:
                return Unparsed(text, Verb.NEW, "missing_product", language)
            close()
            quantity, index, glued_start = counted
            if index < len(args) and args[index] is token:  # "2×sku": the product is in this token
                start, end, index = glued_start, token.end, index + 1
            continue
        if (_is_price(token.word) and not _COUNT.fullmatch(typed)) or typed in _CURRENCY_SIGNS:
            return Unparsed(text, Verb.NEW, "price_and_items", language)
        if typed.strip(",") and start is None:
            start = token.start
        end = token.end
        if typed.endswith(","):
            close()
        index += 1
    if quantity is not None and start is None:
        return Unparsed(text, Verb.NEW, "missing_product", language)
    close()
    return found


def _new_order(text: str, args: list[_Token], language: str) -> VendorCommand | Unparsed:
    """``nouvelle PHONE PRICE [LABEL...]`` (``ig:NAME`` for an Instagram customer's PHONE); the price may be
    followed by a currency token ("150 €").
    Or ``nouvelle PHONE ITEMS``: the order made of the vendor's products (see ``_items``)."""
    if not args or not _is_customer(args[0].word):
        return Unparsed(text, Verb.NEW, "missing_phone", language)
    if len(args) < 2:
        return Unparsed(text, Verb.NEW, "missing_price", language)
    if not _is_price(args[1].word) or _quantity(text, args, 1) is not None:
        items = _items(text, args[1:], language)
        if isinstance(items, Unparsed):
            return items
        if not items:
            return Unparsed(text, Verb.NEW, "missing_price", language)
        return VendorCommand(
            Verb.NEW, phone=text[args[0].start : args[0].end], items=tuple(items), language=language
        )
    last = 2 if len(args) > 2 and args[2].word in _CURRENCIES else 1
    if last + 1 < len(args) and _quantity(text, args, last + 1) is not None:
        return Unparsed(text, Verb.NEW, "price_and_items", language)
    return VendorCommand(
        Verb.NEW,
        amount=text[args[1].start : args[last].end],
        phone=text[args[0].start : args[0].end],
        label=text[args[last].end :].strip(),
        language=language,
    )


def _language(text: str, args: list[_Token], language: str) -> VendorCommand | Unparsed:
    """``langue PHONE LOCALE``: the language of one customer's messages."""
    if not args or not _is_customer(args[0].word):
        return Unparsed(text, Verb.LANGUAGE, "missing_phone", language)
    if len(args) < 2:
        return Unparsed(text, Verb.LANGUAGE, "missing_locale", language)
    if len(args) > 2:
        return Unparsed(text, Verb.LANGUAGE, "unexpected_argument", language)
    return VendorCommand(
        Verb.LANGUAGE,
        phone=text[args[0].start : args[0].end],
        locale=_bare(args[1].word),
        language=language,
    )


def _with_order(
    text: str, tokens: list[_Token], index: int, verb: Verb, language: str, order: int | None
) -> VendorCommand | Unparsed:
    """The arguments of a verb that works on one order; ``order`` is given when it was typed first."""
    if order is None:
        found, index = _take_order(tokens, index)
        if isinstance(found, str):
            return Unparsed(text, verb, found, language)
        order = found
    rest = tokens[index:]
    if verb in _WITH_AMOUNT:
        amount = text[rest[0].start : rest[-1].end] if rest else None
        return VendorCommand(verb, order=order, amount=amount, language=language)
    if verb is Verb.REMINDERS:
        switch = _SWITCHES.get(_bare(rest[0].word)) if rest else None
        if switch is None:
            return Unparsed(text, verb, "bad_switch", language)
        if len(rest) > 1:
            return Unparsed(text, verb, "unexpected_argument", language)
        return VendorCommand(verb, order=order, switch=switch, language=language)
    if rest:
        return Unparsed(text, verb, "unexpected_argument", language)
    return VendorCommand(verb, order=order, language=language)


def _report(text: str, args: list[_Token], language: str) -> VendorCommand | Unparsed:
    """``rapport [aujourd'hui|semaine|mois]``: today when no span is given."""
    if not args:
        return VendorCommand(Verb.REPORT, span="today", language=language)
    span = _SPANS.get(_bare(args[0].word))
    if span is None:
        return Unparsed(text, Verb.REPORT, "bad_period", language)
    if len(args) > 1:
        return Unparsed(text, Verb.REPORT, "unexpected_argument", language)
    return VendorCommand(Verb.REPORT, span=span, language=language)


def parse_vendor_command(text: str) -> VendorCommand | Unparsed:
    """Reads one command from a vendor's admin phone. Never raises: anything unreadable is ``Unparsed``.

    The verb comes first (``payé 12``), or second after the order (``12 payé``). ``aide``, ``commandes`` and
    ``connexion`` ignore trailing words (they cannot do harm); every other verb refuses arguments it does
    not take.
    """
    tokens = _tokens(text)
    if not tokens:
        return Unparsed(text, None, "unknown_command")
    found = _verb(tokens[0])
    if found is not None:
        verb, language = found
        if verb in {Verb.HELP, Verb.ORDERS, Verb.CHECK}:
            return VendorCommand(verb, language=language)
        if verb is Verb.NEW:
            return _new_order(text, tokens[1:], language)
        if verb is Verb.LANGUAGE:
            return _language(text, tokens[1:], language)
        if verb is Verb.REPORT:
            return _report(text, tokens[1:], language)
        return _with_order(text, tokens, 1, verb, language, None)
    order, after = _take_order(tokens, 0)
    if not isinstance(order, int) or after >= len(tokens):
        return _nearest(text, tokens[0].word)
    found = _verb(tokens[after])
    if found is None:
        return _nearest(text, tokens[after].word)
    verb, language = found
    if verb in {Verb.HELP, Verb.ORDERS, Verb.NEW, Verb.CHECK, Verb.LANGUAGE, Verb.REPORT}:
        return Unparsed(text, verb, "unexpected_argument", language)
    return _with_order(text, tokens, after + 1, verb, language, order)
