"""Instagram's messaging webhooks, split into single messages.

Meta signs the body as for WhatsApp (``X-Hub-Signature-256``, the app's secret) and batches events: each
``entry[].messaging[]`` item that is a customer's message becomes its own inbox event, keyed by its
``mid``, so a redelivered batch has one effect per message. Our own messages echoed back, reads,
reactions and the like are not customers writing: they are left out. Card numbers are redacted here,
before anything is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot import webhook_input
from bot.domain.cards import redact_cards

SOURCE = "instagram"
OBJECT = "instagram"
MESSAGE = "message"


class MalformedInstagramWebhook(ValueError):
    """The body is not an Instagram messaging webhook."""


@dataclass(frozen=True, slots=True)
class InstagramMessage:
    """One customer message, as stored in the inbox (``payload``) and handled from there."""

    mid: str
    sender: str  # the customer's Instagram-scoped id
    recipient: str  # the professional account's id
    timestamp_ms: int
    text: str
    reply_to: str | None = None  # the mid of the message it answers

    def payload(self) -> str:
        return json.dumps(
            {
                "mid": self.mid,
                "sender": self.sender,
                "recipient": self.recipient,
                "timestamp": self.timestamp_ms,
                "text": self.text,
                "reply_to": self.reply_to,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_payload(cls, payload: str) -> InstagramMessage:
        data = json.loads(payload)
        return cls(
            str(data["mid"]),
            str(data["sender"]),
            str(data["recipient"]),
            int(data["timestamp"]),
            str(data.get("text") or ""),
            data.get("reply_to"),
        )


def _id(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str | int) and str(value["id"]):
        return str(value["id"])
    return None


def _message(item: dict[str, Any]) -> InstagramMessage | None:
    message = item.get("message")
    if message is None:
        return None  # a read, a reaction, a postback...: nothing a customer wrote
    if not isinstance(message, dict) or not isinstance(message.get("mid"), str) or not message["mid"]:
        raise MalformedInstagramWebhook("message without mid")
    if message.get("is_echo") or message.get("is_deleted"):
        return None  # our own message coming back, or one the customer took back
    sender, recipient = _id(item.get("sender")), _id(item.get("recipient"))
    timestamp = item.get("timestamp")
    if sender is None or recipient is None or not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise MalformedInstagramWebhook("message without sender, recipient or timestamp")
    text = message.get("text")
    if not isinstance(text, str):
        # A photo, a voice note, a shared post...: the vendor is told there is one, with no text.
        text = ""
    redacted, _found = redact_cards(text)
    reply = message.get("reply_to")
    reply_to = reply.get("mid") if isinstance(reply, dict) and isinstance(reply.get("mid"), str) else None
    return InstagramMessage(message["mid"], sender, recipient, timestamp, redacted, reply_to)


def split_instagram_webhook(body: bytes) -> list[InstagramMessage]:
    """Every customer message of a (possibly batched) body, or MalformedInstagramWebhook."""
    try:
        data = webhook_input.loads(body).value  # bounded in depth, UTF-8, NULs stripped (issue 19)
    except webhook_input.BadInput as error:
        raise MalformedInstagramWebhook(str(error)) from error
    if not isinstance(data, dict) or data.get("object") != OBJECT:
        raise MalformedInstagramWebhook("not an instagram object")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise MalformedInstagramWebhook("no entry list")
    found: list[InstagramMessage] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise MalformedInstagramWebhook("entry is not an object")
        items = entry.get("messaging", [])
        if not isinstance(items, list):
            raise MalformedInstagramWebhook("messaging is not a list")
        for item in items:
            if not isinstance(item, dict):
                raise MalformedInstagramWebhook("messaging item is not an object")
            message = _message(item)
            if message is not None:
                found.append(message)
    return found
