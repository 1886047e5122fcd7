"""Checkout Sessions behind our own link: guarantees, pages that offer to save the card, phone payments.

The customer (or, for a phone payment, the vendor) gets ``{base}/pay/stripe/{transaction}``; the bot's
route asks :meth:`HostedSessions.url_for` and redirects. A session lives about an hour (Stripe allows 30
minutes to 24 hours), so a reminder days later still works: each tap after ``REUSE`` makes a fresh one.
Within ``REUSE`` the same session is given again (link previews and repeated taps make no new one), and
a retry after a timeout finds the session it made through its idempotency key (the transaction, a
five-minute slot and the parameters).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import stripe
from stripe.params.checkout import (
    SessionCreateParams,
    SessionCreateParamsPaymentIntentData,
    SessionListParams,
)

from bot.payments.port import LinkRequest
from bot.payments.stripe import consts, intents

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]

SESSION_LIFETIME = timedelta(hours=1)
REUSE = timedelta(minutes=10)
KEY_SLOT_SECONDS = 300
# Our sessions live at most SESSION_LIFETIME plus a slot: an open one of ours was made within this.
OPEN_LOOKBACK = timedelta(hours=2)
MAX_PAGES = 5
# Checkout's page languages (SessionCreateParams.locale); Hebrew is not among them: "auto" (the browser's).
CHECKOUT_LOCALES = frozenset(
    ["bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fil", "fr", "hr", "hu", "id", "it", "ja", "ko"]
    + ["lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh"]
)


def hosted_link_id(transaction_id: uuid.UUID) -> str:
    """The stable id of a link that is our own page (no Stripe object has it)."""
    return f"pay_{transaction_id.hex}"


def transaction_of(provider_link_id: str) -> uuid.UUID | None:
    """The transaction of a :func:`hosted_link_id`; None for a Payment Link (``plink_...``)."""
    if not provider_link_id.startswith("pay_"):
        return None
    try:
        return uuid.UUID(hex=provider_link_id.removeprefix("pay_"))
    except ValueError:
        return None


def is_hosted(request: LinkRequest) -> bool:
    return request.hold or request.offer_save_card or request.by_phone


def line_items(request: LinkRequest, product: str) -> list[dict[str, Any]]:
    """The page's lines: one per order line for a full payment of an order made of products (its
    product's Price, else an inline price on the vendor's product), else one line for the amount."""
    total = sum(consts.stripe_amount(line.unit_price) * line.quantity for line in request.lines)
    if request.lines and total == consts.stripe_amount(request.amount):
        return [
            {"price": line.stripe_price_id, "quantity": line.quantity}
            if line.stripe_price_id
            else {
                "price_data": {
                    "currency": line.unit_price.currency.lower(),
                    "unit_amount": consts.stripe_amount(line.unit_price),
                    "product": product,
                },
                "quantity": line.quantity,
            }
            for line in request.lines
        ]
    return [
        {
            "price_data": {
                "currency": request.amount.currency.lower(),
                "unit_amount": consts.stripe_amount(request.amount),
                "product": product,
            },
            "quantity": 1,
        }
    ]


def session_params(request: LinkRequest, product: str, expires_at: int) -> SessionCreateParams:
    metadata = request.metadata
    intent_data: SessionCreateParamsPaymentIntentData = {
        "metadata": metadata,
        "description": request.description,
    }
    if request.hold:
        # Authorise only: captured (part of it) or cancelled later; the session completes "unpaid".
        intent_data["capture_method"] = "manual"
    params: SessionCreateParams = {
        "mode": "payment",
        "line_items": line_items(request, product),  # type: ignore[typeddict-item]
        "metadata": metadata,
        "client_reference_id": str(request.transaction_id),
        "payment_intent_data": intent_data,
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "expires_at": expires_at,
        "locale": request.locale if request.locale in CHECKOUT_LOCALES else "auto",
    }
    if request.provider_client_id:
        params["customer"] = request.provider_client_id
        if request.offer_save_card:
            # Shows "save my card": a ticked box saves it on the customer with allow_redisplay=always.
            # Nothing is saved otherwise (no setup_future_usage, which would save it whatever they choose).
            params["saved_payment_method_options"] = {"payment_method_save": "enabled"}
    if not request.hold:
        # As the Payment Links do: the paid session makes an invoice, told by invoice.paid. Not for a hold
        # (nothing is paid when it completes; unconfirmed whether Stripe accepts it with manual capture).
        params["invoice_creation"] = {
            "enabled": True,
            "invoice_data": {"metadata": metadata, "description": request.description},
        }
    return params


@dataclass(frozen=True, slots=True)
class _Made:
    made_at: datetime
    digest: str
    session_id: str
    url: str


async def collect(
    fetch: Callable[[str | None], Awaitable[stripe.ListObject[Any]]], pages: int = MAX_PAGES
) -> list[dict[str, Any]]:
    """The items of a Stripe list, page after page (``fetch(starting_after)``), at most ``pages``."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(pages):
        listed = await fetch(after)
        items = [item.to_dict() for item in listed.data]
        found.extend(items)
        if not listed.has_more or not items:
            break
        after = str(items[-1]["id"])
    return found


class HostedSessions:
    def __init__(self, client: stripe.StripeClient, clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._made: dict[uuid.UUID, _Made] = {}

    async def url_for(self, request: LinkRequest, product: str) -> str:
        """A recent session of this request (the same parameters), or a new one. Raises StripeError."""
        now = self._clock()
        for key, made in list(self._made.items()):
            if now - made.made_at >= REUSE:
                del self._made[key]
        slot = int(now.timestamp()) // KEY_SLOT_SECONDS
        # From the slot, not from now: a retry within the slot sends the very same parameters.
        expires_at = (slot + 1) * KEY_SLOT_SECONDS + int(SESSION_LIFETIME.total_seconds())
        params = session_params(request, product, expires_at)
        unslotted = {key: value for key, value in params.items() if key != "expires_at"}
        digest = hashlib.sha256(json.dumps(unslotted, sort_keys=True).encode()).hexdigest()[:16]
        cached = self._made.get(request.transaction_id)
        if cached is not None and cached.digest == digest:
            return cached.url
        session = await self._client.v1.checkout.sessions.create_async(
            params, options={"idempotency_key": f"checkout-{request.transaction_id}-{slot}-{digest}"}
        )
        if session.url is None:  # pragma: no cover - a hosted session always has its page
            raise stripe.APIError("checkout session without a url")
        self._made[request.transaction_id] = _Made(now, digest, session.id, session.url)
        return session.url

    async def open_sessions(self, transaction_id: uuid.UUID, customer: str | None) -> list[dict[str, Any]]:
        since = int((self._clock() - OPEN_LOOKBACK).timestamp())

        def fetch(after: str | None) -> Awaitable[stripe.ListObject[Any]]:
            params: SessionListParams = {"status": "open", "created": {"gte": since}, "limit": 100}
            if customer:
                params["customer"] = customer
            if after:
                params["starting_after"] = after
            return self._client.v1.checkout.sessions.list_async(params)

        found = await collect(fetch)
        return [s for s in found if intents.transaction_id(s.get("metadata")) == transaction_id]

    async def expire_open(self, transaction_id: uuid.UUID, customer: str | None) -> None:
        """No open page of this transaction can take money any more. Raises StripeError (transient)."""
        self._made.pop(transaction_id, None)
        for session in await self.open_sessions(transaction_id, customer):
            try:
                await self._client.v1.checkout.sessions.expire_async(str(session["id"]))
            except stripe.InvalidRequestError as error:
                # Completed or expired meanwhile: nothing more to stop there.
                log.info("checkout session %s not expired: %s", session["id"], error.user_message)
