"""Card guarantees and saved cards: the vendor's policy (roadmap step 3, "config garantie carte").

A guarantee is a hold on the customer's card against no-shows and damage: asked by a link, captured in
part or in full when the vendor must, released otherwise. It never counts as paid until captured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from bot.domain.errors import DomainError, GuaranteesOff, InvalidSetting
from bot.domain.money import Money, Percent, parse_amount_or_percent

# How long each provider keeps a card authorisation: a hold is released by us before, at the latest.
# Stripe: 7 days for online card payments; iCount's J5: not documented, taken as 5; the sandbox: 7.
HOLD_WINDOW_DAYS = {"stripe": 7, "icount": 5, "sandbox": 7}
DEFAULT_RELEASE_DAYS = 7
# The vendor hears this long before a hold lapses at the provider that it is about to.
LAPSE_WARNING = timedelta(days=1)


class GuaranteeMode(StrEnum):
    """off: no guarantees; optional: on the vendor's command; required: every order's first payment
    request comes with a guarantee request."""

    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(slots=True)
class GuaranteeSettings:
    mode: GuaranteeMode = GuaranteeMode.OFF
    # The amount held by default: a fixed amount, or a percent of the order's price.
    fixed: Decimal | None = None
    percent: Percent = Percent(Decimal(100))
    release_days: int = DEFAULT_RELEASE_DAYS
    # Payment pages offer "save my card for next time" (kept only when the customer ticks it).
    saved_cards: bool = False

    def check_enabled(self) -> None:
        if self.mode is GuaranteeMode.OFF:
            raise GuaranteesOff()

    def default_amount(self, price: Money) -> Money:
        if self.fixed is not None:
            return Money(self.fixed, price.currency)
        return price.percent(self.percent)

    def amount_for(self, price: Money, typed: Money | Percent | None) -> Money:
        """What to hold: the amount typed (or a percent of the price), else the vendor's default."""
        if typed is None:
            return self.default_amount(price)
        if isinstance(typed, Percent):
            return price.percent(typed)
        return typed

    def release_after(self, provider: str) -> timedelta:
        return timedelta(days=min(self.release_days, HOLD_WINDOW_DAYS.get(provider, DEFAULT_RELEASE_DAYS)))

    @property
    def amount_setting(self) -> str:
        return f"{self.fixed:f}" if self.fixed is not None else str(self.percent)


def set_mode(settings: GuaranteeSettings, value: str) -> None:
    cleaned = value.strip().lower()
    allowed = [mode.value for mode in GuaranteeMode]
    if cleaned not in allowed:
        raise InvalidSetting(key="guarantee_mode", value=value, allowed=", ".join(allowed))
    settings.mode = GuaranteeMode(cleaned)


def set_amount(settings: GuaranteeSettings, value: str, currency: str) -> None:
    """``150`` (held as is) or ``30%`` (of each order's price)."""
    try:
        parsed = parse_amount_or_percent(value, currency)
    except DomainError as error:
        raise InvalidSetting(key="guarantee_amount", value=value) from error
    if isinstance(parsed, Percent):
        settings.fixed, settings.percent = None, parsed
        return
    if not parsed.is_positive():
        raise InvalidSetting(key="guarantee_amount", value=value)
    settings.fixed = parsed.amount


def set_release_days(settings: GuaranteeSettings, value: str, provider: str) -> None:
    """Bounded by the provider's authorisation window: a hold cannot outlive it."""
    high = HOLD_WINDOW_DAYS.get(provider, DEFAULT_RELEASE_DAYS)
    cleaned = value.strip()
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= high:
        raise InvalidSetting(key="guarantee_release_days", value=value, low=1, high=high)
    settings.release_days = int(cleaned)
