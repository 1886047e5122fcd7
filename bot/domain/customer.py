"""A vendor's customer, known by their WhatsApp number."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import UnknownSetting, UnsupportedLocale

# WhatsApp's customer service window: free-form messages only within 24 h of the last inbound one.
SERVICE_WINDOW = timedelta(hours=24)


@dataclass(slots=True)
class Customer:
    id: uuid.UUID
    vendor_id: uuid.UUID
    phone: str
    created_at: datetime
    name: str | None = None
    locale: str | None = None
    provider_client_id: str | None = None
    opted_out: bool = False
    last_inbound_at: datetime | None = None

    def in_service_window(self, now: datetime) -> bool:
        return self.last_inbound_at is not None and now - self.last_inbound_at < SERVICE_WINDOW


CUSTOMER_SETTINGS = ("locale", "name")


def apply_customer_setting(customer: Customer, key: str, value: str, locales: tuple[str, ...]) -> None:
    """``locale=he`` (empty or ``default``: the vendor's language), ``name=Dana``."""
    normalised = key.strip().lower()
    cleaned = value.strip()
    if normalised == "locale":
        if cleaned.lower() in {"", "default"}:
            customer.locale = None
        elif cleaned.lower() in locales:
            customer.locale = cleaned.lower()
        else:
            raise UnsupportedLocale(locale=value, allowed=", ".join(locales))
    elif normalised == "name":
        customer.name = cleaned or None
    else:
        raise UnknownSetting(key=key, known=", ".join(CUSTOMER_SETTINGS))
