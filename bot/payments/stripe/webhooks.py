"""Stripe webhooks: the signature checked on the raw body, then the event mapped to neutral events."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from bot.domain.errors import DomainError
from bot.domain.money import Money
from bot.payments.port import Document, PaymentEvent, PaymentEventKind
from bot.payments.stripe import consts

log = logging.getLogger(__name__)


class InvalidSignature(Exception):
    """The body was not signed by Stripe with a secret we know, or is too old."""


PLATFORM = "platform"


def _signed_at(header: str) -> datetime:
    """The ``t=`` timestamp of a ``Stripe-Signature`` header."""
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            return datetime.fromtimestamp(int(value), UTC)
    raise InvalidSignature("no timestamp in the Stripe-Signature header")


def verify(
    payload: bytes, header: str | None, secrets: Mapping[str, str], now: datetime
) -> tuple[dict[str, Any], str]:
    """The event and who signed it (a vendor id, or PLATFORM for the environment's secret), if
    ``header`` signs ``payload`` with one of ``secrets`` (signer -> secret) within the tolerance of
    ``now`` (the app's clock: stripe-python would read the wall clock)."""
    if not header:
        raise InvalidSignature("no Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidSignature("body is not UTF-8") from error
    # As stripe-python: only an old signature is refused (a replay), not one from a clock ahead of ours.
    if _signed_at(header) < now - timedelta(seconds=consts.SIGNATURE_TOLERANCE_SECONDS):
        raise InvalidSignature("the signature is too old")
    for signer, secret in secrets.items():
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        try:
            event = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidSignature("signed body is not JSON") from error
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) or "type" not in event:
            raise InvalidSignature("signed body is not a Stripe event")
        return event, signer
    raise InvalidSignature("no secret matches the signature")


def _transaction_id(metadata: Any) -> uuid.UUID | None:
    if not isinstance(metadata, dict):
        return None
    try:
        return uuid.UUID(str(metadata.get("transaction_id")))
    except ValueError:
        return None


def _money(minor: Any, currency: Any) -> Money | None:
    if not isinstance(minor, int) or not isinstance(currency, str):
        return None
    try:
        return consts.from_stripe_amount(minor, currency)
    except DomainError:
        return None


def _session_event(event: dict[str, Any], kind: PaymentEventKind) -> PaymentEvent:
    session = event["data"]["object"]
    return PaymentEvent(
        provider=consts.NAME,
        event_id=event["id"],
        kind=kind,
        occurred_at=datetime.fromtimestamp(int(event.get("created", 0)), UTC),
        transaction_id=_transaction_id(session.get("metadata")),
        provider_link_id=session.get("payment_link"),
        # The payment intent is the payment; the session id stands in when there is none.
        reference=session.get("payment_intent") or session.get("id"),
        amount=_money(session.get("amount_total"), session.get("currency")),
        method="card",
    )


def _completed(event: dict[str, Any]) -> list[PaymentEvent]:
    status = event["data"]["object"].get("payment_status")
    if status != consts.PAYMENT_STATUS_PAID:
        # Delayed methods (SEPA debit, ...) complete unpaid; async_payment_succeeded will follow.
        log.info("checkout session completed with payment_status=%s: not paid yet", status)
        return []
    return [_session_event(event, PaymentEventKind.PAID)]


def _charge_refunded(event: dict[str, Any]) -> list[PaymentEvent]:
    charge = event["data"]["object"]
    return [
        PaymentEvent(
            provider=consts.NAME,
            event_id=event["id"],
            kind=PaymentEventKind.REFUNDED,
            occurred_at=datetime.fromtimestamp(int(event.get("created", 0)), UTC),
            transaction_id=_transaction_id(charge.get("metadata")),
            reference=charge.get("payment_intent"),
            amount=_money(charge.get("amount"), charge.get("currency")),
            refunded_amount=_money(charge.get("amount_refunded"), charge.get("currency")),
        )
    ]


def _invoice_paid(event: dict[str, Any]) -> list[PaymentEvent]:
    """The invoice a payment link's invoice_creation made, once paid: its number and hosted page."""
    invoice = event["data"]["object"]
    number, url = invoice.get("number"), invoice.get("hosted_invoice_url")
    transaction_id = _transaction_id(invoice.get("metadata"))
    if not isinstance(number, str) or transaction_id is None:
        log.info("stripe invoice %s is not one of our payments' invoices", invoice.get("id"))
        return []
    return [
        PaymentEvent(
            provider=consts.NAME,
            event_id=event["id"],
            kind=PaymentEventKind.INVOICED,
            occurred_at=datetime.fromtimestamp(int(event.get("created", 0)), UTC),
            transaction_id=transaction_id,
            document=Document(consts.DOCTYPE_INVOICE, number[:64], url if isinstance(url, str) else None),
        )
    ]


_HANDLERS: dict[str, Callable[[dict[str, Any]], list[PaymentEvent]]] = {
    consts.SESSION_COMPLETED: _completed,
    consts.ASYNC_PAYMENT_SUCCEEDED: lambda event: [_session_event(event, PaymentEventKind.PAID)],
    # The session that failed was the link's only one: the link cannot be paid again.
    consts.ASYNC_PAYMENT_FAILED: lambda event: [
        replace(_session_event(event, PaymentEventKind.FAILED), link_exhausted=True)
    ],
    consts.CHARGE_REFUNDED: _charge_refunded,
    consts.INVOICE_PAID: _invoice_paid,
}


def stored_payload(raw_event: str, signer: str) -> str:
    """What the inbox keeps: the event and who signed it."""
    return json.dumps({"signer": signer, "event": raw_event})


def payment_events(payload: str) -> list[PaymentEvent]:
    """The neutral events a stored Stripe event means; other types mean nothing to us."""
    stored = json.loads(payload)
    event = json.loads(stored["event"])
    handler = _HANDLERS.get(event.get("type", ""))
    if handler is None:
        log.info("stripe event %s of type %s acknowledged and ignored", event.get("id"), event.get("type"))
        return []
    signer = stored.get("signer", PLATFORM)
    owner = None if signer == PLATFORM else uuid.UUID(signer)
    return [replace(found, vendor_id=owner) for found in handler(event)]
