"""Web Push to the vendor's dashboard: what is notified, how a queued notification moves, and which
push endpoints the bot agrees to post to. Pure rules, no I/O."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit


class PushKind(StrEnum):
    """What a vendor admin may be notified of, each switched on or off per admin (on by default)."""

    PAYMENT_RECEIVED = "payment_received"
    GUARANTEE = "guarantee"  # a guarantee held, or about to lapse at the provider
    REQUEST_FAILED = "request_failed"  # a payment attempt failed at the provider
    CUSTOMER_MESSAGE = "customer_message"  # a customer's message forwarded to the vendor


PUSH_KINDS = tuple(PushKind)


class PushStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# A notification is tried this many times at most (then left failed); gone subscriptions are deleted at once.
MAX_ATTEMPTS = 6
_BACKOFF = (
    timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30),
    timedelta(hours=2),
)  # fmt: skip


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after the ``attempts``-th failed try, or None when it is not tried again."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return _BACKOFF[min(max(attempts, 1), len(_BACKOFF)) - 1]


class Delivery(StrEnum):
    """What a push service's answer means for the notification and its subscription."""

    SENT = "sent"
    GONE = "gone"  # 404 / 410: the subscription no longer exists; deleted, never retried
    RETRY = "retry"  # 429, 5xx, no answer: tried again later
    REJECTED = "rejected"  # any other 4xx: trying again would get the same answer


def delivery_of(status: int | None) -> Delivery:
    if status is None:
        return Delivery.RETRY
    if 200 <= status < 300:
        return Delivery.SENT
    if status in {404, 410}:
        return Delivery.GONE
    if status == 429 or status >= 500 or status == 408:
        return Delivery.RETRY
    return Delivery.REJECTED


@dataclass(frozen=True, slots=True)
class PushNotification:
    """What the service worker shows: a title, a body and the dashboard page a click opens. Never a
    secret or a card number: the body is the vendor's own note about an order."""

    title: str
    body: str
    url: str

    def payload(self) -> dict[str, Any]:
        return {"title": self.title, "body": self.body, "url": self.url}


BODY_LIMIT = 240  # characters; push services cap the encrypted payload near 4 kB


def shortened(text: str, limit: int = BODY_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_LOOPBACK_NAMES = {"localhost"}


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_allowed(endpoint: str, hosts: tuple[str, ...]) -> bool:
    """A subscription's endpoint the bot will post to: https on a known push service (``hosts``, a host or
    a parent domain), so an admin cannot make the server call an address of its own choosing. Plain http
    only to a loopback host listed by name (the tests' local push service)."""
    if len(endpoint) > 2048:
        return False
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    listed = any(host == entry or host.endswith(f".{entry}") for entry in hosts)
    if parts.scheme == "https":
        return listed
    return parts.scheme == "http" and _loopback(host) and host in hosts


def _b64url_bytes(value: str) -> bytes | None:
    if not value or len(value) > 200 or not all(c.isalnum() or c in "-_=" for c in value):
        return None
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None


def subscription_problem(endpoint: str, p256dh: str, auth: str, hosts: tuple[str, ...]) -> str | None:
    """Why a browser's subscription is refused ("endpoint", "keys"), or None: the endpoint is a known push
    service's, the key an uncompressed P-256 point (65 bytes, 0x04 first), the auth secret 16 bytes."""
    if not endpoint_allowed(endpoint, hosts):
        return "endpoint"
    key, secret = _b64url_bytes(p256dh), _b64url_bytes(auth)
    if key is None or len(key) != 65 or key[0] != 4 or secret is None or len(secret) != 16:
        return "keys"
    return None
