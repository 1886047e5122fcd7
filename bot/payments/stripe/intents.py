"""PaymentIntents in the port's terms: a guarantee's hold, the card a payment left, what was paid.

Pure functions on Stripe's JSON (a webhook's ``data.object``, or ``to_dict()`` of what the API returned):
the webhooks and the provider read PaymentIntents the same way. Nothing here raises on an odd shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.errors import DomainError
from bot.domain.money import Money
from bot.payments.port import HoldCheck, HoldState, SavedCard
from bot.payments.stripe import consts

# Stripe keeps an online card authorisation 7 days ("place a hold on a payment method": 7 days for online
# card payments, less in person); each charge tells its own deadline in
# payment_method_details.card.capture_before, read when the charge is at hand.
HOLD_WINDOW = timedelta(days=7)


def transaction_id(metadata: Any) -> uuid.UUID | None:
    if not isinstance(metadata, Mapping):
        return None
    try:
        return uuid.UUID(str(metadata.get("transaction_id")))
    except ValueError:
        return None


def purpose(obj: Mapping[str, Any]) -> str | None:
    """What we made the object for (metadata ``purpose``: payment, guarantee, saved_card), if ours."""
    metadata = obj.get("metadata")
    found = metadata.get("purpose") if isinstance(metadata, Mapping) else None
    return found if isinstance(found, str) else None


def money(minor: Any, currency: Any) -> Money | None:
    if not isinstance(minor, int) or isinstance(minor, bool) or not isinstance(currency, str):
        return None
    try:
        return consts.from_stripe_amount(minor, currency)
    except DomainError:
        return None


def moment(value: Any) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 10**11:
        return None
    return datetime.fromtimestamp(value, UTC)


def object_id(value: Any) -> str | None:
    """An id, or the id of an expanded object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping):
        return object_id(value.get("id"))
    return None


def saved_card(intent: Mapping[str, Any]) -> SavedCard | None:
    """The card a PaymentIntent was paid with, when it has a customer (the bot asks ``card_details``
    whether the customer agreed to keep it)."""
    method, customer = object_id(intent.get("payment_method")), object_id(intent.get("customer"))
    if method is None or customer is None:
        return None
    return SavedCard(token=method, provider_customer_id=customer)


def hold_lapses_at(intent: Mapping[str, Any]) -> datetime | None:
    """When Stripe lets the authorisation go: the charge's ``capture_before`` when the charge is expanded
    (the API), else the PaymentIntent's creation plus the usual window (a webhook names the charge only)."""
    charge = intent.get("latest_charge")
    if isinstance(charge, Mapping):
        details = charge.get("payment_method_details")
        card = details.get("card") if isinstance(details, Mapping) else None
        deadline = moment(card.get("capture_before")) if isinstance(card, Mapping) else None
        if deadline is not None:
            return deadline
    created = moment(intent.get("created"))
    return None if created is None else created + HOLD_WINDOW


def hold_check(intent: Mapping[str, Any]) -> HoldCheck:
    status, reference = intent.get("status"), object_id(intent.get("id"))
    currency = intent.get("currency")
    card = saved_card(intent)
    if status == consts.INTENT_REQUIRES_CAPTURE:
        held = money(intent.get("amount_capturable"), currency)
        return HoldCheck(HoldState.HELD, reference, held, None, hold_lapses_at(intent), card)
    if status == consts.INTENT_SUCCEEDED_STATUS:
        captured = money(intent.get("amount_received"), currency)
        return HoldCheck(HoldState.CAPTURED, reference, captured=captured, saved_card=card)
    if status == consts.INTENT_CANCELED_STATUS:
        return HoldCheck(HoldState.RELEASED, reference)
    return HoldCheck(HoldState.REQUESTED, reference)


def of_transaction(
    intents: Iterable[Mapping[str, Any]], transaction: uuid.UUID, wanted: str
) -> list[Mapping[str, Any]]:
    """The PaymentIntents made for ``transaction`` with purpose ``wanted``, in the order given."""
    return [
        intent
        for intent in intents
        if transaction_id(intent.get("metadata")) == transaction and purpose(intent) == wanted
    ]


# Which of a transaction's PaymentIntents tells its state: money taken, then money held, then one still
# on its way; else the newest (a lister gives the newest first).
_RANK = {consts.INTENT_SUCCEEDED_STATUS: 0, consts.INTENT_REQUIRES_CAPTURE: 1, consts.INTENT_PROCESSING: 2}


def telling(intents: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not intents:
        return None
    return min(enumerate(intents), key=lambda pair: (_RANK.get(str(pair[1].get("status")), 3), pair[0]))[1]
