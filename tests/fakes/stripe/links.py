"""Products, payment links, refunds and invoices of the fake Stripe, and customers paying a link."""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from tests.fakes.stripe.state import FakeStripeState
from tests.fakes.stripe.wire import (
    PAYMENT_LINK_CREATE,
    PAYMENT_LINK_UPDATE,
    PRODUCT_CREATE,
    REFUND_CREATE,
    FakeError,
    Json,
    PaymentLinkInactive,
    boolean,
    integer,
    metadata_param,
    missing,
    new_id,
    no_such,
    page,
    reject_unknown,
)


class PaymentLinksApi(FakeStripeState):
    # Endpoints

    def _create_product(self, params: Json) -> Json:
        reject_unknown(params, PRODUCT_CREATE)
        product_id = params.get("id") or new_id("prod_", 14)
        if product_id in self.products:
            raise FakeError(400, "Product already exists.", code="resource_already_exists", param="id")
        if not params.get("name"):
            raise missing("name")
        now = self.timestamp()
        self.products[product_id] = {
            "id": product_id,
            "object": "product",
            "active": boolean(params.get("active", "true"), "active"),
            "created": now,
            "updated": now,
            "default_price": None,
            "description": params.get("description"),
            "images": [],
            "livemode": False,
            "marketing_features": [],
            "metadata": metadata_param(params.get("metadata"), "metadata"),
            "name": params["name"],
            **dict.fromkeys(["package_dimensions", "shippable", "statement_descriptor", "tax_code", "url"]),
        }
        self.created["product"] += 1
        return copy.deepcopy(self.products[product_id])

    def _create_payment_link(self, params: Json) -> Json:
        reject_unknown(params, PAYMENT_LINK_CREATE)
        if not isinstance(params.get("line_items"), list) or not params["line_items"]:
            raise missing("line_items")
        link_id = new_id("plink_")
        items = [self._line_item(item, f"line_items[{i}]") for i, item in enumerate(params["line_items"])]
        if len({item["currency"] for item in items}) > 1:
            raise FakeError(400, "All line items must have the same currency.", param="line_items")
        intent, invoice = params.get("payment_intent_data"), params.get("invoice_creation")
        link: Json = {
            "id": link_id,
            "object": "payment_link",
            "active": True,
            "after_completion": {
                "type": "hosted_confirmation",
                "hosted_confirmation": {"custom_message": None},
            },
            "allow_promotion_codes": False,
            "automatic_tax": {"enabled": False, "liability": None},
            "billing_address_collection": "auto",
            "currency": items[0]["currency"],
            "customer_creation": "if_required",
            "inactive_message": None,
            "invoice_creation": {"enabled": False, "invoice_data": {"metadata": {}, "description": None}},
            "livemode": False,
            "metadata": {},
            "payment_intent_data": None,
            "payment_method_collection": "always",
            "restrictions": None,
            "url": "https://buy.stripe.com/" + new_id("test_", 22),
            **dict.fromkeys(["application", "application_fee_amount", "on_behalf_of", "subscription_data"]),
        }
        if isinstance(intent, dict):
            link["payment_intent_data"] = {
                "capture_method": "automatic",
                "description": intent.get("description"),
                "metadata": metadata_param(intent.get("metadata"), "payment_intent_data[metadata]"),
                "statement_descriptor_suffix": intent.get("statement_descriptor_suffix"),
            }
        if isinstance(invoice, dict):
            data = invoice.get("invoice_data") or {}
            link["invoice_creation"] = {
                "enabled": boolean(invoice.get("enabled"), "invoice_creation[enabled]"),
                "invoice_data": {
                    "description": data.get("description"),
                    "footer": data.get("footer"),
                    "metadata": metadata_param(
                        data.get("metadata"), "invoice_creation[invoice_data][metadata]"
                    ),
                },
            }
        self._apply_link_update(link, params)
        self.payment_links[link_id], self.line_items[link_id], self.params[link_id] = link, items, params
        self.created["payment_link"] += 1
        return copy.deepcopy(link)

    def _line_item(self, item: Any, name: str) -> Json:
        if isinstance(item, dict) and "price" in item:
            return self._priced_line_item(item, name)
        price = item.get("price_data") if isinstance(item, dict) else None
        if not isinstance(price, dict):
            raise missing(f"{name}[price_data]")  # one of price or price_data
        currency = str(price.get("currency") or "").lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise FakeError(400, f"Invalid currency: {currency}", param=f"{name}[price_data][currency]")
        product = price.get("product")
        if product not in self.products:
            raise no_such("product", str(product), f"{name}[price_data][product]", status=400)
        unit_amount = integer(price.get("unit_amount"), f"{name}[price_data][unit_amount]")
        quantity = integer(item.get("quantity"), f"{name}[quantity]", minimum=1)
        return {
            "id": new_id("li_"),
            "object": "item",
            "amount_subtotal": unit_amount * quantity,
            "amount_total": unit_amount * quantity,
            "currency": currency,
            "description": self.products[product]["name"],
            "price": {
                "object": "price",
                "currency": currency,
                "product": product,
                "unit_amount": unit_amount,
            },
            "quantity": quantity,
        }

    def _priced_line_item(self, item: Json, name: str) -> Json:
        """A line of an existing Price (``line_items[0][price]=price_...``): active, one-time, its amount."""
        if "price_data" in item:
            raise FakeError(400, "You may only specify one of price or price_data.", param=name)
        prices: dict[str, Json] = getattr(self, "prices", {})
        price = prices.get(str(item["price"]))
        if price is None:
            raise no_such("price", str(item["price"]), f"{name}[price]", status=400)
        if not price["active"]:
            raise FakeError(400, f"The price {price['id']} is not active.", param=f"{name}[price]")
        quantity = integer(item.get("quantity"), f"{name}[quantity]", minimum=1)
        product = price["product"]
        return {
            "id": new_id("li_"),
            "object": "item",
            "amount_subtotal": price["unit_amount"] * quantity,
            "amount_total": price["unit_amount"] * quantity,
            "currency": price["currency"],
            "description": self.products[product]["name"] if product in self.products else None,
            "price": {
                "id": price["id"],
                "object": "price",
                "currency": price["currency"],
                "product": product,
                "unit_amount": price["unit_amount"],
            },
            "quantity": quantity,
        }

    def _update_payment_link(self, params: Json, link_id: str) -> Json:
        if link_id not in self.payment_links:
            raise no_such("payment_link", link_id, "id")
        reject_unknown(params, PAYMENT_LINK_UPDATE)
        link = copy.deepcopy(self.payment_links[link_id])  # validate everything before changing anything
        self._apply_link_update(link, params)
        self.payment_links[link_id] = link
        return copy.deepcopy(link)

    @staticmethod
    def _apply_link_update(link: Json, params: Json) -> None:
        """The parameters creation and update share."""
        if "active" in params:
            link["active"] = boolean(params["active"], "active")
        if "metadata" in params:
            link["metadata"] = metadata_param(params["metadata"], "metadata", link["metadata"])
        if "inactive_message" in params:
            link["inactive_message"] = params["inactive_message"] or None
        restrictions = params.get("restrictions")
        if restrictions == "":
            link["restrictions"] = None
        elif isinstance(restrictions, dict):
            name = "restrictions[completed_sessions][limit]"
            limit = integer((restrictions.get("completed_sessions") or {}).get("limit"), name, minimum=1)
            count = (link["restrictions"] or {}).get("completed_sessions", {}).get("count", 0)
            link["restrictions"] = {"completed_sessions": {"count": count, "limit": limit}}
        after = params.get("after_completion")
        if isinstance(after, dict) and after.get("type") == "redirect":
            url = (after.get("redirect") or {}).get("url")
            if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url):
                param = "after_completion[redirect][url]"
                raise FakeError(400, "Not a valid URL", code="url_invalid", param=param)
            link["after_completion"] = {"type": "redirect", "redirect": {"url": url}}
        elif isinstance(after, dict) and after.get("type") == "hosted_confirmation":
            message = (after.get("hosted_confirmation") or {}).get("custom_message")
            confirmation = {"custom_message": message}
            link["after_completion"] = {"type": "hosted_confirmation", "hosted_confirmation": confirmation}
        elif after is not None:
            raise FakeError(400, "Invalid after_completion[type]", param="after_completion[type]")

    def _list_line_items(self, params: Json, link_id: str) -> Json:
        if link_id not in self.payment_links:
            raise no_such("payment_link", link_id, "id")
        items = copy.deepcopy(self.line_items[link_id])
        return {
            "object": "list",
            "data": items,
            "has_more": False,
            "url": f"/v1/payment_links/{link_id}/line_items",
        }

    def _create_refund(self, params: Json) -> Json:
        reject_unknown(params, REFUND_CREATE)
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise missing("payment_intent")
        if intent_id not in self.payment_intents:
            raise no_such("payment_intent", intent_id, "payment_intent", status=400)
        charge_id = self.payment_intents[intent_id]["latest_charge"]
        if charge_id is None:
            message = f"This PaymentIntent ({intent_id}) does not have a successful charge to refund."
            raise FakeError(400, message, param="payment_intent")
        charge = self.charges[charge_id]
        if not charge["captured"]:
            # The fake's simplification: an authorisation is let go by cancelling its PaymentIntent.
            message = f"Charge {charge_id} has not been captured: cancel its PaymentIntent instead."
            raise FakeError(400, message, code="charge_not_captured", param="payment_intent")
        # What was captured: a partial capture released the rest (no refund for it since 2025-03-31.basil).
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left == 0:
            message = f"Charge {charge_id} has already been refunded."
            raise FakeError(400, message, code="charge_already_refunded")
        amount = integer(params["amount"], "amount", minimum=1) if "amount" in params else left
        if amount > left:
            message = f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
            raise FakeError(400, message, code="amount_too_large", param="amount")
        metadata = metadata_param(params.get("metadata"), "metadata")
        self.created["refund"] += 1
        return self._refund(charge, amount, params.get("reason"), metadata)

    def _list_refunds(self, params: Json) -> Json:
        reject_unknown(params, dict.fromkeys(["payment_intent", "charge", "limit", "expand"]))
        found = [
            copy.deepcopy(refund)
            for refund in self.refunds.values()
            if params.get("payment_intent") in (None, refund["payment_intent"])
            and params.get("charge") in (None, refund["charge"])
        ]
        return page(found, params, "/v1/refunds")

    def _refund(self, charge: Json, amount: int, reason: str | None, metadata: dict[str, str]) -> Json:
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        refund_id = new_id("re_")
        self.refunds[refund_id] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "charge": charge["id"],
            "created": self.timestamp(),
            "currency": charge["currency"],
            "metadata": metadata,
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "succeeded",
        }
        return copy.deepcopy(self.refunds[refund_id])

    # What happens outside the API: customers paying, and the events Stripe sends about it

    def pay(self, link_id: str, *, payment_status: Literal["paid", "unpaid"] = "paid") -> Json:
        """A customer completes checkout on the link; "unpaid" is a delayed method (SEPA debit, ...)."""
        link = self.payment_links[link_id]
        if not link["active"]:
            raise PaymentLinkInactive(link_id)
        amount = sum(item["amount_total"] for item in self.line_items[link_id])
        intent_data = link["payment_intent_data"] or {}
        intent_id = new_id("pi_")
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "capture_method": "automatic",
            "created": self.timestamp(),
            "currency": link["currency"],
            "customer": None,
            "description": intent_data.get("description"),
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(intent_data.get("metadata") or {}),
            "payment_link": link_id,
            "payment_method": None,
            "status": "processing",
        }
        session_id = new_id("cs_test_", 58)
        self.sessions[session_id] = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "client_reference_id": None,
            "created": self.timestamp(),
            "currency": link["currency"],
            "customer": None,
            "customer_details": {"email": "jenny.rosen@example.com", "name": "Jenny Rosen"},
            "invoice": new_id("in_") if link["invoice_creation"]["enabled"] else None,
            "livemode": False,
            "metadata": dict(link["metadata"]),
            "mode": "payment",
            "payment_intent": intent_id,
            "payment_link": link_id,
            "payment_status": "unpaid",
            "status": "complete",
            "url": None,
        }
        if payment_status == "paid":
            self.settle(session_id)
        # Stripe counts completed sessions and deactivates the link at its limit.
        if link["restrictions"] is not None:
            completed = link["restrictions"]["completed_sessions"]
            completed["count"] += 1
            link["active"] = link["active"] and completed["count"] < completed["limit"]
        return copy.deepcopy(self.sessions[session_id])

    def settle(self, session_id: str, *, succeeded: bool = True) -> Json:
        """A session's payment succeeds (a charge is made) or fails; for a delayed method after ``pay()``."""
        session = self.sessions[session_id]
        intent = self.payment_intents[session["payment_intent"]]
        if succeeded:
            charge_id = new_id("ch_")
            self.charges[charge_id] = {
                "id": charge_id,
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount"],
                "amount_refunded": 0,
                "captured": True,
                "created": self.timestamp(),
                "currency": intent["currency"],
                "livemode": False,
                "metadata": dict(intent["metadata"]),
                "paid": True,
                "payment_intent": intent["id"],
                "refunded": False,
                "status": "succeeded",
            }
            intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=charge_id)
            session["payment_status"] = "paid"
            if session["invoice"] is not None:
                self._issue_invoice(session, intent)
        else:
            intent["status"] = "requires_payment_method"
        return copy.deepcopy(session)

    def _issue_invoice(self, session: Json, intent: Json) -> None:
        """What invoice_creation makes once the session is paid: a paid, finalized invoice with a number
        and a hosted page, carrying the link's (or the session's) invoice_data."""
        if session["payment_link"] is not None:
            data = self.payment_links[session["payment_link"]]["invoice_creation"]["invoice_data"]
        else:
            data = self.session_params[session["id"]]["invoice_creation"].get("invoice_data") or {}
        invoice_id = session["invoice"]
        number = f"FAKE{len(self.invoices) + 1:04d}-0001"
        self.invoices[invoice_id] = {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": intent["amount"],
            "amount_paid": intent["amount"],
            "created": self.timestamp(),
            "currency": intent["currency"],
            "customer": session["customer"],
            "description": data.get("description"),
            "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_fake/test_{invoice_id}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/acct_fake/test_{invoice_id}/pdf",
            "livemode": False,
            "metadata": dict(data.get("metadata") or {}),
            "number": number,
            "status": "paid",
        }

    def invoice_paid_event(self, session_id: str) -> Json:
        """``invoice.paid`` for the invoice the session's payment made."""
        invoice_id = self.sessions[session_id]["invoice"]
        if invoice_id not in self.invoices:
            raise ValueError(f"session {session_id} made no invoice")
        return self.event("invoice.paid", self.invoices[invoice_id])

    def charge_refunded_event(self, payment_intent_id: str, amount: int | None = None) -> Json:
        """``charge.refunded`` for the payment intent's charge, with its cumulative ``amount_refunded``.

        With ``amount``, a refund of that much is first made outside the API (as from the Dashboard).
        Without it, the event reports the refunds made through ``POST /v1/refunds``, or if there were
        none, a full refund is made outside the API first.
        """
        charge_id = self.payment_intents[payment_intent_id]["latest_charge"]
        if charge_id is None:
            raise ValueError(f"{payment_intent_id} has no successful charge to refund")
        charge = self.charges[charge_id]
        if amount is None and charge["amount_refunded"] == 0:
            amount = charge["amount_captured"]
        if amount is not None:
            if amount > charge["amount_captured"] - charge["amount_refunded"]:
                raise ValueError(f"cannot refund {amount} of {payment_intent_id}: too much")
            self._refund(charge, amount, None, {})
        return self.event("charge.refunded", charge)
