"""What the fake Stripe holds: Stripe-shaped objects by id, the requests it received, the events it sent."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import stripe

from tests.conftest import NOW
from tests.fakes.stripe.account import account_object
from tests.fakes.stripe.wire import API_VERSION, Fault, Json, RecordedRequest, new_id, sign


class FakeStripeState:
    """The stores every part of the fake reads and writes (see :class:`FakeStripe`)."""

    def __init__(
        self,
        api_key: str = "sk_test_fake",
        webhook_secret: str = "whsec_fake",
        clock: Callable[[], datetime] = lambda: NOW,
    ) -> None:
        # Objects, events and signatures are dated by the test's clock, never by today's date.
        self.clock = clock
        self.api_key = api_key  # any sk_test_ key is accepted; this one is for the client under test
        # Keys Stripe does not know (mistyped, revoked): refused with a 401, like any key not sk_test_.
        self.refused_keys: set[str] = set()
        # The account every accepted key opens (GET /v1/account).
        self.account: Json = account_object(self.timestamp())
        self.webhook_secret = webhook_secret
        self.products: dict[str, Json] = {}
        self.payment_links: dict[str, Json] = {}
        self.line_items: dict[str, list[Json]] = {}
        self.params: dict[str, Json] = {}
        self.sessions: dict[str, Json] = {}
        # The decoded create parameters of the sessions made through the API, by session id.
        self.session_params: dict[str, Json] = {}
        self.payment_intents: dict[str, Json] = {}
        self.charges: dict[str, Json] = {}
        self.refunds: dict[str, Json] = {}
        self.invoices: dict[str, Json] = {}
        self.customers: dict[str, Json] = {}
        self.payment_methods: dict[str, Json] = {}
        # Every event Stripe would have sent about what happened (through the API or a customer), in order.
        self.events: list[Json] = []
        # How long a card authorisation stays capturable (its charge's capture_before).
        self.capture_window = timedelta(days=7)
        self.requests: list[RecordedRequest] = []
        self.created: Counter[str] = Counter()
        # (api key, idempotency key) -> (method, path, params), status, body: the first answer, replayed.
        self._idempotent: dict[tuple[str, str], tuple[tuple[str, str, Json], int, Json]] = {}
        self._failures: list[Fault] = []
        self._delays: list[Fault] = []
        self._lost: list[Fault] = []
        # What a test card does when charged, by PaymentMethod id (not part of the object, as at Stripe).
        self._card_behaviour: dict[str, str] = {}
        # PaymentMethods used without a customer, or detached: Stripe refuses to use them again.
        self._spent_methods: set[str] = set()

    def timestamp(self) -> int:
        """Now by the test's clock, as the Unix seconds Stripe writes in `created` and signatures."""
        return int(self.clock().timestamp())

    def event(self, event_type: str, data_object: Mapping[str, Any] | stripe.StripeObject) -> Json:
        """The envelope Stripe posts to a webhook endpoint, around a snapshot of ``data_object``."""
        data = data_object.to_dict() if isinstance(data_object, stripe.StripeObject) else dict(data_object)
        return {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.timestamp(),
            "data": {"object": copy.deepcopy(data)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }

    def emit(self, event_type: str, data_object: Mapping[str, Any]) -> Json:
        """An event about something that just happened, kept in ``events`` (what Stripe would send)."""
        event = self.event(event_type, data_object)
        self.events.append(event)
        return event

    def events_of(self, event_type: str) -> list[Json]:
        return [event for event in self.events if event["type"] == event_type]

    def signed(self, event: Mapping[str, Any], secret: str | None = None) -> tuple[str, str]:
        """The body and ``Stripe-Signature`` header of a webhook delivery of ``event``."""
        payload = json.dumps(event)
        return payload, sign(payload, secret or self.webhook_secret, self.timestamp())
