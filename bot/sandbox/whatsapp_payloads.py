"""Webhook bodies as Meta's WhatsApp Cloud API posts them (2026 shape), for the sandbox and the tests.

Contacts carry ``user_id`` (the business-scoped user id, BSUID) next to ``wa_id`` and ``profile.name``:
pywa 4.5 cannot parse an inbound message without it. Timestamps are unix seconds as strings, like Meta's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

DEFAULT_WABA_ID = "102290129340398"
DEFAULT_DISPLAY_NUMBER = "15550783881"
# "ZZ" is the ISO "unknown region"; the digits are the phone's, so the fake can map a BSUID back to a phone.
BSUID_REGION = "ZZ"
ERROR_HREF = "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes"


def digits(phone: str) -> str:
    """A phone number as WhatsApp ids write it: digits only, no ``+``."""
    return re.sub(r"\D", "", phone)


def user_id_for(phone: str) -> str:
    """The sandbox's BSUID of a phone number, shaped like Meta's (``CC.<digits>``)."""
    return f"{BSUID_REGION}.{digits(phone)}"


def phone_for_user_id(user_id: str) -> str | None:
    """The phone behind a sandbox BSUID, or None for any other id."""
    region, _, number = user_id.partition(".")
    return number if region == BSUID_REGION and number.isdigit() else None


def new_wamid() -> str:
    """A unique message id shaped like Meta's (``wamid.`` + base64)."""
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)).decode()


def _timestamp(value: int | float | None) -> str:
    return str(int(time.time() if value is None else value))


@dataclass(frozen=True, slots=True)
class GraphErrorInfo:
    """What Graph says for an error code: title, details and the HTTP status of a failed send."""

    title: str
    details: str
    http_status: int = 400
    transient: bool = False


# The codes the bot meets when sending (Meta's error-codes page); anything else gets a generic entry.
GRAPH_ERRORS: Mapping[int, GraphErrorInfo] = {
    1: GraphErrorInfo("API Unknown", "Invalid request or possible server error.", 500, transient=True),
    2: GraphErrorInfo(
        "API Service", "Temporary due to downtime or due to being overloaded.", 503, transient=True
    ),
    4: GraphErrorInfo("API Too Many Calls", "Application request limit reached.", 429, transient=True),
    80007: GraphErrorInfo(
        "Rate limit issues", "The WhatsApp Business Account has reached its rate limit.", 429
    ),
    130429: GraphErrorInfo("Rate limit hit", "Cloud API message throughput has been reached.", 429),
    131000: GraphErrorInfo("Something went wrong", "Message failed to send due to an unknown error.", 500),
    131016: GraphErrorInfo(
        "Service unavailable", "A service is temporarily unavailable.", 503, transient=True
    ),
    131026: GraphErrorInfo(
        "Message undeliverable",
        "Message failed to send because the recipient is not a WhatsApp user or has not accepted the "
        "latest Terms of Service.",
    ),
    131030: GraphErrorInfo(
        "Recipient phone number not in allowed list", "Add the recipient to the allowed list."
    ),
    131047: GraphErrorInfo(
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied "
        "to this number.",
    ),
    131048: GraphErrorInfo(
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent.",
    ),
    131056: GraphErrorInfo(
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the "
        "same phone number in a short period of time.",
    ),
    131057: GraphErrorInfo("Account in maintenance mode", "Business Account is in maintenance mode.", 503),
    132000: GraphErrorInfo(
        "Number of parameters does not match the expected number of params",
        "The number of variable parameter values does not match the template.",
    ),
    132001: GraphErrorInfo(
        "Template does not exist", "The template does not exist in the specified language or is not approved."
    ),
}


def error_info(code: int) -> GraphErrorInfo:
    return GRAPH_ERRORS.get(code, GraphErrorInfo(f"Error {code}", f"Error {code} injected by the sandbox."))


def status_error(code: int) -> Json:
    """One item of a failed status's ``errors`` list."""
    info = error_info(code)
    return {
        "code": code,
        "title": info.title,
        "message": info.title,
        "error_data": {"details": info.details},
        "href": ERROR_HREF,
    }


def _envelope(
    phone_id: str,
    value: Json,
    *,
    waba_id: str = DEFAULT_WABA_ID,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
) -> Json:
    metadata = {"display_phone_number": display_phone_number, "phone_number_id": phone_id}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                    }
                ],
            }
        ],
    }


def _contact(phone: str, name: str) -> Json:
    return {"profile": {"name": name}, "wa_id": digits(phone), "user_id": user_id_for(phone)}


def _inbound(
    phone_id: str,
    from_phone: str,
    message: Json,
    *,
    name: str,
    wamid: str | None,
    timestamp: int | float | None,
    waba_id: str,
    display_phone_number: str,
) -> Json:
    head = {"from": digits(from_phone), "id": wamid or new_wamid(), "timestamp": _timestamp(timestamp)}
    value = {"contacts": [_contact(from_phone, name)], "messages": [{**head, **message}]}
    return _envelope(phone_id, value, waba_id=waba_id, display_phone_number=display_phone_number)


def text_message(
    phone_id: str,
    from_phone: str,
    text: str,
    *,
    name: str = "Client",
    wamid: str | None = None,
    timestamp: int | float | None = None,
    waba_id: str = DEFAULT_WABA_ID,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
) -> Json:
    """A customer's text message to the business number ``phone_id``."""
    message = {"type": "text", "text": {"body": text}}
    return _inbound(
        phone_id,
        from_phone,
        message,
        name=name,
        wamid=wamid,
        timestamp=timestamp,
        waba_id=waba_id,
        display_phone_number=display_phone_number,
    )


def button_reply(
    phone_id: str,
    from_phone: str,
    button_id: str,
    title: str,
    *,
    context_wamid: str,
    name: str = "Client",
    wamid: str | None = None,
    timestamp: int | float | None = None,
    waba_id: str = DEFAULT_WABA_ID,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
) -> Json:
    """A tap on reply button ``button_id`` of our message ``context_wamid``."""
    message = {
        "type": "interactive",
        "context": {"from": display_phone_number, "id": context_wamid},
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
    }
    return _inbound(
        phone_id,
        from_phone,
        message,
        name=name,
        wamid=wamid,
        timestamp=timestamp,
        waba_id=waba_id,
        display_phone_number=display_phone_number,
    )


def list_reply(
    phone_id: str,
    from_phone: str,
    row_id: str,
    title: str,
    *,
    context_wamid: str,
    description: str | None = None,
    name: str = "Client",
    wamid: str | None = None,
    timestamp: int | float | None = None,
    waba_id: str = DEFAULT_WABA_ID,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
) -> Json:
    """A choice of row ``row_id`` in the list of our message ``context_wamid``."""
    reply = {"id": row_id, "title": title}
    if description is not None:
        reply["description"] = description
    message = {
        "type": "interactive",
        "context": {"from": display_phone_number, "id": context_wamid},
        "interactive": {"type": "list_reply", "list_reply": reply},
    }
    return _inbound(
        phone_id,
        from_phone,
        message,
        name=name,
        wamid=wamid,
        timestamp=timestamp,
        waba_id=waba_id,
        display_phone_number=display_phone_number,
    )


def status(
    phone_id: str,
    wamid: str,
    status: str,
    to: str,
    *,
    errors: Sequence[Json] | None = None,
    category: str = "service",
    timestamp: int | float | None = None,
    tracker: str | None = None,
    waba_id: str = DEFAULT_WABA_ID,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
) -> Json:
    """A status ("tick") of our message ``wamid`` to ``to``: sent, delivered, read or failed.

    ``category`` is the pricing category: "service" for free-form replies in the customer service window,
    "utility" or "marketing" for templates. Like Meta, sent and delivered carry conversation and pricing,
    read and failed do not, and only sent has the conversation's expiration.
    """
    stamp = _timestamp(timestamp)
    item: Json = {"id": wamid, "status": status, "timestamp": stamp, "recipient_id": digits(to)}
    if status in ("sent", "delivered"):
        conversation_id = hashlib.sha256(f"{phone_id}:{digits(to)}:{category}".encode()).hexdigest()[:32]
        conversation: Json = {"id": conversation_id, "origin": {"type": category}}
        if status == "sent":
            conversation["expiration_timestamp"] = str(int(stamp) + 24 * 3600)
        item["conversation"] = conversation
        free = category == "service"
        item["pricing"] = {
            "billable": not free,
            "pricing_model": "PMP",
            "category": category,
            "type": "free_customer_service" if free else "regular",
        }
    if tracker is not None:
        item["biz_opaque_callback_data"] = tracker
    if errors:
        item["errors"] = list(errors)
    value = {"contacts": [{"wa_id": digits(to), "user_id": user_id_for(to)}], "statuses": [item]}
    return _envelope(phone_id, value, waba_id=waba_id, display_phone_number=display_phone_number)


def _chunks(items: list[Json], size: int | None) -> Iterable[list[Json]]:
    step = size or max(len(items), 1)
    return (items[i : i + step] for i in range(0, len(items), step))


def batch(*payloads: Mapping[str, Any], max_per_change: int | None = None) -> Json:
    """Several webhook bodies merged into one, as Meta batches them (up to 1000 updates a POST).

    Entries are grouped by account; in an entry, one change per business number and per kind
    (messages, statuses), holding all of its messages or statuses (at most ``max_per_change`` each:
    more make more changes). Contacts are merged without duplicates.
    """
    entries: dict[str, dict[tuple[str, str, str], tuple[Json, list[Json], list[Json]]]] = {}
    for payload in payloads:
        for entry in payload["entry"]:
            groups = entries.setdefault(entry["id"], {})
            for change in entry["changes"]:
                value = change["value"]
                for kind in ("messages", "statuses"):
                    if not value.get(kind):
                        continue
                    key = (change["field"], value["metadata"]["phone_number_id"], kind)
                    base = {k: v for k, v in value.items() if k not in ("contacts", "messages", "statuses")}
                    _, contacts, items = groups.setdefault(key, (base, [], []))
                    contacts.extend(c for c in value.get("contacts", []) if c not in contacts)
                    items.extend(value[kind])
    merged: list[Json] = []
    for entry_id, groups in entries.items():
        changes: list[Json] = []
        for (field, _, kind), (base, contacts, items) in groups.items():
            for chunk in _chunks(items, max_per_change):
                ids = {item.get("from") or item.get("recipient_id") for item in chunk}
                chunk_contacts = [c for c in contacts if c.get("wa_id") in ids] or contacts
                changes.append({"field": field, "value": {**base, "contacts": chunk_contacts, kind: chunk}})
        merged.append({"id": entry_id, "changes": changes})
    return {"object": "whatsapp_business_account", "entry": merged}


def encode(payload: Mapping[str, Any]) -> bytes:
    """The body as Meta sends it: compact JSON with non-ASCII escaped (sign these exact bytes)."""
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
