from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from bot.config import ConfigError, Settings, load_settings
from bot.domain.deposit import DepositMode
from bot.domain.errors import (
    InvalidPhone,
    InvalidSetting,
    UnknownSetting,
    UnknownTimezone,
    UnsupportedLocale,
)
from bot.domain.order import ConfirmationRule
from bot.domain.phone import normalise_phone
from bot.domain.schedule import QuietHours, format_offsets, parse_offsets, parse_quiet_hours
from bot.domain.vendor import ProviderName, Vendor, apply_setting, describe_settings
from bot.web.admin.auth import client_address
from tests.conftest import NOW


def make_vendor() -> Vendor:
    return Vendor(
        id=uuid.uuid4(),
        name="Boulangerie",
        currency="EUR",
        locale="fr",
        timezone="Europe/Paris",
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+33 6 12 34 56 78", "33612345678"),
        ("0033612345678", "33612345678"),
        ("+972-50-123-4567", "972501234567"),
        ("(+1) 415.555.0100", "14155550100"),
    ],
)
def test_phone_numbers_are_kept_as_whatsapp_writes_them(typed: str, expected: str) -> None:
    assert normalise_phone(typed) == expected


@pytest.mark.parametrize("typed", ["06 12 34 56 78", "12", "+33 abc", "", "+1234567890123456"])
def test_phone_numbers_without_country_code_or_digits_are_refused(typed: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_phone(typed)


def test_reminder_offsets_read_and_print_back() -> None:
    offsets = parse_offsets("1d, 3d,7d")
    assert offsets == (timedelta(days=1), timedelta(days=3), timedelta(days=7))
    assert format_offsets(offsets) == "1d,3d,7d"
    assert format_offsets(parse_offsets("30m,12h,2w")) == "30m,12h,14d"
    assert parse_offsets("") == ()
    for bad in ("1x", "3d,1d", "0d", "1d,1d"):
        with pytest.raises(InvalidSetting):
            parse_offsets(bad)


def test_quiet_hours_may_cross_midnight() -> None:
    quiet = parse_quiet_hours("21-9")
    assert quiet == QuietHours(21, 9)
    assert quiet is not None
    assert quiet.contains(23) and quiet.contains(0) and quiet.contains(8)
    assert not quiet.contains(9) and not quiet.contains(20)
    assert parse_quiet_hours("off") is None
    for bad in ("25-3", "9-9", "night"):
        with pytest.raises(InvalidSetting):
            parse_quiet_hours(bad)


@given(start=st.integers(0, 23), end=st.integers(0, 23), hour=st.integers(0, 23))
def test_quiet_hours_contain_exactly_the_hours_between_start_and_end(start: int, end: int, hour: int) -> None:
    if start == end:
        return
    quiet = QuietHours(start, end)
    expected = (hour - start) % 24 < (end - start) % 24
    assert quiet.contains(hour) is expected


def test_vendor_settings_change_by_key() -> None:
    vendor = make_vendor()
    for key, value in [
        ("deposit_mode", "fixed"),
        ("deposit_fixed", "20,50"),
        ("deposit_percent", "50%"),
        ("confirmation_rule", "paid_only"),
        ("reminder_schedule", "2d,5d"),
        ("reminder_quiet_hours", "22-8"),
        ("reminders", "off"),
        ("reminder_repeat_every", "2d"),
        ("reminder_repeat_count", "4"),
        ("provider", "stripe"),
        ("locale", "EN"),
        ("timezone", "Asia/Jerusalem"),
        ("template.payment_request", "deposit_link_v2"),
    ]:
        apply_setting(vendor, key, value)
    assert vendor.payment.deposit_mode is DepositMode.FIXED
    assert vendor.payment.deposit_fixed == Decimal("20.50")
    assert vendor.payment.confirmation_rule is ConfirmationRule.PAID_ONLY
    assert vendor.payment.provider is ProviderName.STRIPE
    shown = describe_settings(vendor)
    assert shown["deposit_percent"] == "50%"
    assert shown["reminder_schedule"] == "2d,5d"
    assert shown["reminders"] is False
    assert (shown["reminder_repeat_every"], shown["reminder_repeat_count"]) == ("2d", 4)
    assert shown["locale"] == "en"
    assert shown["templates"] == {"payment_request": "deposit_link_v2"}
    apply_setting(vendor, "template.payment_request", "")
    assert vendor.whatsapp_templates == {}


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("colour", "blue", UnknownSetting),
        ("deposit_mode", "half", InvalidSetting),
        ("deposit_percent", "0", InvalidSetting),
        ("deposit_percent", "120", InvalidSetting),
        ("deposit_fixed", "1.234", InvalidSetting),
        ("locale", "de", UnsupportedLocale),
        ("timezone", "Europe/Atlantis", UnknownTimezone),
        ("reminders", "maybe", InvalidSetting),
        ("hold_minutes", "-3", InvalidSetting),
        ("reminder_repeat_every", "often", InvalidSetting),
        ("reminder_repeat_every", "0d", InvalidSetting),
        ("reminder_repeat_count", "31", InvalidSetting),
        ("reminder_repeat_count", "-1", InvalidSetting),
    ],
)
def test_bad_settings_are_refused_with_a_named_error(key: str, value: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        apply_setting(make_vendor(), key, value)


def test_settings_default_to_sqlite_and_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "PAYMENT_PROVIDER", "WHATSAPP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(env_file=None)
    assert settings.database_url == "sqlite:///./bot.db"
    assert settings.effective_provider is ProviderName.SANDBOX
    assert settings.sandbox_whatsapp
    assert settings.default_deposit_percent.value == Decimal(30)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PAYMENT_PROVIDER": "stripe"}, "STRIPE_API_KEY"),
        ({"PAYMENT_PROVIDER": "paypal"}, "PAYMENT_PROVIDER"),
        ({"DEPOSIT_DEFAULT_PERCENT": "130"}, "DEPOSIT_DEFAULT_PERCENT"),
        ({"DEPOSIT_DEFAULT_PERCENT": "abc"}, "DEPOSIT_DEFAULT_PERCENT"),
        ({"REMINDER_SCHEDULE": "soon"}, "REMINDER_SCHEDULE"),
        ({"REMINDER_QUIET_HOURS": "night"}, "REMINDER_QUIET_HOURS"),
        ({"VENDOR_TIMEZONE": "Mars/Base"}, "VENDOR_TIMEZONE"),
        ({"VENDOR_ADMIN_PHONES": "0612345678"}, "VENDOR_ADMIN_PHONES"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"WHATSAPP_TOKEN": "t"}, "WHATSAPP_PHONE_ID"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None)
    message = str(raised.value)
    assert named in message
    assert "\n" not in message


def test_settings_never_show_secrets_in_their_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "super-secret-value")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_hidden")
    settings = load_settings(env_file=None)
    assert "super-secret-value" not in repr(settings)
    assert "sk_test_hidden" not in repr(settings)


ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    listed = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert listed == {name.upper() for name in Settings.model_fields}


def test_env_example_as_it_is_gives_the_sandbox_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = load_settings(env_file=str(ENV_EXAMPLE))
    assert settings.effective_provider is ProviderName.SANDBOX
    assert settings.sandbox_whatsapp
    assert settings.secret_key is None


def test_a_sign_in_is_counted_against_the_proxy_s_forwarded_client_only_when_the_proxy_is_local() -> None:
    assert client_address("127.0.0.1", "203.0.113.9") == "203.0.113.9"
    assert client_address("::1", "10.0.0.2, 203.0.113.9") == "203.0.113.9", "the one the proxy added"
    assert client_address("198.51.100.4", "203.0.113.9") == "198.51.100.4", "anyone can write the header"
    assert client_address("127.0.0.1", "not an address") == "127.0.0.1"
    assert client_address("127.0.0.1", None) == "127.0.0.1"
    assert client_address(None, "203.0.113.9") == "unknown"
