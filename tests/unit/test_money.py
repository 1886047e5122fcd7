from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from bot.domain.errors import (
    AmountNotPositive,
    CurrencyMismatch,
    InvalidAmount,
    InvalidPercent,
    TooManyDecimals,
    UnsupportedCurrency,
)
from bot.domain.money import (
    MINOR_UNITS,
    Money,
    Percent,
    format_money,
    parse_amount,
    parse_amount_or_percent,
)

EUR = "EUR"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("45", "45.00"),
        ("45,50", "45.50"),
        ("45.5 €", "45.50"),
        ("€45", "45.00"),
        ("45€", "45.00"),
        ("EUR 45", "45.00"),
        ("45 eur", "45.00"),
        ("45 euros", "45.00"),
        ("1 234,50", "1234.50"),
        ("1\u202f234,50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("1.234.567", "1234567.00"),
        ("0,5", "0.50"),
    ],
)
def test_a_vendor_can_type_an_amount_the_way_they_write_it(typed: str, expected: str) -> None:
    assert parse_amount(typed, EUR) == Money(Decimal(expected), EUR)


@pytest.mark.parametrize("typed", ["", "abc", "-4", "45 50", "1,2,3", "12..5", "45 EUR 30", "30%", "4 5"])
def test_text_that_is_not_an_amount_is_refused(typed: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(typed, EUR)


def test_three_decimals_are_refused_rather_than_read_as_thousands_or_cents() -> None:
    with pytest.raises(TooManyDecimals):
        parse_amount("1.500", EUR)
    with pytest.raises(TooManyDecimals):
        parse_amount("1,500", EUR)


def test_a_zero_amount_is_refused() -> None:
    with pytest.raises(AmountNotPositive):
        parse_amount("0", EUR)


def test_a_symbol_of_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        parse_amount("45 $", EUR)
    with pytest.raises(CurrencyMismatch):
        parse_amount("45 USD", EUR)


def test_shekels_can_be_typed_with_their_symbol_or_nis() -> None:
    assert parse_amount("₪120", "ILS") == Money(Decimal(120), "ILS")
    assert parse_amount("120 NIS", "ILS") == Money(Decimal(120), "ILS")


def test_zero_decimal_currencies_refuse_cents() -> None:
    assert parse_amount("4500", "JPY") == Money(Decimal(4500), "JPY")
    with pytest.raises(TooManyDecimals):
        parse_amount("45.50", "JPY")


def test_a_percentage_is_recognised_as_such() -> None:
    assert parse_amount_or_percent("30%", EUR) == Percent(Decimal(30))
    assert parse_amount_or_percent("12,5 %", EUR) == Percent(Decimal("12.5"))
    assert parse_amount_or_percent("45", EUR) == Money(Decimal(45), EUR)
    for bad in ("0%", "150%", "x%"):
        with pytest.raises(InvalidPercent):
            parse_amount_or_percent(bad, EUR)


def test_money_formats_as_the_source_does() -> None:
    assert str(Money(Decimal(45), EUR)) == "45.00 EUR"
    assert str(Money(Decimal(4500), "JPY")) == "4500 JPY"


def test_money_formats_per_locale() -> None:
    amount = Money(Decimal("1234.5"), EUR)
    assert format_money(amount, "fr") == "1\u202f234,50\u00a0€"
    assert format_money(amount, "en") == "€1,234.50"
    assert "₪" in format_money(Money(Decimal(45), "ILS"), "he")


def test_percent_of_an_amount_rounds_half_up_to_the_cent() -> None:
    assert Money(Decimal("150"), EUR).percent(Percent(Decimal(30))) == Money(Decimal(45), EUR)
    assert Money(Decimal("0.05"), EUR).percent(Percent(Decimal(50))) == Money(Decimal("0.03"), EUR)


def test_amounts_in_different_currencies_do_not_mix() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money(Decimal(1), EUR) + Money(Decimal(1), "USD")


def test_unknown_and_three_decimal_currencies_are_refused() -> None:
    for code in ("XYZ", "KWD", "TND"):
        with pytest.raises(UnsupportedCurrency):
            Money(Decimal(1), code)


def test_money_refuses_fractions_below_the_minor_unit() -> None:
    with pytest.raises(TooManyDecimals):
        Money(Decimal("1.005"), EUR)


@given(
    currency=st.sampled_from(sorted(MINOR_UNITS)), units=st.integers(min_value=-(10**10), max_value=10**10)
)
def test_minor_units_round_trip_exactly_for_every_supported_currency(currency: str, units: int) -> None:
    money = Money.from_minor(units, currency)
    assert money.to_minor() == units
    assert Money.from_minor(money.to_minor(), currency) == money
    assert money.amount.as_tuple().exponent == -MINOR_UNITS[currency]


@given(
    currency=st.sampled_from(sorted(MINOR_UNITS)),
    units=st.integers(min_value=1, max_value=9_999_999_999),
)
def test_what_money_prints_parses_back_to_the_same_amount(currency: str, units: int) -> None:
    money = Money.from_minor(units, currency)
    if money.amount > Decimal("99999999.99"):
        return
    assert parse_amount(f"{money.amount:f}", currency) == money
    assert parse_amount(str(money), currency) == money
