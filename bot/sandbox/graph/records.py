"""What the fake Graph API records: the sends it accepted, the read marks, the webhooks it posted."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Json = dict[str, Any]
Kind = Literal["text", "interactive", "template"]


@dataclass(frozen=True, slots=True)
class Choice:
    """A reply button, a list row, a URL button (``id`` is then the URL) or a template button parameter."""

    id: str
    title: str
    description: str | None = None
    section: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One send the fake accepted (not pywa's ``SentMessage``): what the customer's phone would show."""

    seq: int
    wamid: str
    phone_id: str
    to: str  # digits only
    kind: Kind
    text: str  # the body, or for a template its name and parameters
    at: datetime
    raw: str  # the JSON body exactly as posted
    addressed_by: Literal["to", "recipient"] = "to"
    buttons: tuple[Choice, ...] = ()
    interactive_type: str | None = None  # "button", "list" or "cta_url"
    header: str | None = None
    footer: str | None = None
    list_button: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()
    reply_to: str | None = None
    tracker: str | None = None

    def body(self) -> Json:
        """A fresh copy of the posted JSON."""
        data: Json = json.loads(self.raw)
        return data


@dataclass(frozen=True, slots=True)
class ReadMark:
    """A ``mark_message_as_read`` (with ``typing``: ``indicate_typing``) call."""

    phone_id: str
    message_id: str
    typing: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One webhook the fake posted to the bot, and how the bot answered (``error`` if it did not)."""

    body: bytes
    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
