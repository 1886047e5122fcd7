"""Money: a Decimal amount in an ISO 4217 currency, and the parsing of what a vendor types.

Amounts are exact decimals quantised to the currency's minor units; integer minor units appear only at a
payment provider's boundary (``to_minor``/``from_minor``). Stored amounts are DECIMAL(10,2) as in the
source schema, so currencies with three decimals (BHD, KWD, TND, ...) are not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency

from bot.domain.errors import (
    AmountNotPositive,
    CurrencyMismatch,
    InvalidAmount,
    InvalidPercent,
    TooManyDecimals,
    UnsupportedCurrency,
)

# ISO 4217 minor units of the currencies we accept.
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "EUR",
            "USD",
            "GBP",
            "ILS",
            "CHF",
            "CAD",
            "AUD",
            "NZD",
            "SEK",
            "NOK",
            "DKK",
            "PLN",
            "CZK",
            "HUF",
            "RON",
            "BGN",
            "TRY",
            "MAD",
            "AED",
            "SAR",
            "QAR",
            "EGP",
            "ZAR",
            "MXN",
            "BRL",
            "INR",
            "SGD",
            "HKD",
            "CNY",
            "THB",
            "PHP",
            "MYR",
            "NGN",
            "KES",
        ),
        2,
    ),
    **dict.fromkeys(("JPY", "KRW", "XOF", "XAF", "XPF", "CLP", "VND", "ISK", "UGX", "RWF"), 0),
}
# Largest amount a DECIMAL(10,2) column holds.
MAX_AMOUNT = Decimal("99999999.99")

# What a vendor may type next to a number, mapped to the currencies it can mean.
_SYMBOLS: dict[str, frozenset[str]] = {
    "€": frozenset({"EUR"}),
    "euro": frozenset({"EUR"}),
    "euros": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
    "₪": frozenset({"ILS"}),
    "nis": frozenset({"ILS"}),
    "shekel": frozenset({"ILS"}),
    "shekels": frozenset({"ILS"}),
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"}),
    "¥": frozenset({"JPY", "CNY"}),
    "₩": frozenset({"KRW"}),
    "cfa": frozenset({"XOF", "XAF"}),
    "fcfa": frozenset({"XOF", "XAF"}),
}
_GROUPING = re.compile(r"[\s\u00a0\u202f'’]")
_NUMBER = re.compile(r"[0-9.,\s\u00a0\u202f'’]*[0-9][0-9.,\s\u00a0\u202f'’]*")


def check_currency(code: str) -> str:
    """The upper-cased ISO code, or UnsupportedCurrency."""
    normalised = code.strip().upper()
    if normalised not in MINOR_UNITS:
        raise UnsupportedCurrency(currency=code)
    return normalised


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        currency = check_currency(self.currency)
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InvalidAmount(text=str(self.amount))
        exponent = Decimal(1).scaleb(-MINOR_UNITS[currency])
        quantised = self.amount.quantize(exponent)
        if quantised != self.amount:
            raise TooManyDecimals(text=str(self.amount), currency=currency, digits=MINOR_UNITS[currency])
        object.__setattr__(self, "currency", currency)
        object.__setattr__(self, "amount", quantised)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        currency = check_currency(currency)
        return cls(Decimal(units).scaleb(-MINOR_UNITS[currency]), currency)

    def to_minor(self) -> int:
        return int(self.amount.scaleb(MINOR_UNITS[self.currency]))

    @property
    def minor_units(self) -> int:
        return MINOR_UNITS[self.currency]

    def percent(self, percent: Percent) -> Money:
        """``percent`` of this amount, rounded half up to the minor unit."""
        exponent = Decimal(1).scaleb(-self.minor_units)
        raw = self.amount * percent.value / Decimal(100)
        return Money(raw.quantize(exponent, rounding=ROUND_HALF_UP), self.currency)

    def is_positive(self) -> bool:
        return self.amount > 0

    def is_zero(self) -> bool:
        return self.amount == 0

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(expected=self.currency, got=other.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def times(self, quantity: int) -> Money:
        """``quantity`` of this amount (an order line): exact, no rounding."""
        return Money(self.amount * quantity, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __str__(self) -> str:
        """The source's format: ``45.00 EUR``."""
        return f"{self.amount:f} {self.currency}"


def money_sum(amounts: list[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


def format_money(money: Money, locale: str) -> str:
    """The amount as a reader of ``locale`` writes it (``45,00 €`` in fr, ``€45.00`` in en)."""
    return str(format_currency(money.amount, money.currency, locale=locale))


def shown(money: Money, locale: str) -> str:
    """An amount as the reader writes it, one way per language. French keeps the source's own format
    (``45.00 EUR``, as in the texts vendors and customers already know); other languages get their usual
    one (``€45.00``, ``£45.00``, ``45.00 ₪``)."""
    return str(money) if locale == "fr" else format_money(money, locale)


@dataclass(frozen=True, slots=True)
class Percent:
    value: Decimal

    def __post_init__(self) -> None:
        if not self.value.is_finite() or not Decimal(0) < self.value <= Decimal(100):
            raise InvalidPercent(text=str(self.value))

    def __str__(self) -> str:
        return f"{self.value.normalize():f}%"


def _to_decimal(number: str, original: str) -> tuple[Decimal, int]:
    """Reads ``1 234,50``, ``1,234.50``, ``45,5`` or ``45.5`` and returns the value with the number of
    decimals typed. The last separator is the decimal one, unless the same separator repeats (then it
    groups thousands). Spaces and apostrophes group thousands only in groups of three."""
    compact = number.strip()
    if not re.fullmatch(r"[0-9.,\s\u00a0\u202f'’]+", compact):
        raise InvalidAmount(text=original)
    separators = [char for char in compact if char in ".,"]
    integer, fraction = compact, ""
    if separators:
        last = separators[-1]
        if separators.count(last) > 1 and len(set(separators)) == 1:
            groups = compact.split(last)
            if any(len(group.strip()) != 3 for group in groups[1:]):
                raise InvalidAmount(text=original)
            integer = "".join(groups)
        else:
            integer, _, fraction = compact.rpartition(last)
            other = "." if last == "," else ","
            if other in integer and any(len(g) != 3 for g in integer.split(other)[1:]):
                raise InvalidAmount(text=original)
            integer = integer.replace(other, "")
            if not fraction.isdigit():
                raise InvalidAmount(text=original)
    integer = integer.strip()
    if not integer:
        integer = "0"
    if _GROUPING.search(integer):
        if not re.fullmatch(r"[0-9]{1,3}([\s\u00a0\u202f'’][0-9]{3})+", integer):
            raise InvalidAmount(text=original)
        integer = _GROUPING.sub("", integer)
    if not integer.isdigit():
        raise InvalidAmount(text=original)
    try:
        return Decimal(f"{integer}.{fraction}" if fraction else integer), len(fraction)
    except InvalidOperation as error:
        raise InvalidAmount(text=original) from error


def _split_number(text: str) -> tuple[str, str]:
    """The numeric part and the rest (currency words or symbols around it)."""
    match = _NUMBER.search(text)
    if match is None:
        raise InvalidAmount(text=text)
    rest = (text[: match.start()] + " " + text[match.end() :]).strip().lower()
    return match.group().strip(), rest


def _check_unit(unit: str, currency: str, original: str) -> None:
    if not unit:
        return
    if unit.upper() in MINOR_UNITS:
        if unit.upper() != currency:
            raise CurrencyMismatch(expected=currency, got=unit.upper())
        return
    meanings = _SYMBOLS.get(unit)
    if meanings is None:
        raise InvalidAmount(text=original)
    if currency not in meanings:
        raise CurrencyMismatch(expected=currency, got=unit)


def parse_amount(text: str, currency: str) -> Money:
    """A positive amount typed by a vendor: ``45``, ``45,50``, ``45.5 €``, ``EUR 45``, ``1 234,50``."""
    currency = check_currency(currency)
    original = text.strip()
    if original.startswith("-"):
        raise InvalidAmount(text=original)
    number, unit = _split_number(original)
    _check_unit(unit, currency, original)
    value, decimals = _to_decimal(number, original)
    if decimals > MINOR_UNITS[currency]:
        # "1.500" must not silently become 1.50: the vendor may have meant 1500.
        raise TooManyDecimals(text=original, currency=currency, digits=MINOR_UNITS[currency])
    if value > MAX_AMOUNT:
        raise InvalidAmount(text=original)
    if value == 0:
        raise AmountNotPositive(amount=original)
    return Money(value, currency)


def parse_percent(text: str) -> Percent:
    original = text.strip()
    if not original.endswith("%"):
        raise InvalidPercent(text=original)
    number = original[:-1].strip()
    try:
        value, _ = _to_decimal(number, original)
    except InvalidAmount as error:
        raise InvalidPercent(text=original) from error
    return Percent(value)


def parse_amount_or_percent(text: str, currency: str) -> Money | Percent:
    """``30%`` is a percentage (of whatever the caller applies it to); anything else an amount."""
    if text.strip().endswith("%"):
        return parse_percent(text)
    return parse_amount(text, currency)
