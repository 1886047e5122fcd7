"""A message to send on WhatsApp (or Instagram Direct), as the use cases and chat handlers queue it in the
outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.domain.channel import Channel


class OutboxStatus(StrEnum):
    """Where a queued message is: waiting, being sent, then WhatsApp's ticks, or failed / cancelled."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    CANCELLED = "cancelled"


# WhatsApp's ticks, in order: a later one never goes back to an earlier one.
TICKS = (OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.READ)


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One WhatsApp message to send: its text and, for outside the 24-hour window, the parameters of
    the vendor's approved template for this ``kind``."""

    vendor_id: uuid.UUID
    to_phone: str
    kind: str
    locale: str
    text: str
    template_params: tuple[str, ...] = ()
    customer_id: uuid.UUID | None = None
    transaction_id: uuid.UUID | None = None
    dedupe_key: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()
    # A list message: (button title, section title, rows of (id, title, description)).
    menu: tuple[str, str, tuple[tuple[str, str, str | None], ...]] | None = None
    # Instagram: ``to_phone`` is then the customer's Instagram-scoped id.
    channel: Channel = Channel.WHATSAPP
    # A note to the vendor about this customer (a forwarded message): a reply to it names them.
    about_customer: uuid.UUID | None = None

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "template_params": list(self.template_params)}
        if self.about_customer is not None:
            body["about_customer"] = str(self.about_customer)
        if self.buttons:
            body["buttons"] = [{"id": button_id, "title": title} for button_id, title in self.buttons]
        if self.menu is not None:
            button, title, rows = self.menu
            body["list"] = {
                "button": button,
                "title": title,
                "rows": [
                    {"id": row_id, "title": row_title, "description": note}
                    for row_id, row_title, note in rows
                ],
            }
        return body


# Sent with each WhatsApp message as `biz_opaque_callback_data` and echoed in its statuses: a status can
# name the outbox row (and the digest's notes) whose send a crash left unrecorded.
_TRACKER_PREFIX = "wpa-outbox:"


def send_tracker(message_id: int, joined: Sequence[int] = ()) -> str:
    """The tracker of one send: the row's id, then the notes carried in it (a digest)."""
    return _TRACKER_PREFIX + ",".join(str(i) for i in (message_id, *joined))


def tracked_rows(tracker: object) -> list[int]:
    """The outbox ids a status's tracker names ([] for anything that is not one of ours)."""
    if not isinstance(tracker, str) or not tracker.startswith(_TRACKER_PREFIX):
        return []
    parts = tracker.removeprefix(_TRACKER_PREFIX).split(",")
    if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in parts):
        return []
    return [int(part) for part in parts]
