"""The fake Stripe's HTTP server: routes, authentication, idempotency keys and injected faults."""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl

from aiohttp import web

from tests.conftest import NOW
from tests.fakes.stripe.account import ACCOUNT_RETRIEVE
from tests.fakes.stripe.catalogue import CatalogueApi
from tests.fakes.stripe.checkout import CheckoutApi
from tests.fakes.stripe.wire import (
    API_VERSION,
    FakeError,
    Fault,
    Handler,
    Json,
    RecordedRequest,
    decode_form,
    new_id,
    no_such,
    reject_unknown,
)


class FakeStripe(CatalogueApi, CheckoutApi):
    """``async with FakeStripe() as fake:`` serves the fake Stripe API at ``fake.base_url``.

    State is plain dicts of Stripe-shaped objects, by id, for tests to read: ``products`` (with their
    ``prices``),
    ``payment_links`` (with ``line_items`` and ``params``, the decoded create parameters, by link id),
    ``sessions`` (with ``session_params`` for those made through the API), ``payment_intents``,
    ``charges``, ``refunds``, ``invoices``, ``customers``, ``payment_methods``; ``account`` is the account
    every accepted key opens (``GET /v1/account``), and keys in ``refused_keys`` get Stripe's 401, as any
    key that is not ``sk_test_...`` does. ``requests`` lists every
    request received, ``created`` counts the objects created through the API, by object type
    ("payment_link", "payment_intent", ...), and ``events`` lists the events Stripe would have sent.
    """

    def __init__(
        self,
        api_key: str = "sk_test_fake",
        webhook_secret: str = "whsec_fake",
        clock: Callable[[], datetime] = lambda: NOW,
    ) -> None:
        super().__init__(api_key, webhook_secret, clock)
        self._stores = {
            "products": self.products,
            "prices": self.prices,
            "payment_links": self.payment_links,
            "checkout/sessions": self.sessions,
            "payment_intents": self.payment_intents,
            "charges": self.charges,
            "refunds": self.refunds,
            "invoices": self.invoices,
            "customers": self.customers,
            "payment_methods": self.payment_methods,
        }
        self._runner: web.AppRunner | None = None
        self._port = 0
        # In order: the first full match wins (searches before the retrieval of an object by id).
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/v1/account"), self._retrieve_account),
            ("POST", re.compile(r"/v1/products"), self._create_product),
            ("POST", re.compile(r"/v1/products/([^/]+)"), self._update_product),
            ("POST", re.compile(r"/v1/prices"), self._create_price),
            ("POST", re.compile(r"/v1/prices/([^/]+)"), self._update_price),
            ("POST", re.compile(r"/v1/payment_links"), self._create_payment_link),
            ("POST", re.compile(r"/v1/payment_links/([^/]+)"), self._update_payment_link),
            ("GET", re.compile(r"/v1/payment_links/([^/]+)/line_items"), self._list_line_items),
            ("POST", re.compile(r"/v1/refunds"), self._create_refund),
            ("GET", re.compile(r"/v1/refunds"), self._list_refunds),
            ("POST", re.compile(r"/v1/customers"), self._create_customer),
            ("GET", re.compile(r"/v1/customers/search"), self._search_customers),
            ("POST", re.compile(r"/v1/payment_methods/([^/]+)/attach"), self._attach_method),
            ("POST", re.compile(r"/v1/payment_methods/([^/]+)/detach"), self._detach_method),
            ("POST", re.compile(r"/v1/payment_intents"), self._create_payment_intent),
            ("GET", re.compile(r"/v1/payment_intents"), self._list_payment_intents),
            ("GET", re.compile(r"/v1/payment_intents/search"), self._search_payment_intents),
            ("GET", re.compile(r"/v1/payment_intents/([^/]+)"), self._retrieve_payment_intent),
            ("POST", re.compile(r"/v1/payment_intents/([^/]+)/capture"), self._capture),
            ("POST", re.compile(r"/v1/payment_intents/([^/]+)/cancel"), self._cancel),
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create_session),
            ("GET", re.compile(r"/v1/checkout/sessions"), self._list_sessions),
            ("POST", re.compile(r"/v1/checkout/sessions/([^/]+)/expire"), self._expire_session),
            ("GET", re.compile(rf"/v1/({'|'.join(self._stores)})/([^/]+)"), self._retrieve),
        ]

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
        self._failures.append(Fault(path_prefix, times, status=status))

    def delay_next(self, path_prefix: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests under ``path_prefix`` do their work, then wait ``seconds``."""
        self._delays.append(Fault(path_prefix, times, seconds=seconds))

    def lose_answer_next(self, path_prefix: str, status: int = 500, times: int = 1) -> None:
        """The next ``times`` POSTs under ``path_prefix`` do their work (and keep it for their idempotency
        key), then answer ``status``: the client cannot know the outcome."""
        self._lost.append(Fault(path_prefix, times, status=status))

    @staticmethod
    def _take(faults: list[Fault], path: str) -> Fault | None:
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
        headers = {"Request-Id": new_id("req_", 14), "Stripe-Version": API_VERSION}
        try:
            status, body = self._answer(request, params, key, headers)
        except FakeError as error:
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
            raise FakeError(400, "Invalid request: malformed form parameters.")
        if (fault := self._take(self._failures, path)) is not None:
            raise self._injected(fault.status)
        handler, ids = self._route(method, path)
        self.tick()  # holds and sessions past their time lapse before anything reads them
        if key is None:
            return 200, handler(params, *ids)
        headers["Idempotency-Key"] = key
        saved = self._idempotent.get((api_key, key))
        if saved is None:
            try:
                body = handler(params, *ids)
            except FakeError as error:
                # A decline after the work was done is kept for the key; a validation failure is not.
                if error.saved:
                    self._idempotent[(api_key, key)] = ((method, path, params), error.status, error.body)
                raise
            self._idempotent[(api_key, key)] = ((method, path, params), 200, body)
            return 200, body
        first_request, status, body = saved
        if first_request != (method, path, params):
            raise FakeError(
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
            raise FakeError(401, "You did not provide an API key.")
        if not api_key.startswith("sk_test_") or api_key in self.refused_keys:
            raise FakeError(401, f"Invalid API Key provided: {api_key[:8]}****{api_key[-4:]}")
        return api_key

    @staticmethod
    def _injected(status: int) -> FakeError:
        if status == 429:
            return FakeError(429, "Request rate limit exceeded.", code="rate_limit")
        return FakeError(status, "An unknown error occurred (injected).", error_type="api_error")

    def _route(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
        for route_method, pattern, handler in self._routes:
            if route_method == method and (match := pattern.fullmatch(path)):
                return handler, match.groups()
        raise FakeError(404, f"Unrecognized request URL ({method}: {path}).")

    # Endpoints

    def _retrieve_account(self, params: Json) -> Json:
        reject_unknown(params, ACCOUNT_RETRIEVE)
        return copy.deepcopy(self.account)

    def _retrieve(self, params: Json, collection: str, object_id: str) -> Json:
        store = self._stores[collection]
        if object_id not in store:
            names = {"checkout/sessions": "checkout.session", "payment_methods": "PaymentMethod"}
            kind = names.get(collection, collection.removesuffix("s"))
            raise no_such(kind, object_id, "id")
        return copy.deepcopy(store[object_id])
