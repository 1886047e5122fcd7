"""The channels a customer writes on, and how a vendor names an Instagram customer in a command."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.errors import InvalidCustomerReference

# Typed by the vendor before an Instagram customer's username or short id: ``nouvelle ig:dana 150``.
INSTAGRAM_PREFIX = "ig:"
# The end of an Instagram-scoped id the forwarded note shows when the username is not known.
SHORT_ID_LENGTH = 6
MAX_REFERENCE = 64


class Channel(StrEnum):
    """Where a customer is reached: WhatsApp (by phone) or Instagram Direct (by Instagram-scoped id)."""

    WHATSAPP = "whatsapp"
    INSTAGRAM = "instagram"


def short_id(address: str) -> str:
    return address[-SHORT_ID_LENGTH:]


def is_instagram_reference(text: str) -> bool:
    return text.strip().lower().startswith(INSTAGRAM_PREFIX)


def instagram_reference(text: str) -> str:
    """``ig:@Dana.Cakes`` -> ``dana.cakes``: the username or short id after ``ig:``, lower case, without @."""
    name = text.strip()[len(INSTAGRAM_PREFIX) :].strip().lstrip("@").lower()
    if not name or len(name) > MAX_REFERENCE or any(c.isspace() for c in name):
        raise InvalidCustomerReference(reference=text.strip()[:MAX_REFERENCE])
    return name
