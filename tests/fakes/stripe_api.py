"""An in-process fake of the Stripe HTTP API, at the wire level, for stripe-python's ``StripeClient``.

It speaks Stripe's form encoding, answers with Stripe's JSON shapes and error envelopes, honours
``Idempotency-Key`` like Stripe, and can inject failures and delays. Only what the bot uses is modelled:
products, payment links, refunds, checkout sessions (made by :meth:`FakeStripe.pay`), and a read-only
view of payment intents and charges. Parameters it does not model are refused as unknown, like Stripe
refuses a typo, so a test never passes because the fake ignored something.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self
from urllib.parse import parse_qsl

import stripe
from aiohttp import web

from tests.conftest import NOW

Json = dict[str, Any]
Handler = Callable[..., Json]  # (decoded params, *ids from the path) -> the response body
# A parameter schema: the keys a hash accepts, each with the schema of its value (None: anything).
Schema = dict[str, "Schema | None"]
API_VERSION: str = stripe.api_version  # "2026-10-28.endive" in stripe-python 16.1.0


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload`` at ``timestamp`` (the test's
    clock, never the wall clock): ``t=<ts>,v1=<hmac>``."""
    return str(stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp))


def decode_form(pairs: Iterable[tuple[str, str]]) -> Json:
    """Stripe's bracket encoding back into nested values: ``a[b][0][c]=v`` -> ``{"a": {"b": [{"c": "v"}]}}``.

    Values stay strings, as on the wire; endpoints convert what they expect to be integers or booleans.
    """
    root: Json = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head, *re.findall(r"\[([^\]]*)\]", "[" + rest)] if rest else [head]
        node: Any = root
        for depth, segment in enumerate(path):
            last = depth == len(path) - 1
            # A numeric (or empty: "a[]") next segment means a list, except that metadata keys are free-form.
            child: Any = None if last else ([] if path[depth + 1].isdigit() or path[depth + 1] == "" else {})
            if isinstance(child, list) and segment == "metadata":
                child = {}
            if isinstance(node, list):
                index = len(node) if segment == "" else int(segment)
                node.extend([None] * (index + 1 - len(node)))
                if last:
                    node[index] = value
                elif node[index] is None:
                    node[index] = child
                node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[segment] = value
                else:
                    node = node.setdefault(segment, child)
            else:
                raise ValueError(f"{key} mixes a value and a hash")
    return root


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


class RecordedRequest(NamedTuple):
    method: str
    path: str
    params: Json
    idempotency_key: str | None


class PaymentLinkInactive(Exception):
    """``pay()`` on a link Stripe would not let a customer pay: deactivated, or its session limit reached."""


@dataclass
class _Fault:
    path_prefix: str
    times: int
    status: int = 500
    seconds: float = 0.0


class _StripeError(Exception):
    """An error response in Stripe's envelope; the HTTP status picks stripe-python's exception class."""

    def __init__(
        self, status: int, message: str, *, error_type: str = "invalid_request_error", **extra: str | None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: Json = {"error": {"type": error_type, "message": message, **extra}}


def _missing(name: str) -> _StripeError:
    return _StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)


def _no_such(kind: str, object_id: str, param: str, status: int = 404) -> _StripeError:
    message = f"No such {kind}: '{object_id}'"
    return _StripeError(status, message, code="resource_missing", param=param)


def _integer(value: Any, name: str, minimum: int = 0) -> int:
    if value is None:
        raise _missing(name)
    if not isinstance(value, str) or not value.isdigit() or int(value) < minimum:
        raise _StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name)
    return int(value)


def _boolean(value: Any, name: str) -> bool:
    if value not in ("true", "false"):
        raise _StripeError(400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=name)
    return bool(value == "true")


def _metadata(value: Any, name: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Stripe's metadata rules: merged into ``base``, "" unsets a key (or all), at most 50 keys of 40/500."""
    if value is None or value == "":
        return dict(base or {}) if value is None else {}
    if not isinstance(value, dict):
        raise _StripeError(400, "Invalid hash", code="parameter_invalid_hash", param=name)
    merged = dict(base or {})
    for key, item in value.items():
        param = f"{name}[{key}]"
        if not isinstance(item, str):
            raise _StripeError(400, "Metadata values must be strings", param=param)
        if len(key) > 40 or len(item) > 500:
            raise _StripeError(400, "Metadata keys have at most 40 characters, values 500", param=param)
        if item:
            merged[key] = item
        else:
            merged.pop(key, None)
    if len(merged) > 50:
        raise _StripeError(400, "Metadata can have at most 50 keys", param=name)
    return merged


def _reject_unknown(value: Any, schema: Schema | None, name: str = "") -> None:
    if schema is None or not isinstance(value, dict | list):
        return
    items = enumerate(value) if isinstance(value, list) else value.items()
    for key, item in items:
        full = f"{name}[{key}]" if name else str(key)
        if isinstance(value, list):
            _reject_unknown(item, schema, full)
        elif key not in schema:
            message = f"Received unknown parameter: {full}"
            raise _StripeError(400, message, code="parameter_unknown", param=full)
        else:
            _reject_unknown(item, schema[key], full)


PRODUCT_CREATE: Schema = dict.fromkeys(["id", "name", "active", "description", "metadata", "expand"])
_PAYMENT_LINK_SHARED: Schema = {
    "metadata": None,
    "inactive_message": None,
    "restrictions": {"completed_sessions": {"limit": None}},
    "after_completion": {
        "type": None,
        "redirect": {"url": None},
        "hosted_confirmation": {"custom_message": None},
    },
    "expand": None,
}
PAYMENT_LINK_UPDATE: Schema = {**_PAYMENT_LINK_SHARED, "active": None}
PAYMENT_LINK_CREATE: Schema = {
    **_PAYMENT_LINK_SHARED,
    "line_items": {"price_data": dict.fromkeys(["currency", "unit_amount", "product"]), "quantity": None},
    "payment_intent_data": dict.fromkeys(["metadata", "description", "statement_descriptor_suffix"]),
    "invoice_creation": {
        "enabled": None,
        "invoice_data": dict.fromkeys(["metadata", "description", "footer"]),
    },
}
REFUND_CREATE: Schema = dict.fromkeys(["payment_intent", "amount", "reason", "metadata", "expand"])


class FakeStripe:
    """``async with FakeStripe() as fake:`` serves the fake Stripe API at ``fake.base_url``.

    State is plain dicts of Stripe-shaped objects, by id, for tests to read: ``products``,
    ``payment_links`` (with ``line_items`` and ``params``, the decoded create parameters, by link id),
    ``sessions``, ``payment_intents``, ``charges``, ``refunds``. ``requests`` lists every request received
    and ``created`` counts the objects created through the API, by object type ("payment_link", ...).
    """

    def __init__(
        self,
        api_key: str = "sk_test_fake",
        webhook_secret: str = "whsec_fake",
        clock: Callable[[], datetime] = lambda: NOW,
    ) -> None:
        # Objects, events and signatures are dated by the test's clock, never by today's date.
        self.clock = clock
        self.api_key = api_key  # any sk_test_ key is accepted; this one is for the client under test
        self.webhook_secret = webhook_secret
        self.products: dict[str, Json] = {}
        self.payment_links: dict[str, Json] = {}
        self.line_items: dict[str, list[Json]] = {}
        self.params: dict[str, Json] = {}
        self.sessions: dict[str, Json] = {}
        self.payment_intents: dict[str, Json] = {}
        self.charges: dict[str, Json] = {}
        self.refunds: dict[str, Json] = {}
        self.invoices: dict[str, Json] = {}
        self.requests: list[RecordedRequest] = []
        self.created: Counter[str] = Counter()
        # (api key, idempotency key) -> (method, path, params), status, body: the first answer, replayed.
        self._idempotent: dict[tuple[str, str], tuple[tuple[str, str, Json], int, Json]] = {}
        self._failures: list[_Fault] = []
        self._delays: list[_Fault] = []
        self._lost: list[_Fault] = []
        self._stores = {
            "products": self.products,
            "payment_links": self.payment_links,
            "checkout/sessions": self.sessions,
            "payment_intents": self.payment_intents,
            "charges": self.charges,
            "refunds": self.refunds,
            "invoices": self.invoices,
        }
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/v1/products"), self._create_product),
            ("POST", re.compile(r"/v1/payment_links"), self._create_payment_link),
            ("POST", re.compile(r"/v1/payment_links/([^/]+)"), self._update_payment_link),
            ("GET", re.compile(r"/v1/payment_links/([^/]+)/line_items"), self._list_line_items),
            ("POST", re.compile(r"/v1/refunds"), self._create_refund),
            ("GET", re.compile(r"/v1/refunds"), self._list_refunds),
            ("GET", re.compile(rf"/v1/({'|'.join(self._stores)})/([^/]+)"), self._retrieve),
        ]

    def timestamp(self) -> int:
        """Now by the test's clock, as the Unix seconds Stripe writes in `created` and signatures."""
        return int(self.clock().timestamp())

    # Lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown: a delayed answer whose client gave up must not hold the test's teardown.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # Fault injection

    def fail_next(self, path_prefix: str, status: int = 500, times: int = 1) -> None:
        """The next ``times`` requests under ``path_prefix`` fail before doing anything (nothing is saved)."""
        self._failures.append(_Fault(path_prefix, times, status=status))

    def delay_next(self, path_prefix: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests under ``path_prefix`` do their work, then wait ``seconds``."""
        self._delays.append(_Fault(path_prefix, times, seconds=seconds))

    def lose_answer_next(self, path_prefix: str, status: int = 500, times: int = 1) -> None:
        """The next ``times`` POSTs under ``path_prefix`` do their work (and keep it for their idempotency
        key), then answer ``status``: the client cannot know the outcome."""
        self._lost.append(_Fault(path_prefix, times, status=status))

    @staticmethod
    def _take(faults: list[_Fault], path: str) -> _Fault | None:
        for fault in faults:
            if path.startswith(fault.path_prefix) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    # The wire

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        key = request.headers.get("Idempotency-Key") if method == "POST" else None
        raw = await request.text() if method == "POST" else request.query_string
        try:
            params: Json | None = decode_form(parse_qsl(raw, keep_blank_values=True))
        except ValueError:
            params = None  # answered with a 400 below
        self.requests.append(RecordedRequest(method, path, params or {}, key))
        delay = self._take(self._delays, path)
        headers = {"Request-Id": _new_id("req_", 14), "Stripe-Version": API_VERSION}
        try:
            status, body = self._answer(request, params, key, headers)
        except _StripeError as error:
            status, body = error.status, error.body
        if delay is not None:
            await asyncio.sleep(delay.seconds)  # after the work: a client that gave up can replay it
        if method == "POST" and (lost := self._take(self._lost, path)) is not None:
            status, body = lost.status, self._injected(lost.status).body
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, request: web.Request, params: Json | None, key: str | None, headers: dict[str, str]
    ) -> tuple[int, Json]:
        method, path = request.method, request.path
        api_key = self._authenticate(request.headers.get("Authorization", ""))
        if params is None:
            raise _StripeError(400, "Invalid request: malformed form parameters.")
        if (fault := self._take(self._failures, path)) is not None:
            raise self._injected(fault.status)
        handler, ids = self._route(method, path)
        if key is None:
            return 200, handler(params, *ids)
        headers["Idempotency-Key"] = key
        saved = self._idempotent.get((api_key, key))
        if saved is None:
            body = handler(params, *ids)
            # Only results are saved: Stripe keeps nothing for a request that failed validation.
            self._idempotent[(api_key, key)] = ((method, path, params), 200, body)
            return 200, body
        first_request, status, body = saved
        if first_request != (method, path, params):
            raise _StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                error_type="idempotency_error",
            )
        headers["Idempotent-Replayed"] = "true"
        return status, copy.deepcopy(body)

    def _authenticate(self, authorization: str) -> str:
        scheme, _, api_key = authorization.partition(" ")
        if scheme != "Bearer" or not api_key:
            raise _StripeError(401, "You did not provide an API key.")
        if not api_key.startswith("sk_test_"):
            raise _StripeError(401, f"Invalid API Key provided: {api_key[:8]}****{api_key[-4:]}")
        return api_key

    @staticmethod
    def _injected(status: int) -> _StripeError:
        if status == 429:
            return _StripeError(429, "Request rate limit exceeded.", code="rate_limit")
        return _StripeError(status, "An unknown error occurred (injected).", error_type="api_error")

    def _route(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
        for route_method, pattern, handler in self._routes:
            if route_method == method and (match := pattern.fullmatch(path)):
                return handler, match.groups()
        raise _StripeError(404, f"Unrecognized request URL ({method}: {path}).")

    # Endpoints

    def _retrieve(self, params: Json, collection: str, object_id: str) -> Json:
        store = self._stores[collection]
        if object_id not in store:
            kind = "checkout.session" if collection == "checkout/sessions" else collection.removesuffix("s")
            raise _no_such(kind, object_id, "id")
        return copy.deepcopy(store[object_id])

    def _create_product(self, params: Json) -> Json:
        _reject_unknown(params, PRODUCT_CREATE)
        product_id = params.get("id") or _new_id("prod_", 14)
        if product_id in self.products:
            raise _StripeError(400, "Product already exists.", code="resource_already_exists", param="id")
        if not params.get("name"):
            raise _missing("name")
        now = self.timestamp()
        self.products[product_id] = {
            "id": product_id,
            "object": "product",
            "active": _boolean(params.get("active", "true"), "active"),
            "created": now,
            "updated": now,
            "default_price": None,
            "description": params.get("description"),
            "images": [],
            "livemode": False,
            "marketing_features": [],
            "metadata": _metadata(params.get("metadata"), "metadata"),
            "name": params["name"],
            **dict.fromkeys(["package_dimensions", "shippable", "statement_descriptor", "tax_code", "url"]),
        }
        self.created["product"] += 1
        return copy.deepcopy(self.products[product_id])

    def _create_payment_link(self, params: Json) -> Json:
        _reject_unknown(params, PAYMENT_LINK_CREATE)
        if not isinstance(params.get("line_items"), list) or not params["line_items"]:
            raise _missing("line_items")
        link_id = _new_id("plink_")
        items = [self._line_item(item, f"line_items[{i}]") for i, item in enumerate(params["line_items"])]
        if len({item["currency"] for item in items}) > 1:
            raise _StripeError(400, "All line items must have the same currency.", param="line_items")
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
            "url": "https://buy.stripe.com/" + _new_id("test_", 22),
            **dict.fromkeys(["application", "application_fee_amount", "on_behalf_of", "subscription_data"]),
        }
        if isinstance(intent, dict):
            link["payment_intent_data"] = {
                "capture_method": "automatic",
                "description": intent.get("description"),
                "metadata": _metadata(intent.get("metadata"), "payment_intent_data[metadata]"),
                "statement_descriptor_suffix": intent.get("statement_descriptor_suffix"),
            }
        if isinstance(invoice, dict):
            data = invoice.get("invoice_data") or {}
            link["invoice_creation"] = {
                "enabled": _boolean(invoice.get("enabled"), "invoice_creation[enabled]"),
                "invoice_data": {
                    "description": data.get("description"),
                    "footer": data.get("footer"),
                    "metadata": _metadata(data.get("metadata"), "invoice_creation[invoice_data][metadata]"),
                },
            }
        self._apply_link_update(link, params)
        self.payment_links[link_id], self.line_items[link_id], self.params[link_id] = link, items, params
        self.created["payment_link"] += 1
        return copy.deepcopy(link)

    def _line_item(self, item: Any, name: str) -> Json:
        price = item.get("price_data") if isinstance(item, dict) else None
        if not isinstance(price, dict):
            raise _missing(f"{name}[price_data]")  # the fake models inline prices only
        currency = str(price.get("currency") or "").lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise _StripeError(400, f"Invalid currency: {currency}", param=f"{name}[price_data][currency]")
        product = price.get("product")
        if product not in self.products:
            raise _no_such("product", str(product), f"{name}[price_data][product]", status=400)
        unit_amount = _integer(price.get("unit_amount"), f"{name}[price_data][unit_amount]")
        quantity = _integer(item.get("quantity"), f"{name}[quantity]", minimum=1)
        return {
            "id": _new_id("li_"),
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

    def _update_payment_link(self, params: Json, link_id: str) -> Json:
        if link_id not in self.payment_links:
            raise _no_such("payment_link", link_id, "id")
        _reject_unknown(params, PAYMENT_LINK_UPDATE)
        link = copy.deepcopy(self.payment_links[link_id])  # validate everything before changing anything
        self._apply_link_update(link, params)
        self.payment_links[link_id] = link
        return copy.deepcopy(link)

    @staticmethod
    def _apply_link_update(link: Json, params: Json) -> None:
        """The parameters creation and update share."""
        if "active" in params:
            link["active"] = _boolean(params["active"], "active")
        if "metadata" in params:
            link["metadata"] = _metadata(params["metadata"], "metadata", link["metadata"])
        if "inactive_message" in params:
            link["inactive_message"] = params["inactive_message"] or None
        restrictions = params.get("restrictions")
        if restrictions == "":
            link["restrictions"] = None
        elif isinstance(restrictions, dict):
            name = "restrictions[completed_sessions][limit]"
            limit = _integer((restrictions.get("completed_sessions") or {}).get("limit"), name, minimum=1)
            count = (link["restrictions"] or {}).get("completed_sessions", {}).get("count", 0)
            link["restrictions"] = {"completed_sessions": {"count": count, "limit": limit}}
        after = params.get("after_completion")
        if isinstance(after, dict) and after.get("type") == "redirect":
            url = (after.get("redirect") or {}).get("url")
            if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url):
                param = "after_completion[redirect][url]"
                raise _StripeError(400, "Not a valid URL", code="url_invalid", param=param)
            link["after_completion"] = {"type": "redirect", "redirect": {"url": url}}
        elif isinstance(after, dict) and after.get("type") == "hosted_confirmation":
            message = (after.get("hosted_confirmation") or {}).get("custom_message")
            confirmation = {"custom_message": message}
            link["after_completion"] = {"type": "hosted_confirmation", "hosted_confirmation": confirmation}
        elif after is not None:
            raise _StripeError(400, "Invalid after_completion[type]", param="after_completion[type]")

    def _list_line_items(self, params: Json, link_id: str) -> Json:
        if link_id not in self.payment_links:
            raise _no_such("payment_link", link_id, "id")
        items = copy.deepcopy(self.line_items[link_id])
        return {
            "object": "list",
            "data": items,
            "has_more": False,
            "url": f"/v1/payment_links/{link_id}/line_items",
        }

    def _create_refund(self, params: Json) -> Json:
        _reject_unknown(params, REFUND_CREATE)
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise _missing("payment_intent")
        if intent_id not in self.payment_intents:
            raise _no_such("payment_intent", intent_id, "payment_intent", status=400)
        charge_id = self.payment_intents[intent_id]["latest_charge"]
        if charge_id is None:
            message = f"This PaymentIntent ({intent_id}) does not have a successful charge to refund."
            raise _StripeError(400, message, param="payment_intent")
        charge = self.charges[charge_id]
        left = charge["amount"] - charge["amount_refunded"]
        if left == 0:
            message = f"Charge {charge_id} has already been refunded."
            raise _StripeError(400, message, code="charge_already_refunded")
        amount = _integer(params["amount"], "amount", minimum=1) if "amount" in params else left
        if amount > left:
            message = f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
            raise _StripeError(400, message, code="amount_too_large", param="amount")
        metadata = _metadata(params.get("metadata"), "metadata")
        self.created["refund"] += 1
        return self._refund(charge, amount, params.get("reason"), metadata)

    def _list_refunds(self, params: Json) -> Json:
        _reject_unknown(params, dict.fromkeys(["payment_intent", "charge", "limit", "expand"]))
        found = [
            copy.deepcopy(refund)
            for refund in self.refunds.values()
            if params.get("payment_intent") in (None, refund["payment_intent"])
            and params.get("charge") in (None, refund["charge"])
        ]
        found.sort(key=lambda refund: refund["created"], reverse=True)
        limit = _integer(params.get("limit", "10"), "limit", minimum=1)
        return {"object": "list", "data": found[:limit], "has_more": len(found) > limit, "url": "/v1/refunds"}

    def _refund(self, charge: Json, amount: int, reason: str | None, metadata: dict[str, str]) -> Json:
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund_id = _new_id("re_")
        self.refunds[refund_id] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": _new_id("txn_"),
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
        intent_id = _new_id("pi_")
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "created": self.timestamp(),
            "currency": link["currency"],
            "description": intent_data.get("description"),
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(intent_data.get("metadata") or {}),
            "payment_link": link_id,
            "status": "processing",
        }
        session_id = _new_id("cs_test_", 58)
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
            "invoice": _new_id("in_") if link["invoice_creation"]["enabled"] else None,
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
            charge_id = _new_id("ch_")
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
        and a hosted page, carrying the link's invoice_data."""
        link = self.payment_links[session["payment_link"]]
        data = link["invoice_creation"]["invoice_data"]
        invoice_id = session["invoice"]
        number = f"FAKE{len(self.invoices) + 1:04d}-0001"
        self.invoices[invoice_id] = {
            "id": invoice_id,
            "object": "invoice",
            "amount_due": intent["amount"],
            "amount_paid": intent["amount"],
            "created": self.timestamp(),
            "currency": intent["currency"],
            "customer": None,
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

    def event(self, event_type: str, data_object: Mapping[str, Any] | stripe.StripeObject) -> Json:
        """The envelope Stripe posts to a webhook endpoint, around a snapshot of ``data_object``."""
        data = data_object.to_dict() if isinstance(data_object, stripe.StripeObject) else dict(data_object)
        return {
            "id": _new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.timestamp(),
            "data": {"object": copy.deepcopy(data)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }

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
            amount = charge["amount"]
        if amount is not None:
            if amount > charge["amount"] - charge["amount_refunded"]:
                raise ValueError(f"cannot refund {amount} of {payment_intent_id}: too much")
            self._refund(charge, amount, None, {})
        return self.event("charge.refunded", charge)

    def signed(self, event: Mapping[str, Any], secret: str | None = None) -> tuple[str, str]:
        """The body and ``Stripe-Signature`` header of a webhook delivery of ``event``."""
        payload = json.dumps(event)
        return payload, sign(payload, secret or self.webhook_secret, self.timestamp())
