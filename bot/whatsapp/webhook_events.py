"""Meta's webhook bodies, verified and split into single events.

Meta batches up to 1000 updates in one POST and pywa dispatches only the first, so each message and each
status becomes its own event, re-wrapped as a one-update body that pywa can parse. Card numbers are
redacted here, before anything is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import orjson

from bot import webhook_input
from bot.domain.cards import redact_cards
from bot.whatsapp.webhook_models import shape_problem

SIGNATURE_HEADER = "X-Hub-Signature-256"
SOURCE = "whatsapp"


class MalformedWebhook(ValueError):
    """The body is not a WhatsApp Business webhook."""


@dataclass(frozen=True, slots=True)
class SingleEvent:
    key: str
    event_type: str  # "message", "status" or "other"
    phone_number_id: str | None
    payload: str
    sender: str | None = None  # who wrote a message: their messages are handled one after the other


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.digest(app_secret.encode(), body, "sha256").hex()  # one-shot: no HMAC object
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _redacted(message: dict[str, Any]) -> dict[str, Any]:
    text = message.get("text")
    if isinstance(text, dict) and isinstance(text.get("body"), str):
        body, found = redact_cards(text["body"])
        if found:
            message = {**message, "text": {**text, "body": body}}
    for kind in ("image", "video", "document"):
        media = message.get(kind)
        if isinstance(media, dict) and isinstance(media.get("caption"), str):
            caption, found = redact_cards(media["caption"])
            if found:
                message = {**message, kind: {**media, "caption": caption}}
    return message


def _contact_for(contacts: list[Any], wa_id: str | None) -> dict[str, Any]:
    """The contact of this sender; pywa 4.5 needs its ``user_id``, which older payloads lack."""
    match = next((c for c in contacts if isinstance(c, dict) and c.get("wa_id") == wa_id), None)
    if match is None and len(contacts) == 1 and isinstance(contacts[0], dict):
        match = contacts[0]
    contact = dict(match or {"wa_id": wa_id})
    contact.setdefault("user_id", contact.get("wa_id") or wa_id)
    return contact


def _wrap(entry_id: Any, field: str, value: dict[str, Any]) -> str:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": entry_id, "changes": [{"field": field, "value": value}]}],
    }
    try:
        return orjson.dumps(body).decode("utf-8")
    except orjson.JSONEncodeError:  # a lone surrogate (valid JSON escape, not UTF-8): kept escaped
        return json.dumps(body, separators=(",", ":"))


def _split_change(entry_id: Any, change: dict[str, Any]) -> list[SingleEvent]:
    field = change.get("field")
    value = change.get("value")
    if not isinstance(field, str) or not isinstance(value, dict):
        raise MalformedWebhook("change without field or value")
    metadata = value.get("metadata")
    phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    base = {k: v for k, v in value.items() if k not in {"messages", "statuses", "contacts"}}
    raw_contacts = value.get("contacts")
    contacts: list[Any] = raw_contacts if isinstance(raw_contacts, list) else []
    events: list[SingleEvent] = []
    for message in value.get("messages") or []:
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise MalformedWebhook("message without id")
        single = {
            **base,
            "contacts": [_contact_for(contacts, message.get("from"))],
            "messages": [_redacted(message)],
        }
        events.append(
            SingleEvent(
                message["id"],
                "message",
                phone_number_id,
                _wrap(entry_id, field, single),
                str(message.get("from")),
            )
        )
    for status in value.get("statuses") or []:
        if not isinstance(status, dict) or not isinstance(status.get("id"), str):
            raise MalformedWebhook("status without id")
        recipient = status.get("recipient_id")
        single = {**base, "contacts": [_contact_for(contacts, recipient)], "statuses": [status]}
        key = f"{status['id']}:{status.get('status')}"
        events.append(SingleEvent(key, "status", phone_number_id, _wrap(entry_id, field, single)))
    if not events:
        payload = _wrap(entry_id, field, value)
        key = "other:" + hashlib.sha256(payload.encode()).hexdigest()
        events.append(SingleEvent(key, "other", phone_number_id, payload))
    return events


def _single_update(data: Any, body: bytes) -> SingleEvent | None:
    """The common cases, one status or one message alone in its body, that splitting would not change
    (the sender's contact with its ``user_id``, no card number): kept as it came, nothing re-encoded."""
    try:
        [entry] = data["entry"]
        [change] = entry["changes"]
        value = change["value"]
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(value, dict) or not isinstance(change.get("field"), str):
        return None
    messages, statuses, contacts = value.get("messages"), value.get("statuses"), value.get("contacts")
    if not isinstance(contacts, list) or not contacts:
        return None
    metadata = value.get("metadata")
    phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    if messages is None and isinstance(statuses, list) and len(statuses) == 1:
        status = statuses[0]
        if not isinstance(status, dict) or not isinstance(status.get("id"), str):
            return None
        key = f"{status['id']}:{status.get('status')}"
        return SingleEvent(key, "status", phone_number_id, body.decode("utf-8"))
    if statuses is None and isinstance(messages, list) and len(messages) == 1 and len(contacts) == 1:
        message, contact = messages[0], contacts[0]
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            return None
        sender = message.get("from")
        if not isinstance(contact, dict) or contact.get("wa_id") != sender or "user_id" not in contact:
            return None
        if _redacted(message) is not message:
            return None  # a card number: re-encoded without it
        return SingleEvent(message["id"], "message", phone_number_id, body.decode("utf-8"), str(sender))
    return None


def split_webhook(body: bytes) -> list[SingleEvent]:
    """Every update of a (possibly batched) webhook body, or MalformedWebhook: bounded in depth, UTF-8,
    of the shape we use (bot/whatsapp/webhook_models.py); text Postgres cannot store is cleaned."""
    try:
        parsed = webhook_input.loads(body)
    except webhook_input.BadInput as error:
        raise MalformedWebhook(str(error)) from error
    data = parsed.value
    problem = shape_problem(data)
    if problem is not None:
        raise MalformedWebhook(problem)
    if not parsed.cleaned:  # else re-encoded from the cleaned value, below
        single = _single_update(data, body)
        if single is not None:
            return [single]
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise MalformedWebhook("no entry list")
    events: list[SingleEvent] = []
    for entry in data["entry"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            raise MalformedWebhook("entry without changes")
        for change in entry["changes"]:
            if not isinstance(change, dict):
                raise MalformedWebhook("change is not an object")
            events.extend(_split_change(entry.get("id"), change))
    return events
