"""Customers, saved cards (PaymentMethods) and PaymentIntents of the fake Stripe: holds captured or
cancelled, and off-session charges of a saved card that succeed, decline or want the customer there.

Cards are Stripe's test PaymentMethods (docs.stripe.com/testing): the fake knows what each does when
charged, as Stripe does; the objects show only brand, last 4 digits and expiry, never the number.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from tests.fakes.stripe.links import PaymentLinksApi
from tests.fakes.stripe.wire import (
    FakeError,
    Json,
    Schema,
    boolean,
    created_filter,
    integer,
    metadata_param,
    missing,
    new_id,
    no_such,
    page,
    reject_unknown,
    search_matcher,
    search_result,
)


class FakeCard(NamedTuple):
    brand: str
    number: str  # only for tests that check no request ever carries one
    behaviour: str  # succeeds | authentication_required | declined


TEST_CARDS: dict[str, FakeCard] = {
    "pm_card_visa": FakeCard("visa", "4242424242424242", "succeeds"),
    # Needs 3-D Secure on every payment: passes on a checkout page, declines off-session.
    "pm_card_authenticationRequired": FakeCard("visa", "4000002760003184", "authentication_required"),
    # Attaching it to a customer succeeds; every charge declines.
    "pm_card_chargeCustomerFail": FakeCard("visa", "4000000000000341", "declined"),
}
TEST_CARD_NUMBERS = frozenset(card.number for card in TEST_CARDS.values())

CUSTOMER_CREATE: Schema = dict.fromkeys(
    ["name", "phone", "email", "description", "metadata", "preferred_locales", "expand"]
)
PAYMENT_INTENT_CREATE: Schema = {
    **dict.fromkeys(
        [
            "amount",
            "currency",
            "customer",
            "payment_method",
            "off_session",
            "confirm",
            "metadata",
            "description",
            "capture_method",
            "statement_descriptor_suffix",
            "return_url",
            "expand",
        ]
    ),
    # payment_method_types is gone from PaymentIntentCreateParams in stripe-python 16.1.0.
    "allowed_payment_method_types": None,
    "automatic_payment_methods": dict.fromkeys(["enabled", "allow_redirects"]),
}
PAYMENT_INTENT_EXPANDABLE = frozenset({"latest_charge", "payment_method", "customer"})
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})


class CardsApi(PaymentLinksApi):
    # Time passing: authorisations lapse (called before every request and by every test helper)

    def tick(self) -> None:
        now = self.timestamp()
        for intent in self.payment_intents.values():
            if intent.get("status") != "requires_capture":
                continue
            charge = self.charges[intent["latest_charge"]]
            if now >= charge["payment_method_details"]["card"]["capture_before"]:
                # Since 2025-03-31.basil an expired authorisation is "expired", with no refund object.
                intent.update(
                    status="canceled", amount_capturable=0, canceled_at=now, cancellation_reason="expired"
                )
                self.emit("charge.expired", charge)
                self.emit("payment_intent.canceled", intent)

    # Customers

    def _create_customer(self, params: Json) -> Json:
        reject_unknown(params, CUSTOMER_CREATE)
        customer_id = new_id("cus_", 14)
        self.customers[customer_id] = {
            "id": customer_id,
            "object": "customer",
            "created": self.timestamp(),
            "description": params.get("description"),
            "email": params.get("email"),
            "invoice_settings": {"default_payment_method": None},
            "livemode": False,
            "metadata": metadata_param(params.get("metadata"), "metadata"),
            "name": params.get("name"),
            "phone": params.get("phone"),
            "preferred_locales": params.get("preferred_locales") or [],
        }
        self.created["customer"] += 1
        return copy.deepcopy(self.customers[customer_id])

    def _search_customers(self, params: Json) -> Json:
        reject_unknown(params, dict.fromkeys(["query", "limit", "page", "expand"]))
        matches = search_matcher(params.get("query"))
        found = [copy.deepcopy(c) for c in self.customers.values() if matches(c)]
        return search_result(found, params, "/v1/customers/search")

    # PaymentMethods

    def add_card(
        self, test_card: str = "pm_card_visa", *, customer: str | None = None, allow_redisplay: str = "always"
    ) -> Json:
        """A card as a customer left it earlier (saved through Checkout: attached, ``allow_redisplay``)."""
        method = self._new_card(test_card)
        if customer is not None:
            if customer not in self.customers:
                raise ValueError(f"no customer {customer}")
            method.update(customer=customer, allow_redisplay=allow_redisplay)
        return copy.deepcopy(method)

    def _new_card(self, test_card: str) -> Json:
        card = TEST_CARDS[test_card]
        method_id = new_id("pm_")
        self._card_behaviour[method_id] = card.behaviour
        self.payment_methods[method_id] = {
            "id": method_id,
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {"email": "jenny.rosen@example.com", "name": "Jenny Rosen", "phone": None},
            "card": {
                "brand": card.brand,
                "checks": {"cvc_check": "pass"},
                "country": "US",
                "display_brand": card.brand,
                "exp_month": 12,
                "exp_year": self.clock().year + 3,
                "fingerprint": new_id("", 16),
                "funding": "credit",
                "last4": card.number[-4:],
            },
            "created": self.timestamp(),
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        return self.payment_methods[method_id]

    def _method(self, method_id: str, param: str = "id", status: int = 404) -> Json:
        if method_id not in self.payment_methods:
            raise no_such("PaymentMethod", method_id, param, status=status)
        return self.payment_methods[method_id]

    def _attach_method(self, params: Json, method_id: str) -> Json:
        reject_unknown(params, dict.fromkeys(["customer", "expand"]))
        method = self._method(method_id)
        customer = params.get("customer")
        if not customer:
            raise missing("customer")
        if customer not in self.customers:
            raise no_such("customer", customer, "customer", status=400)
        if method_id in self._spent_methods:
            raise self._spent(method_id)
        if method["customer"] not in (None, customer):
            raise FakeError(400, "The payment method you provided has already been attached to a customer.")
        method["customer"] = customer
        self.emit("payment_method.attached", method)
        return copy.deepcopy(method)

    def _detach_method(self, params: Json, method_id: str) -> Json:
        reject_unknown(params, dict.fromkeys(["expand"]))
        method = self._method(method_id)
        if method["customer"] is None:
            message = (
                "The payment method you provided is not attached to a customer so detachment is impossible."
            )
            raise FakeError(400, message)
        method["customer"] = None
        # A detached PaymentMethod can never be used again (Stripe's rule).
        self._spent_methods.add(method_id)
        self.emit("payment_method.detached", method)
        return copy.deepcopy(method)

    @staticmethod
    def _spent(method_id: str) -> FakeError:
        message = (
            "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
            "attachment, shared with a connected account without Customer attachment, or was detached from a "
            "Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it "
            "to a Customer first."
        )
        return FakeError(400, message, param="payment_method")

    # PaymentIntents

    def _create_payment_intent(self, params: Json) -> Json:
        reject_unknown(params, PAYMENT_INTENT_CREATE)
        amount = integer(params.get("amount"), "amount", minimum=1)
        currency = str(params.get("currency") or "").lower()
        if len(currency) != 3 or not currency.isalpha():
            raise (
                missing("currency") if not currency else FakeError(400, "Invalid currency", param="currency")
            )
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise no_such("customer", customer, "customer", status=400)
        method_id = params.get("payment_method")
        method = self._method(method_id, "payment_method", status=400) if method_id else None
        if method is not None:
            if method_id in self._spent_methods:
                raise self._spent(method_id)
            if method["customer"] is not None and method["customer"] != customer:
                message = "The provided PaymentMethod belongs to a Customer other than the one provided."
                raise FakeError(400, message, param="payment_method")
        confirm = boolean(params.get("confirm", "false"), "confirm")
        off_session = boolean(params["off_session"], "off_session") if "off_session" in params else False
        if off_session and not confirm:
            raise FakeError(400, "off_session can only be used when confirm=true.", param="off_session")
        if confirm and method is None:
            raise FakeError(400, "You must provide a PaymentMethod to confirm this PaymentIntent.")
        types = params.get("allowed_payment_method_types")
        if types not in (None, ["card"]):
            raise FakeError(400, "The fake models card payments only.", param="allowed_payment_method_types")
        automatic = params.get("automatic_payment_methods") or {}
        if automatic:
            boolean(automatic.get("enabled"), "automatic_payment_methods[enabled]")
        redirects = automatic.get("allow_redirects", "always")
        if redirects not in ("always", "never"):
            param = "automatic_payment_methods[allow_redirects]"
            raise FakeError(400, f"Invalid allow_redirects: {redirects}", param=param)
        if confirm and types is None and redirects != "never" and not params.get("return_url"):
            # Automatic payment methods are on by default: a server-side confirm may have to redirect.
            message = (
                "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. "
                "Because some of these payment methods might redirect your customer off of your page, you "
                "must provide a `return_url`. If you don't want to accept redirect-based payment methods, "
                "set `automatic_payment_methods[enabled]` to `true` and "
                "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
                "Payment Intents."
            )
            raise FakeError(400, message)
        capture_method = params.get("capture_method", "automatic")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise FakeError(400, f"Invalid capture_method: {capture_method}", param="capture_method")
        intent = self._new_intent(
            amount,
            currency,
            customer=customer,
            metadata=metadata_param(params.get("metadata"), "metadata"),
            description=params.get("description"),
            capture_method=capture_method,
        )
        self.created["payment_intent"] += 1
        self.emit("payment_intent.created", intent)
        if confirm and method_id is not None:
            self._confirm(intent, method_id, off_session=off_session)
        return self._expanded(intent, params.get("expand"))

    def _new_intent(
        self,
        amount: int,
        currency: str,
        *,
        customer: str | None,
        metadata: dict[str, str],
        description: str | None,
        capture_method: str,
    ) -> Json:
        intent_id = new_id("pi_")
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture_method,
            "client_secret": f"{intent_id}_secret_{new_id('', 24)}",
            "confirmation_method": "automatic",
            "created": self.timestamp(),
            "currency": currency,
            "customer": customer,
            "description": description,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "status": "requires_payment_method",
        }
        return self.payment_intents[intent_id]

    def _confirm(self, intent: Json, method_id: str, *, off_session: bool) -> None:
        """Charges (or authorises) the card; a decline is a 402 card_error that Stripe keeps for the key."""
        method = self.payment_methods[method_id]
        behaviour = self._card_behaviour[method_id]
        if method["customer"] is None:
            self._spent_methods.add(method_id)  # used once without a customer: never again
        if behaviour == "succeeds":
            self._authorise(intent, method_id)
            return
        if behaviour == "authentication_required" and not off_session:
            # The customer is there: their bank's challenge comes next (not modelled further).
            intent.update(
                status="requires_action", payment_method=method_id, next_action={"type": "use_stripe_sdk"}
            )
            return
        if behaviour == "authentication_required":
            code, decline_code = "authentication_required", "authentication_required"
            message = "Your card was declined. This transaction requires authentication."
        else:
            code, decline_code, message = "card_declined", "generic_decline", "Your card was declined."
        charge = self._charge(intent, method_id, status="failed")
        charge.update(failure_code=code, failure_message=message)
        error = {
            "charge": charge["id"],
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "payment_method": copy.deepcopy(method),
            "type": "card_error",
        }
        intent.update(status="requires_payment_method", last_payment_error=error, latest_charge=charge["id"])
        self.emit("charge.failed", charge)
        self.emit("payment_intent.payment_failed", intent)
        raise FakeError(
            402,
            message,
            error_type="card_error",
            saved=True,
            objects={"payment_intent": copy.deepcopy(intent), "payment_method": copy.deepcopy(method)},
            code=code,
            decline_code=decline_code,
            charge=charge["id"],
        )

    def _authorise(self, intent: Json, method_id: str) -> None:
        manual = intent["capture_method"] == "manual"
        charge = self._charge(intent, method_id, status="succeeded", captured=not manual)
        intent.update(payment_method=method_id, latest_charge=charge["id"], next_action=None)
        self.emit("charge.succeeded", charge)
        if manual:
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
            self.emit("payment_intent.amount_capturable_updated", intent)
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])
            self.emit("payment_intent.succeeded", intent)

    def _charge(self, intent: Json, method_id: str, *, status: str, captured: bool = False) -> Json:
        card = self.payment_methods[method_id]["card"]
        now = self.timestamp()
        charge_id = new_id("ch_")
        details = {
            key: card[key] for key in ("brand", "country", "exp_month", "exp_year", "fingerprint", "last4")
        }
        if status == "succeeded" and not captured:
            details["capture_before"] = now + int(self.capture_window.total_seconds())
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if captured else 0,
            "amount_refunded": 0,
            "captured": captured,
            "created": now,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "paid": status == "succeeded",
            "payment_intent": intent["id"],
            "payment_method": method_id,
            "payment_method_details": {"type": "card", "card": details},
            "refunded": False,
            "status": status,
        }
        return self.charges[charge_id]

    def _intent(self, intent_id: str) -> Json:
        if intent_id not in self.payment_intents:
            raise no_such("payment_intent", intent_id, "intent")
        return self.payment_intents[intent_id]

    def _expanded(self, intent: Json, expand: Any, prefix: str = "") -> Json:
        shown = copy.deepcopy(intent)
        for path in expand or []:
            field = str(path).removeprefix(prefix)
            if not str(path).startswith(prefix) or field not in PAYMENT_INTENT_EXPANDABLE:
                raise FakeError(400, f"This property cannot be expanded ({path}).", param="expand")
            store = {"latest_charge": self.charges, "payment_method": self.payment_methods}.get(
                field, self.customers
            )
            if shown.get(field) is not None:
                shown[field] = copy.deepcopy(store[shown[field]])
        return shown

    def _retrieve_payment_intent(self, params: Json, intent_id: str) -> Json:
        reject_unknown(params, dict.fromkeys(["expand", "client_secret"]))
        return self._expanded(self._intent(intent_id), params.get("expand"))

    def _list_payment_intents(self, params: Json) -> Json:
        reject_unknown(params, dict.fromkeys(["customer", "created", "limit", "starting_after", "expand"]))
        when = created_filter(params)
        customer = params.get("customer")
        found = [
            self._expanded(intent, params.get("expand"), prefix="data.")
            for intent in self.payment_intents.values()
            if when(intent["created"]) and customer in (None, intent.get("customer"))
        ]
        return page(found, params, "/v1/payment_intents")

    def _search_payment_intents(self, params: Json) -> Json:
        reject_unknown(params, dict.fromkeys(["query", "limit", "page", "expand"]))
        matches = search_matcher(params.get("query"))
        found = [
            self._expanded(intent, params.get("expand"), prefix="data.")
            for intent in self.payment_intents.values()
            if matches(intent)
        ]
        return search_result(found, params, "/v1/payment_intents/search")

    def _capture(self, params: Json, intent_id: str) -> Json:
        reject_unknown(params, dict.fromkeys(["amount_to_capture", "expand", "metadata"]))
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            message = (
                f"This PaymentIntent could not be captured because it has a status of {intent['status']}. "
                "Only a PaymentIntent with one of the following statuses may be captured: requires_capture."
            )
            raise FakeError(
                400,
                message,
                code="payment_intent_unexpected_state",
                objects={"payment_intent": copy.deepcopy(intent)},
            )
        capturable = intent["amount_capturable"]
        name = "amount_to_capture"
        amount = integer(params[name], name, minimum=1) if name in params else capturable
        if amount > capturable:
            message = (
                f"The amount to capture ({amount}) is greater than the amount capturable ({capturable})."
            )
            raise FakeError(400, message, code="amount_too_large", param=name)
        charge = self.charges[intent["latest_charge"]]
        # The rest of the authorisation is released by the capture itself.
        charge.update(captured=True, amount_captured=amount)
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        if "metadata" in params:
            intent["metadata"] = metadata_param(params["metadata"], "metadata", intent["metadata"])
        self.emit("charge.captured", charge)
        self.emit("payment_intent.succeeded", intent)
        return self._expanded(intent, params.get("expand"))

    def _cancel(self, params: Json, intent_id: str) -> Json:
        reject_unknown(params, dict.fromkeys(["cancellation_reason", "expand"]))
        intent = self._intent(intent_id)
        if intent["status"] not in CANCELABLE:
            message = (
                f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}. Only a "
                f"PaymentIntent with one of the following statuses may be canceled: {', '.join(CANCELABLE)}."
            )
            raise FakeError(
                400,
                message,
                code="payment_intent_unexpected_state",
                objects={"payment_intent": copy.deepcopy(intent)},
            )
        reason = params.get("cancellation_reason")
        if reason is not None and reason not in CANCELLATION_REASONS:
            raise FakeError(400, f"Invalid cancellation_reason: {reason}", param="cancellation_reason")
        intent.update(
            status="canceled",
            amount_capturable=0,
            canceled_at=self.timestamp(),
            cancellation_reason=reason,
            next_action=None,
        )
        self.emit("payment_intent.canceled", intent)
        return self._expanded(intent, params.get("expand"))

    def hold_lapses(self, intent_id: str) -> None:
        """Moves nothing but the authorisation's deadline: it lapses at the next request or ``tick()``."""
        charge = self.charges[self.payment_intents[intent_id]["latest_charge"]]
        charge["payment_method_details"]["card"]["capture_before"] = self.timestamp()
        self.tick()

    def capture_deadline(self, intent_id: str) -> int:
        charge = self.charges[self.payment_intents[intent_id]["latest_charge"]]
        return int(charge["payment_method_details"]["card"]["capture_before"])
