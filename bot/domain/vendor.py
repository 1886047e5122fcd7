"""A vendor, its payment settings and reminder policy, and the ``KEY=VALUE`` settings vendors change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.deposit import DEFAULT_DEPOSIT_PERCENT, DepositMode, DepositPolicy
from bot.domain.errors import (
    DomainError,
    InvalidSetting,
    UnknownSetting,
    UnknownTimezone,
    UnsupportedLocale,
)
from bot.domain.guarantee import GuaranteeSettings, set_amount, set_mode, set_release_days
from bot.domain.money import Money, Percent, check_currency
from bot.domain.order import ConfirmationRule
from bot.domain.reminders import plan
from bot.domain.schedule import (
    QuietHours,
    format_interval,
    format_offsets,
    parse_interval,
    parse_offsets,
    parse_quiet_hours,
)

VENDOR_LOCALES = ("fr", "en", "he")
CUSTOMER_LOCALES = ("fr", "en", "he")
DEFAULT_REMINDER_SCHEDULE = (timedelta(days=1), timedelta(days=3), timedelta(days=7))
# A vendor's short id: the first hex digits of its uuid, enough to tell vendors of the same name apart.
SHORT_ID_LENGTH = 8


class InvoiceDoctype(StrEnum):
    """The document issued after each provider payment: a tax invoice-receipt for a VAT-registered
    business, a plain receipt for an exempt one."""

    INVREC = "invrec"
    RECEIPT = "receipt"


class ProviderName(StrEnum):
    STRIPE = "stripe"
    ICOUNT = "icount"
    SANDBOX = "sandbox"


# Credentials a vendor may store; they are kept encrypted, never shown back.
SECRET_SETTINGS = frozenset(
    {
        "stripe_api_key",
        "stripe_webhook_secret",
        "icount_api_token",
        "icount_paypage_id",
        "icount_guarantee_paypage_id",
        "icount_save_card_paypage_id",
        "icount_cid",
        "icount_user",
        "icount_pass",
    }
)


def check_locale(locale: str, allowed: tuple[str, ...] = VENDOR_LOCALES) -> str:
    normalised = locale.strip().lower()
    if normalised not in allowed:
        raise UnsupportedLocale(locale=locale, allowed=", ".join(allowed))
    return normalised


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimezone(timezone=name) from error
    return name.strip()


@dataclass(slots=True)
class PaymentSettings:
    provider: ProviderName = ProviderName.SANDBOX
    deposit_mode: DepositMode = DepositMode.PERCENT
    deposit_percent: Percent = DEFAULT_DEPOSIT_PERCENT
    deposit_fixed: Decimal | None = None
    confirmation_rule: ConfirmationRule = ConfirmationRule.IMMEDIATE
    hold_minutes: int = 30
    invoice_doctype: InvoiceDoctype = InvoiceDoctype.INVREC
    # An order accepted with a price gets its payment request at once, sized by deposit_mode.
    request_on_accept: bool = False
    guarantee: GuaranteeSettings = field(default_factory=GuaranteeSettings)

    @property
    def deposit_policy(self) -> DepositPolicy:
        return DepositPolicy(self.deposit_mode, self.deposit_percent, self.deposit_fixed)


MAX_REPEATED_REMINDERS = 30


@dataclass(slots=True)
class ReminderPolicy:
    schedule: tuple[timedelta, ...] = DEFAULT_REMINDER_SCHEDULE
    quiet_hours: QuietHours | None = None
    enabled: bool = True
    # After the last offset: one more every ``repeat_every``, ``repeat_count`` times.
    repeat_every: timedelta | None = None
    repeat_count: int = 0

    def due_times(self, requested_at: datetime, timezone: str) -> list[datetime]:
        return plan(
            requested_at, self.schedule, self.quiet_hours, timezone, self.repeat_every, self.repeat_count
        )


@dataclass(slots=True)
class Vendor:
    id: uuid.UUID
    name: str
    currency: str
    locale: str
    timezone: str
    created_at: datetime
    updated_at: datetime
    phone_number_id: str | None = None
    # The Supabase auth user who owns this vendor (its rows' user_id).
    owner_user_id: uuid.UUID | None = None
    payment: PaymentSettings = field(default_factory=PaymentSettings)
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)
    whatsapp_templates: dict[str, str] = field(default_factory=dict)
    # The vendor's own wording of a message: {"<kind>": {"<locale>": "<Jinja2 text>"}}.
    message_overrides: dict[str, dict[str, str]] = field(default_factory=dict)

    def money(self, amount: Decimal) -> Money:
        return Money(amount, self.currency)

    @property
    def short_id(self) -> str:
        return self.id.hex[:SHORT_ID_LENGTH]


def _non_empty(key: str, value: str) -> str:
    if not value.strip():
        raise InvalidSetting(key=key, value=value)
    return value.strip()


def _decimal(key: str, value: str) -> Decimal:
    try:
        number = Decimal(value.strip().replace(",", "."))
    except InvalidOperation as error:
        raise InvalidSetting(key=key, value=value) from error
    if not number.is_finite() or number <= 0:
        raise InvalidSetting(key=key, value=value)
    return number


def _enum(key: str, value: str, kind: type[StrEnum]) -> str:
    cleaned = value.strip().lower()
    allowed = [member.value for member in kind]
    if cleaned not in allowed:
        raise InvalidSetting(key=key, value=value, allowed=", ".join(allowed))
    return cleaned


def _on_off(key: str, value: str) -> bool:
    cleaned = value.strip().lower()
    if cleaned in {"on", "true", "yes", "1", "oui"}:
        return True
    if cleaned in {"off", "false", "no", "0", "non"}:
        return False
    raise InvalidSetting(key=key, value=value, allowed="on, off")


def _set_name(v: Vendor, value: str) -> None:
    v.name = _non_empty("name", value)


def _set_currency(v: Vendor, value: str) -> None:
    v.currency = check_currency(value)


def _set_locale(v: Vendor, value: str) -> None:
    v.locale = check_locale(value)


def _set_timezone(v: Vendor, value: str) -> None:
    v.timezone = check_timezone(value)


def _set_phone_id(v: Vendor, value: str) -> None:
    v.phone_number_id = value.strip() or None


def _set_provider(v: Vendor, value: str) -> None:
    v.payment.provider = ProviderName(_enum("provider", value, ProviderName))


def _set_deposit_mode(v: Vendor, value: str) -> None:
    v.payment.deposit_mode = DepositMode(_enum("deposit_mode", value, DepositMode))


def _set_deposit_percent(v: Vendor, value: str) -> None:
    # Above 0 (low_open: 0 itself is refused), up to 100 included.
    try:
        v.payment.deposit_percent = Percent(_decimal("deposit_percent", value.rstrip("% ")))
    except DomainError as error:
        raise InvalidSetting(key="deposit_percent", value=value, low=0, high=100, low_open=True) from error


def _set_deposit_fixed(v: Vendor, value: str) -> None:
    amount = _decimal("deposit_fixed", value)
    try:
        Money(amount, v.currency)
    except DomainError as error:
        raise InvalidSetting(key="deposit_fixed", value=value) from error
    v.payment.deposit_fixed = amount


def _set_confirmation_rule(v: Vendor, value: str) -> None:
    rule = _enum("confirmation_rule", value, ConfirmationRule)
    v.payment.confirmation_rule = ConfirmationRule(rule)


MIN_HOLD_MINUTES, MAX_HOLD_MINUTES = 1, 10080  # a minute to a week


def _set_hold_minutes(v: Vendor, value: str) -> None:
    if not value.strip().isdigit() or not MIN_HOLD_MINUTES <= int(value) <= MAX_HOLD_MINUTES:
        raise InvalidSetting(key="hold_minutes", value=value, low=MIN_HOLD_MINUTES, high=MAX_HOLD_MINUTES)
    v.payment.hold_minutes = int(value)


def _set_invoice_doctype(v: Vendor, value: str) -> None:
    v.payment.invoice_doctype = InvoiceDoctype(_enum("invoice_doctype", value, InvoiceDoctype))


def _set_request_on_accept(v: Vendor, value: str) -> None:
    v.payment.request_on_accept = _on_off("request_on_accept", value)


def _set_guarantee_mode(v: Vendor, value: str) -> None:
    set_mode(v.payment.guarantee, value)


def _set_guarantee_amount(v: Vendor, value: str) -> None:
    set_amount(v.payment.guarantee, value, v.currency)


def _set_guarantee_release_days(v: Vendor, value: str) -> None:
    set_release_days(v.payment.guarantee, value, v.payment.provider.value)


def _set_saved_cards(v: Vendor, value: str) -> None:
    v.payment.guarantee.saved_cards = _on_off("saved_cards", value)


def _set_owner_user_id(v: Vendor, value: str) -> None:
    cleaned = value.strip()
    if cleaned.lower() in {"", "none", "off"}:
        v.owner_user_id = None
        return
    try:
        v.owner_user_id = uuid.UUID(cleaned)
    except ValueError as error:
        raise InvalidSetting(key="owner_user_id", value=value) from error


def _set_reminder_schedule(v: Vendor, value: str) -> None:
    v.reminders.schedule = parse_offsets(value)


def _set_quiet_hours(v: Vendor, value: str) -> None:
    v.reminders.quiet_hours = parse_quiet_hours(value)


def _set_reminders(v: Vendor, value: str) -> None:
    v.reminders.enabled = _on_off("reminders", value)


def _set_repeat_every(v: Vendor, value: str) -> None:
    v.reminders.repeat_every = parse_interval(value, "reminder_repeat_every")


def _set_repeat_count(v: Vendor, value: str) -> None:
    cleaned = value.strip()
    if not cleaned.isdigit() or int(cleaned) > MAX_REPEATED_REMINDERS:
        raise InvalidSetting(key="reminder_repeat_count", value=value, low=0, high=MAX_REPEATED_REMINDERS)
    v.reminders.repeat_count = int(cleaned)


_SETTERS: dict[str, Callable[[Vendor, str], None]] = {
    "name": _set_name,
    "currency": _set_currency,
    "locale": _set_locale,
    "timezone": _set_timezone,
    "phone_id": _set_phone_id,
    "provider": _set_provider,
    "deposit_mode": _set_deposit_mode,
    "deposit_percent": _set_deposit_percent,
    "deposit_fixed": _set_deposit_fixed,
    "confirmation_rule": _set_confirmation_rule,
    "hold_minutes": _set_hold_minutes,
    "invoice_doctype": _set_invoice_doctype,
    "request_on_accept": _set_request_on_accept,
    "guarantee_mode": _set_guarantee_mode,
    "guarantee_amount": _set_guarantee_amount,
    "guarantee_release_days": _set_guarantee_release_days,
    "saved_cards": _set_saved_cards,
    "owner_user_id": _set_owner_user_id,
    "reminder_schedule": _set_reminder_schedule,
    "reminder_quiet_hours": _set_quiet_hours,
    "reminders": _set_reminders,
    "reminder_repeat_every": _set_repeat_every,
    "reminder_repeat_count": _set_repeat_count,
}
TEMPLATE_PREFIX = "template."
TEXT_PREFIX = "text."
ALL_LOCALES = ("fr", "en", "he")


def setting_keys() -> list[str]:
    return [*_SETTERS, f"{TEMPLATE_PREFIX}<kind>", f"{TEXT_PREFIX}<kind>.<locale>", *sorted(SECRET_SETTINGS)]


def _set_text(vendor: Vendor, key: str, value: str) -> None:
    """``text.payment_request.fr=...``: the vendor's own wording of a message (empty: back to ours)."""
    kind, _, locale = key[len(TEXT_PREFIX) :].rpartition(".")
    if not kind or locale not in ALL_LOCALES:
        raise InvalidSetting(key=key, value=value)
    texts = vendor.message_overrides.setdefault(kind, {})
    if value.strip():
        texts[locale] = value
    else:
        texts.pop(locale, None)
        if not texts:
            vendor.message_overrides.pop(kind, None)


def apply_setting(vendor: Vendor, key: str, value: str) -> None:
    """Changes one plain setting; credentials (SECRET_SETTINGS) are stored by the caller, encrypted."""
    normalised = key.strip().lower()
    if normalised.startswith(TEXT_PREFIX):
        _set_text(vendor, normalised, value)
        return
    if normalised.startswith(TEMPLATE_PREFIX) and len(normalised) > len(TEMPLATE_PREFIX):
        kind = normalised[len(TEMPLATE_PREFIX) :]
        if value.strip():
            vendor.whatsapp_templates[kind] = value.strip()
        else:
            vendor.whatsapp_templates.pop(kind, None)
        return
    setter = _SETTERS.get(normalised)
    if setter is None:
        raise UnknownSetting(key=key, known=", ".join(setting_keys()))
    setter(vendor, value)


def describe_settings(vendor: Vendor) -> dict[str, object]:
    """The vendor's settings under the names ``vendor set`` takes (credentials left out)."""
    payment = vendor.payment
    return {
        "name": vendor.name,
        "currency": vendor.currency,
        "locale": vendor.locale,
        "timezone": vendor.timezone,
        "phone_id": vendor.phone_number_id,
        "provider": payment.provider.value,
        "deposit_mode": payment.deposit_mode.value,
        "deposit_percent": str(payment.deposit_percent),
        "deposit_fixed": None if payment.deposit_fixed is None else f"{payment.deposit_fixed:f}",
        "confirmation_rule": payment.confirmation_rule.value,
        "hold_minutes": str(payment.hold_minutes),
        "invoice_doctype": payment.invoice_doctype.value,
        "request_on_accept": payment.request_on_accept,
        "guarantee_mode": payment.guarantee.mode.value,
        "guarantee_amount": payment.guarantee.amount_setting,
        "guarantee_release_days": payment.guarantee.release_days,
        "saved_cards": payment.guarantee.saved_cards,
        "owner_user_id": None if vendor.owner_user_id is None else str(vendor.owner_user_id),
        "reminder_schedule": format_offsets(vendor.reminders.schedule),
        "reminder_quiet_hours": (
            None if vendor.reminders.quiet_hours is None else str(vendor.reminders.quiet_hours)
        ),
        "reminders": vendor.reminders.enabled,
        "reminder_repeat_every": (
            None if vendor.reminders.repeat_every is None else format_interval(vendor.reminders.repeat_every)
        ),
        "reminder_repeat_count": vendor.reminders.repeat_count,
        "templates": dict(vendor.whatsapp_templates),
        "texts": {kind: dict(texts) for kind, texts in vendor.message_overrides.items()},
    }
