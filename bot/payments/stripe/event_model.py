"""The shape of a Stripe event, as far as we use it: checked once its signature is, before it is stored.

Stripe signs whatever it sends, so a signed body that is not this shape is a bug on one side or the
other: refused with a 400 (Stripe retries a few times over three days, then gives up), never stored to
fail in processing. Ids and amounts that reach a query or a date are strict; what we do not read is let
through.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints, ValidationError

# inbound_events.event_key and event_type.
EventId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=255)]
EventType = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
Amount = Annotated[int, Field(strict=True, ge=0, lt=10**15)]
Seconds = Annotated[int, Field(strict=True, ge=0, lt=10**11)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DataObject(_Part):
    id: StrictStr | None = None
    metadata: dict[str, StrictStr] | None = None
    currency: Annotated[str, StringConstraints(strict=True, min_length=3, max_length=3)] | None = None
    amount: Amount | None = None
    amount_total: Amount | None = None
    amount_received: Amount | None = None
    amount_capturable: Amount | None = None
    amount_refunded: Amount | None = None
    payment_link: StrictStr | None = None
    # An id, or the object when a request expanded it.
    payment_intent: StrictStr | dict[str, Any] | None = None


class Data(_Part):
    object: DataObject


class StripeEvent(_Part):
    id: EventId
    type: EventType
    created: Seconds | None = None
    data: Data


def shape_problem(event: object) -> str | None:
    """Where ``event`` is not a Stripe event we can use, or None; the place, never the value."""
    try:
        StripeEvent.model_validate(event)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        place = ".".join(str(part) for part in first["loc"]) or "body"
        return f"unexpected {place}: {first['type']}"
    return None
