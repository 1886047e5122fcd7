"""A vendor's customer, known by their WhatsApp number, or by their Instagram-scoped id (then the phone is
optional: the vendor may add it later)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.channel import INSTAGRAM_PREFIX, Channel, short_id
from bot.domain.errors import InvalidEmail, InvalidSetting, UnknownSetting, UnsupportedLocale
from bot.domain.phone import normalise_phone
from bot.domain.product import SyncState

# WhatsApp's customer service window: free-form messages only within 24 h of the last inbound one.
SERVICE_WINDOW = timedelta(hours=24)


@dataclass(slots=True)
class Customer:
    id: uuid.UUID
    vendor_id: uuid.UUID
    # Their WhatsApp number (digits); None for an Instagram customer whose number is not known.
    phone: str | None
    created_at: datetime
    name: str | None = None
    locale: str | None = None
    provider_client_id: str | None = None
    opted_out: bool = False
    last_inbound_at: datetime | None = None
    email: str | None = None
    # Its copy among the provider's clients (iCount's client/create_or_update): pending after each change,
    # synced (at ``client_synced_at``) or failed with the reason; None: not synced (yet, or at all when
    # the vendor's provider keeps no clients).
    client_sync_state: SyncState | None = None
    client_sync_error: str | None = None
    client_synced_at: datetime | None = None
    # The channel they first wrote on and their id there (Instagram-scoped id; None on WhatsApp, where the
    # phone is the address), their Instagram username when known, and their last message on that channel
    # (Instagram's own 24-hour window; ``last_inbound_at`` stays WhatsApp's).
    channel: Channel = Channel.WHATSAPP
    address: str | None = None
    handle: str | None = None
    channel_inbound_at: datetime | None = None

    @property
    def on_instagram(self) -> bool:
        return self.channel is Channel.INSTAGRAM and self.address is not None

    @property
    def contact(self) -> str:
        """How the vendor sees and names them: ``+33612345678``, or ``ig:dana.cakes`` (``ig:`` and the end
        of their id when the username is not known), what ``nouvelle ig:...`` takes."""
        if self.on_instagram and self.address is not None:
            return INSTAGRAM_PREFIX + (self.handle or short_id(self.address))
        return f"+{self.phone}"

    def reach(self) -> tuple[Channel, str]:
        """Where their messages go: Instagram by their id, else WhatsApp by their number (the outbox moves an
        Instagram message to WhatsApp when Instagram's window is closed and the number is known)."""
        if self.on_instagram and self.address is not None:
            return Channel.INSTAGRAM, self.address
        if self.phone is None:  # pragma: no cover - only Instagram customers have no number
            raise ValueError(f"customer {self.id} has no address")
        return Channel.WHATSAPP, self.phone

    def profile(self) -> tuple[str | None, str | None, str | None, str | None]:
        """What the provider's client is made of: a change to any of it is synced again."""
        return (self.name, self.phone, self.email, self.locale)

    def changed_from(self, before: tuple[str | None, str | None, str | None, str | None]) -> None:
        """After a change: a customer whose client is kept at the provider is pending again when its
        profile moved (None stays None: the sync decides whether this vendor's provider keeps clients)."""
        if self.client_sync_state is not None and self.profile() != before:
            self.client_sync_state = SyncState.PENDING

    def in_service_window(self, now: datetime) -> bool:
        return self.last_inbound_at is not None and now - self.last_inbound_at < SERVICE_WINDOW


CUSTOMER_SETTINGS = ("locale", "name", "email", "phone")
MAX_EMAIL = 254


def checked_email(text: str) -> str | None:
    """A light check of an address (one @, a dot in the domain, at most 254 characters, no space); an
    empty one clears it."""
    email = text.strip()
    if not email:
        return None
    local, _, domain = email.partition("@")
    labels = domain.split(".")
    if (
        len(email) > MAX_EMAIL
        or email.count("@") != 1
        or not local
        or len(labels) < 2
        or not all(labels)
        or any(c.isspace() for c in email)
    ):
        raise InvalidEmail(email=email[:60])
    return email


def apply_customer_setting(customer: Customer, key: str, value: str, locales: tuple[str, ...]) -> None:
    """``locale=he`` (empty or ``default``: the vendor's language), ``name=Dana``, ``email=dana@example.com``
    (empty: none), ``phone=+33612345678`` for an Instagram customer (their WhatsApp, empty: none)."""
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
    elif normalised == "email":
        customer.email = checked_email(cleaned)
    elif normalised == "phone":
        customer.phone = _checked_phone(customer, cleaned)
    else:
        raise UnknownSetting(key=key, known=", ".join(CUSTOMER_SETTINGS))


def _checked_phone(customer: Customer, text: str) -> str | None:
    """An Instagram customer's WhatsApp number (empty: none); a WhatsApp customer's number is who they are,
    never changed."""
    if not customer.on_instagram:
        raise InvalidSetting(key="phone", value=text[:40])
    return normalise_phone(text) if text else None
