"""Checkout Sessions made through the API (``POST /v1/checkout/sessions``), and a customer completing one
as on Stripe's page: paying, or authorising a hold, and ticking "save my card" or not."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.stripe.cards import TEST_CARDS, CardsApi
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
)

SESSION_CREATE: Schema = {
    **dict.fromkeys(
        ["mode", "customer", "client_reference_id", "metadata", "success_url", "cancel_url", "expires_at"]
    ),
    **dict.fromkeys(["locale", "expand"]),
    "line_items": {
        "price": None,
        "price_data": dict.fromkeys(["currency", "unit_amount", "product"]),
        "quantity": None,
    },
    "payment_intent_data": dict.fromkeys(
        ["metadata", "description", "capture_method", "setup_future_usage", "statement_descriptor_suffix"]
    ),
    "saved_payment_method_options": dict.fromkeys(
        ["payment_method_save", "payment_method_remove", "allow_redisplay_filters"]
    ),
    "invoice_creation": {
        "enabled": None,
        "invoice_data": dict.fromkeys(["metadata", "description", "footer"]),
    },
}
# Checkout's locales (SessionCreateParams.locale in stripe-python 16.1.0).
_LOCALES = "auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hi-IN hr hu id it ja ko lt lv ms mt nb"
LOCALES = frozenset(f"{_LOCALES} nl pl pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW".split(" "))
MIN_LIFETIME, MAX_LIFETIME = 30 * 60, 24 * 3600


class SessionNotOpen(Exception):
    """``complete_session()`` on a session a customer could no longer use: completed or expired."""


class CheckoutApi(CardsApi):
    def tick(self) -> None:
        super().tick()
        now = self.timestamp()
        for session in self.sessions.values():
            if session["status"] == "open" and now >= (session.get("expires_at") or now + 1):
                session["status"] = "expired"
                self.emit("checkout.session.expired", session)

    def _create_session(self, params: Json) -> Json:
        reject_unknown(params, SESSION_CREATE)
        if params.get("mode") != "payment":
            raise missing("mode") if "mode" not in params else FakeError(400, "The fake models mode=payment")
        if not isinstance(params.get("line_items"), list) or not params["line_items"]:
            raise missing("line_items")
        items = [self._line_item(item, f"line_items[{i}]") for i, item in enumerate(params["line_items"])]
        if len({item["currency"] for item in items}) > 1:
            raise FakeError(400, "All line items must have the same currency.", param="line_items")
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise no_such("customer", customer, "customer", status=400)
        if not params.get("success_url"):
            raise missing("success_url")
        now = self.timestamp()
        expires_at = (
            integer(params["expires_at"], "expires_at") if "expires_at" in params else now + MAX_LIFETIME
        )
        if expires_at - now > MAX_LIFETIME:
            message = "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation."
            raise FakeError(400, message, param="expires_at")
        if expires_at - now < MIN_LIFETIME:
            message = "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation."
            raise FakeError(400, message, param="expires_at")
        locale = params.get("locale", "auto")
        if locale not in LOCALES:
            raise FakeError(400, f"Invalid locale: {locale}", param="locale")
        intent_data = params.get("payment_intent_data") or {}
        if intent_data.get("capture_method", "automatic") not in ("automatic", "automatic_async", "manual"):
            raise FakeError(400, "Invalid capture_method", param="payment_intent_data[capture_method]")
        metadata_param(intent_data.get("metadata"), "payment_intent_data[metadata]")
        saving = (params.get("saved_payment_method_options") or {}).get("payment_method_save")
        if saving not in (None, "enabled", "disabled"):
            raise FakeError(400, "Invalid payment_method_save", param="saved_payment_method_options")
        if saving == "enabled" and customer is None:
            # The fake's rule (the bot never asks it): with no Customer there is nobody to keep the card for.
            raise FakeError(
                400, "payment_method_save needs a customer.", param="saved_payment_method_options"
            )
        invoice = params.get("invoice_creation") or {}
        invoicing = boolean(invoice["enabled"], "invoice_creation[enabled]") if invoice else False
        if invoicing:
            metadata_param(
                (invoice.get("invoice_data") or {}).get("metadata"),
                "invoice_creation[invoice_data][metadata]",
            )
        amount = sum(item["amount_total"] for item in items)
        session_id = new_id("cs_test_", 58)
        self.sessions[session_id] = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": items[0]["currency"],
            "customer": customer,
            "customer_details": None,
            "expires_at": expires_at,
            "invoice": None,
            "invoice_creation": {"enabled": invoicing} if invoice else None,
            "livemode": False,
            "locale": locale,
            "metadata": metadata_param(params.get("metadata"), "metadata"),
            "mode": "payment",
            # The PaymentIntent is made when the customer confirms on the page (API 2022-08-01 onwards).
            "payment_intent": None,
            "payment_link": None,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "saved_payment_method_options": (
                {
                    "allow_redisplay_filters": ["always"],
                    "payment_method_remove": None,
                    "payment_method_save": saving,
                }
                if saving is not None
                else None
            ),
            "status": "open",
            "success_url": params["success_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}#fake",
        }
        self.session_params[session_id] = params
        self.line_items[session_id] = items
        self.created["checkout_session"] += 1
        return copy.deepcopy(self.sessions[session_id])

    def _list_sessions(self, params: Json) -> Json:
        reject_unknown(
            params,
            dict.fromkeys(
                ["customer", "status", "created", "payment_intent", "payment_link", "limit", "starting_after"]
                + ["expand"]
            ),
        )
        when = created_filter(params)
        found = [
            copy.deepcopy(session)
            for session in self.sessions.values()
            if when(session["created"])
            and all(params.get(key) in (None, session.get(key)) for key in ("customer", "status"))
            and all(params.get(key) in (None, session.get(key)) for key in ("payment_intent", "payment_link"))
        ]
        return page(found, params, "/v1/checkout/sessions")

    def _expire_session(self, params: Json, session_id: str) -> Json:
        reject_unknown(params, dict.fromkeys(["expand"]))
        if session_id not in self.sessions:
            raise no_such("checkout.session", session_id, "session")
        session = self.sessions[session_id]
        if session["status"] != "open":
            message = 'Only Checkout Sessions with a status in ["open"] can be expired.'
            raise FakeError(400, message, param="session")
        session["status"] = "expired"
        self.emit("checkout.session.expired", session)
        return copy.deepcopy(session)

    # What a customer does on the page

    def complete_session(
        self, session_id: str, card: str = "pm_card_visa", *, save_card: bool = False
    ) -> list[Json]:
        """The customer pays (or authorises the hold) on the session's page with one of Stripe's test cards,
        ticking "save my card" or not; the events Stripe sends about it, in order (also kept in ``events``).

        A card saved this way is attached to the session's customer with ``allow_redisplay=always``; one
        not saved is used once, for this payment only."""
        self.tick()
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise SessionNotOpen(f"{session_id} is {session['status']}")
        if TEST_CARDS[card].behaviour == "declined":
            raise ValueError("a decline on the page is not modelled (the customer would try another card)")
        offered = (session["saved_payment_method_options"] or {}).get("payment_method_save") == "enabled"
        if save_card and not offered:
            raise ValueError("the page shows no 'save my card' box for this session")
        first = len(self.events)
        params = self.session_params[session_id]
        intent_data: dict[str, Any] = params.get("payment_intent_data") or {}
        method = self._new_card(card)
        if save_card:
            method.update(customer=session["customer"], allow_redisplay="always")
            self.emit("payment_method.attached", method)
        intent = self._new_intent(
            session["amount_total"],
            session["currency"],
            customer=session["customer"],
            metadata=metadata_param(intent_data.get("metadata"), "payment_intent_data[metadata]"),
            description=intent_data.get("description"),
            capture_method=intent_data.get("capture_method", "automatic"),
        )
        self.emit("payment_intent.created", intent)
        if not save_card:
            self._spent_methods.add(method["id"])
        # On the page the customer passes their bank's challenge, if any: the card is authorised.
        self._authorise(intent, method["id"])
        paid = intent["status"] == "succeeded"
        session.update(
            status="complete",
            payment_status="paid" if paid else "unpaid",
            payment_intent=intent["id"],
            customer_details={"email": "jenny.rosen@example.com", "name": "Jenny Rosen", "phone": None},
        )
        invoicing = (session.get("invoice_creation") or {}).get("enabled")
        if paid and invoicing:
            session["invoice"] = new_id("in_")
            self._issue_invoice(session, intent)
        self.emit("checkout.session.completed", session)
        if paid and invoicing:
            self.emit("invoice.paid", self.invoices[session["invoice"]])
        return copy.deepcopy(self.events[first:])
