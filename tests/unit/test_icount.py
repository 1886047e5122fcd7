"""iCount's pure pieces: amounts and currencies, bracket encoding, IPN secrets and notices."""

from __future__ import annotations

import uuid
from decimal import Decimal

from bot.domain.money import Money
from bot.payments.icount.client import IcountClient, IcountCredentials, flatten
from bot.payments.icount.consts import amount_text, currency_params, parse_sum
from bot.payments.icount.provider import IcountProvider
from bot.payments.icount.webhooks import ipn_notice, transaction_of_secret
from bot.payments.port import CallbackNotice


def test_ils_is_currency_5_and_every_currency_also_goes_by_its_iso_code() -> None:
    assert currency_params("ILS") == {"currency_code": "ILS", "currency_id": 5}
    assert currency_params("EUR") == {"currency_code": "EUR", "currency_id": 1}
    assert currency_params("USD")["currency_id"] == 2 and currency_params("GBP")["currency_id"] == 4
    assert currency_params("CHF") == {"currency_code": "CHF"}


def test_amounts_go_out_as_plain_decimals_and_come_back_as_money_or_nothing() -> None:
    assert amount_text(Money(Decimal("45"), "ILS")) == "45.00"
    assert parse_sum("105.00", "ILS") == Money(Decimal("105.00"), "ILS")
    assert parse_sum("abc", "ILS") is None and parse_sum("1.001", "ILS") is None


def test_nested_params_are_form_encoded_with_php_brackets() -> None:
    pairs = flatten(
        {"doctype": "invrec", "items": [{"description": "Cake", "quantity": 1}], "x": None, "b": True}
    )
    assert pairs == [
        ("doctype", "invrec"),
        ("items[0][description]", "Cake"),
        ("items[0][quantity]", "1"),
        ("b", "1"),
    ]


def test_an_ipn_secret_names_its_request_and_only_our_key_makes_it() -> None:
    transaction = uuid.uuid4()
    ours = IcountProvider(IcountClient(IcountCredentials(token="t")), "1", "https://bot.example", "key one")
    theirs = IcountProvider(IcountClient(IcountCredentials(token="t")), "1", "https://bot.example", "key two")
    secret = ours.callbacks.secret(transaction)
    assert transaction_of_secret(secret) == transaction and ours.accepts_callback(secret)
    assert not theirs.accepts_callback(secret)
    assert transaction_of_secret("short") is None and transaction_of_secret("z" * 64) is None
    assert ours.callbacks.url(transaction) == f"https://bot.example/webhooks/icount/{secret}"


def test_credentials_never_show_their_secrets() -> None:
    credentials = IcountCredentials(cid="co", user="api", password="Pw-secret-1")
    assert "Pw-secret-1" not in repr(credentials) and credentials.uses_session
    assert "tok-secret" not in repr(IcountCredentials(token="tok-secret"))
    assert "tok-secret" not in IcountCredentials(token="tok-secret").identity


def test_an_ipn_keeps_only_the_fields_it_needs_and_is_keyed_by_its_payment() -> None:
    transaction = uuid.uuid4()
    notice = ipn_notice(
        transaction,
        {"confirmation_code": "123", "sum": "45.00", "customer_street": "Herzl 1", "cc_last4": "4580"},
    )
    assert notice.fields == {"confirmation_code": "123", "sum": "45.00", "cc_last4": "4580"}
    assert notice.key == f"{transaction}:123"
    assert CallbackNotice.load(notice.payload()) == notice
    by_document = ipn_notice(transaction, {"doctype": "invrec", "docnum": "30001"})
    assert by_document.key == f"{transaction}:invrec:30001"
    assert ipn_notice(transaction, {"sum": "45.00"}).key is None
