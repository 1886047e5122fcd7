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

from bot import webhook_input
from bot.payments.port import (
    PURPOSE_GUARANTEE,
    PURPOSE_PAYMENT,
    PURPOSE_SAVED_CARD,
    Document,
    PaymentEvent,
    PaymentEventKind,
)
from bot.payments.stripe import consts, intents
from bot.payments.stripe.event_model import shape_problem

log = logging.getLogger(__name__)


class InvalidSignature(Exception):
    """The body was not signed by Stripe with a secret we know, or is too old."""


class MalformedEvent(InvalidSignature):
    """Signed, but not a Stripe event of the shape we use (too deep, not JSON, a field of a wrong type)."""


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
            parsed = webhook_input.loads(payload)
        except webhook_input.BadInput as error:
            raise MalformedEvent(f"signed body: {error}") from error
        problem = shape_problem(parsed.value)
        if problem is not None:
            raise MalformedEvent(f"signed body is not a Stripe event: {problem}")
        return parsed.value, signer
    raise InvalidSignature("no secret matches the signature")


_transaction_id = intents.transaction_id
_money = intents.money


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
        # Checkout asks every payer for an email: the address their receipt can go to, unchecked.
        customer_email=_session_email(session),
    )


def _session_email(session: dict[str, Any]) -> str | None:
    details = session.get("customer_details")
    email = details.get("email") if isinstance(details, dict) else None
    if not isinstance(email, str):
        email = session.get("customer_email")
    return email if isinstance(email, str) and email else None


def _completed(event: dict[str, Any]) -> list[PaymentEvent]:
    session = event["data"]["object"]
    if intents.purpose(session) == PURPOSE_GUARANTEE:
        # A hold authorised (payment_status "unpaid": nothing captured): the PaymentIntent's
        # amount_capturable_updated tells it, with the amount held.
        log.info("checkout session %s completed a guarantee: no payment", session.get("id"))
        return []
    status = session.get("payment_status")
    if status != consts.PAYMENT_STATUS_PAID:
        # Delayed methods (SEPA debit, ...) complete unpaid; async_payment_succeeded will follow.
        log.info("checkout session completed with payment_status=%s: not paid yet", status)
        return []
    return [_session_event(event, PaymentEventKind.PAID)]


def _async_failed(event: dict[str, Any]) -> PaymentEvent:
    failed = _session_event(event, PaymentEventKind.FAILED)
    # A Payment Link's session was its only one: the link cannot be paid again. Our own page (a hosted
    # Checkout Session, no payment_link) makes a fresh session at the next tap.
    return replace(failed, link_exhausted=failed.provider_link_id is not None)


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


def _intent_event(event: dict[str, Any], kind: PaymentEventKind, **fields: Any) -> PaymentEvent:
    intent = event["data"]["object"]
    return PaymentEvent(
        provider=consts.NAME,
        event_id=event["id"],
        kind=kind,
        occurred_at=datetime.fromtimestamp(int(event.get("created", 0)), UTC),
        transaction_id=_transaction_id(intent.get("metadata")),
        reference=intents.object_id(intent.get("id")),
        **fields,
    )


def _capturable(event: dict[str, Any]) -> list[PaymentEvent]:
    """A guarantee's card authorised: HELD for what is capturable, with the card when it has a customer
    (the bot asks card_details whether they agreed to keep it)."""
    intent = event["data"]["object"]
    held = _money(intent.get("amount_capturable"), intent.get("currency"))
    if intents.purpose(intent) != PURPOSE_GUARANTEE or intent.get("status") != consts.INTENT_REQUIRES_CAPTURE:
        return []
    if held is None or not held.is_positive():
        return []
    fields = {"hold_lapses_at": intents.hold_lapses_at(intent), "saved_card": intents.saved_card(intent)}
    return [_intent_event(event, PaymentEventKind.HELD, amount=held, method="card", **fields)]


def _intent_succeeded(event: dict[str, Any]) -> list[PaymentEvent]:
    intent = event["data"]["object"]
    received = _money(intent.get("amount_received"), intent.get("currency"))
    purpose = intents.purpose(intent)
    if purpose == PURPOSE_GUARANTEE:
        return [_intent_event(event, PaymentEventKind.CAPTURED, amount=received, method="card")]
    if purpose == PURPOSE_SAVED_CARD:
        return [_intent_event(event, PaymentEventKind.PAID, amount=received, method="card")]
    if purpose == PURPOSE_PAYMENT:
        # The same payment as its checkout.session.completed (same reference: counted once), with the
        # card the customer may have saved.
        card = intents.saved_card(intent)
        return [_intent_event(event, PaymentEventKind.PAID, amount=received, method="card", saved_card=card)]
    return []


def _intent_canceled(event: dict[str, Any]) -> list[PaymentEvent]:
    intent = event["data"]["object"]
    if intents.purpose(intent) != PURPOSE_GUARANTEE:
        return []
    reason = intent.get("cancellation_reason")
    detail = reason if isinstance(reason, str) else None
    return [_intent_event(event, PaymentEventKind.RELEASED, detail=detail)]


_HANDLERS: dict[str, Callable[[dict[str, Any]], list[PaymentEvent]]] = {
    consts.SESSION_COMPLETED: _completed,
    consts.ASYNC_PAYMENT_SUCCEEDED: lambda event: [_session_event(event, PaymentEventKind.PAID)],
    consts.ASYNC_PAYMENT_FAILED: lambda event: [_async_failed(event)],
    consts.CHARGE_REFUNDED: _charge_refunded,
    consts.INVOICE_PAID: _invoice_paid,
    consts.INTENT_CAPTURABLE: _capturable,
    consts.INTENT_SUCCEEDED: _intent_succeeded,
    consts.INTENT_CANCELED: _intent_canceled,
}


def stored_payload(raw_event: str, signer: str) -> str:
    """What the inbox keeps: the event and who signed it."""
    return json.dumps({"signer": signer, "event": raw_event})


def stored_event(body: bytes, event: dict[str, Any], signer: str) -> str:
    """``stored_payload`` of a verified body: as it came, or re-encoded when ``verify`` cleaned its text
    (a NUL escape, a lone surrogate: what Postgres could not store)."""
    if webhook_input.needs_cleaning(body):
        return stored_payload(webhook_input.dumps(event), signer)
    return stored_payload(body.decode("utf-8"), signer)


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
    try:
        events = handler(event)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        # A shape we do not know (an API version's change, a hand-made event): nothing to tell.
        log.warning(
            "stripe event %s of type %s not understood: %r", event.get("id"), event.get("type"), error
        )
        return []
    return [replace(found, vendor_id=owner) for found in events]
