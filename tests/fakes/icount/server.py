"""An in-process fake of iCount API v3, at the wire level, for the bot's ``IcountClient``.

``POST {base}/{module}/{method}`` with a JSON or a form-encoded body (PHP brackets), answered in iCount's
envelope: ``status`` true, or ``status: false`` with ``reason``, ``error_description`` and
``error_details``, with HTTP 200 as iCount does. Auth: ``Authorization: Bearer <token>``, a ``sid`` from
``auth/login``, or ``cid``/``user``/``pass`` in the body. Throttling answers the plain text "Too many
requests". Parameters outside the official method index are refused (``unknown_param``), so a test never
passes because the fake ignored a typo.

Where iCount's real answer is not documented (the reason of an expired session, the shape of
``doc/info``), the fake picks one and says so: ``invalid_sid``, ``{"doc_info": {...}}``.

A customer pays with :meth:`FakeIcount.pay`, which records a card transaction (``cc/transactions``) and
returns the IPN fields iCount would post to the sale's ``ipn_url``; on the save-card page, ticking its
box (``save_card=True``) keeps the card: the IPN then carries its ``cc_token_id``. A guarantee sale is
authorised with :meth:`FakeIcount.authorise` (``cards.py``). Time is the injected clock's, never today's.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web

from tests.conftest import NOW
from tests.fakes.icount.cards import FakeCards
from tests.fakes.icount.inventory import FakeInventory
from tests.fakes.icount.state import CardTransaction
from tests.fakes.icount.wire import (
    AUTH_PARAMS,
    CURRENCY_IDS,
    PARAMS,
    Fault,
    Json,
    RecordedCall,
    Refusal,
    decode_form,
)


def _items_total(items: Any) -> Decimal:
    """A sale's items (``iCountPayPageItem``: description, unitprice, quantity) added up; bad ones refused."""
    if not isinstance(items, list) or not items:
        raise Refusal("bad_items", "items must be a list of items")
    total = Decimal(0)
    for item in items:
        if not isinstance(item, dict) or not item.get("description"):
            raise Refusal("bad_items", "an item needs a description")
        try:
            quantity, price = int(str(item.get("quantity"))), Decimal(str(item.get("unitprice")))
        except (ValueError, ArithmeticError) as error:
            raise Refusal("bad_items", "an item needs a unitprice and a quantity") from error
        if quantity < 1:
            raise Refusal("bad_items", "an item's quantity is at least 1")
        total += price * quantity
    return total


class FakeIcount(FakeInventory, FakeCards):
    """``async with FakeIcount() as fake:`` serves the fake at ``fake.base_url``.

    State for tests to read: ``clients`` (by client id), ``sales`` (by sale_uniqid, with their params),
    ``transactions`` (card transactions, by confirmation code), ``documents`` (by (doctype, docnum)),
    ``refunds``, ``tokens`` (saved cards, by token id), ``items`` (inventory items, by id); ``calls``
    lists every call and ``created`` counts what was created, by kind.
    """

    def __init__(
        self,
        token: str | None = None,
        paypage_id: str = "77",
        cid: str = "fakeco",
        user: str = "api",
        password: str = "s3cret",
        clock: Callable[[], datetime] = lambda: NOW,
        guarantee_paypage_id: str = "78",
        save_card_paypage_id: str = "79",
    ) -> None:
        # Charges are dated by the test's clock, never by today's date: the bot looks them up around
        # the day its own (injected) clock says they were made.
        self.clock = clock
        # A fresh token per fake: the client's rate limit is per token, for the whole process.
        self.token = token or f"API3E8-{secrets.token_hex(4)}-{secrets.token_hex(8)}"
        self.paypage_id = paypage_id
        self.cid, self.user, self.password = cid, user, password
        self.clients: dict[str, Json] = {}
        self.sales: dict[str, Json] = {}
        self.transactions: dict[str, CardTransaction] = {}
        self.documents: dict[tuple[str, str], Json] = {}
        self.refunds: list[Json] = []
        self.calls: list[RecordedCall] = []
        self.created: Counter[str] = Counter()
        self.sessions: set[str] = set()
        # iCount does not document the reason it gives for an expired session: tests may pick another.
        self.expired_session_reason = "invalid_sid"
        # Whether a document we create naming a card payment's confirmation code is tied to that charge
        # (listed by cc/transactions, refunded by doc/cancel refund_cc). Undocumented: tests try both.
        self.ties_created_documents = True
        self._sanity: dict[str, tuple[str, str]] = {}
        self._next_docnum: Counter[str] = Counter()
        self._faults: list[Fault] = []
        # client/create_or_update: how many it accepted, and from which count on it refuses (and why).
        self.client_syncs = 0
        self._clients_refused_from: tuple[int, str] | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._init_cards(guarantee_paypage_id, save_card_paypage_id)
        self._init_inventory()

    # Lifecycle

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/v3.php"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/api/v3.php/{module}/{method}", self._handle)
        app.router.add_get("/m/sale/{uniqid}", self._sale_page)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # Test controls

    def throttle_next(self, times: int = 1, http_429: bool = False) -> None:
        """The next calls get iCount's plain-text throttling answer (HTTP 200, or 429)."""
        self._faults.append(Fault("", times, status=429 if http_429 else 200, text="Too many requests"))

    def fail_next(self, method: str, status: int = 500, times: int = 1) -> None:
        self._faults.append(Fault(method, times, status=status, text="Internal Server Error"))

    def lose_answer_next(self, method: str, status: int = 504, times: int = 1) -> None:
        """The next calls of ``method`` do their work (a refund is made), then answer ``status``."""
        self._faults.append(Fault(method, times, status=status, text="Gateway Time-out", after_work=True))

    def clear_faults(self) -> None:
        self._faults.clear()
        self._clients_refused_from = None

    def refuse_clients(self, reason: str = "client_refused", after: int = 0) -> None:
        """``client/create_or_update`` accepts ``after`` more calls, then refuses every one (status false,
        ``reason``) until :meth:`clear_faults`."""
        self._clients_refused_from = (self.client_syncs + after, reason)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next calls of ``method`` do their work, then answer after ``seconds``."""
        self._faults.append(Fault(method, times, seconds=seconds))

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

    def pay(
        self,
        sale_uniqid: str,
        amount: Decimal | None = None,
        document: str | None = None,
        save_card: bool = False,
    ) -> tuple[str, Json]:
        """The customer pays the sale: a card transaction is recorded; returns the sale's ``ipn_url`` and
        the IPN fields iCount posts there (form fields, as strings). With ``document`` (a doctype), the
        pay page issues its own document for the payment, as one set up with a doctype does. With
        ``save_card`` the customer ticks the save-card page's box: the card is kept, the IPN names it."""
        sale = self.sales[sale_uniqid]
        page = str(sale["paypage_id"])
        assert page != self.guarantee_paypage_id, "a guarantee sale is authorised, not paid"
        assert not save_card or page == self.save_card_paypage_id, "only the save-card page has the box"
        total = Decimal(str(sale["sum"])) if amount is None else amount
        currency = str(sale.get("currency_code") or CURRENCY_IDS.get(str(sale.get("currency_id")), "ILS"))
        code = str(secrets.randbelow(9_000_000) + 1_000_000)
        transaction = CardTransaction(
            confirmation_code=code,
            cc_bill_log_id=str(secrets.randbelow(900_000) + 100_000),
            total=total,
            currency=currency,
            client_name=str(sale.get("client_name", "")),
            charged_on=self.clock().date().isoformat(),
            sale_uniqid=sale_uniqid,
            client_id=self._client_of(sale),
        )
        self.transactions[code] = transaction
        fields = {
            "confirmation_code": code,
            "sum": f"{total:.2f}",
            "currency_code": currency,
            "num_of_payments": "1",
            "cc_type": "VISA",
            "cc_last4": "4580",
            "payment_date": transaction.charged_on,
            "customer_name": transaction.client_name,
            "customer_phone": str(sale.get("phone", "")),
            "utm_content": str(sale.get("utm_content", "")),
        }
        if transaction.client_id:
            fields["customer_id"] = transaction.client_id
        if save_card:
            fields["cc_token_id"] = self._new_token(transaction.client_id).token_id
        if document is not None:
            payment = {"sum": f"{total:.2f}", "confirmation_code": code}
            params = {"doctype": document, "currency_code": currency, "cc": [payment]}
            key = self._store_document(document, params, [payment])
            fields.update(doctype=key[0], docnum=key[1])
            self.created["paypage_document"] += 1
        return str(sale["ipn_url"]), fields

    # The wire

    async def _sale_page(self, request: web.Request) -> web.Response:
        sale = self.sales.get(request.match_info["uniqid"])
        if sale is None:
            return web.Response(status=404, text="sale not found")
        return web.Response(
            text=f"<html><body>iCount pay page: {sale['sum']}</body></html>", content_type="text/html"
        )

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method in ("", method):
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        method = f"{request.match_info['module']}/{request.match_info['method']}"
        raw = await request.text()
        content_type = request.content_type
        try:
            if content_type == "application/json":
                params = json.loads(raw or "{}")
            else:
                params = decode_form(parse_qsl(raw, keep_blank_values=True))
        except ValueError:
            return web.json_response({"status": False, "reason": "bad_request"})
        if not isinstance(params, dict):
            return web.json_response({"status": False, "reason": "bad_request"})
        fault = self._take_fault(method)
        if fault is not None and fault.text is not None and not fault.after_work:
            self.calls.append(RecordedCall(method, params, content_type, "throttled", self.clock()))
            return web.Response(status=fault.status, text=fault.text, content_type="text/plain")
        try:
            auth = self._authenticate(method, request, params)
            self.calls.append(RecordedCall(method, params, content_type, auth, self.clock()))
            unknown = set(params) - PARAMS.get(method, frozenset()) - AUTH_PARAMS
            if method not in PARAMS:
                raise Refusal("unknown_method", f"{method} is not modelled")
            if unknown:
                raise Refusal("unknown_param", "unknown parameters", *sorted(unknown))
            body = getattr(self, "_" + method.replace("/", "_"))(params)
            answer: Json = {"status": True, "reason": "", **body}
        except Refusal as refusal:
            answer = {
                **refusal.extra,
                "status": False,
                "reason": refusal.reason,
                "error_description": refusal.description,
                "error_details": refusal.details,
            }
        if fault is not None and fault.seconds:
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.after_work:
            return web.Response(status=fault.status, text=fault.text, content_type="text/plain")
        return web.json_response(answer)

    def _authenticate(self, method: str, request: web.Request, params: Json) -> str:
        header = request.headers.get("Authorization", "")
        if method == "auth/login":
            return "none"
        if header:
            if header != f"Bearer {self.token}":
                raise Refusal("bad_token", "invalid API token")
            return "token"
        if "sid" in params:
            if params["sid"] not in self.sessions:
                raise Refusal(self.expired_session_reason, "session expired or invalid")
            return "sid"
        if {"cid", "user", "pass"} <= set(params):
            if (params["cid"], params["user"], params["pass"]) != (self.cid, self.user, self.password):
                raise Refusal("bad_login", "wrong cid, user or pass")
            return "password"
        raise Refusal("auth_required", "Either sid OR cid+user+pass must be provided")

    # Methods

    def _auth_login(self, params: Json) -> Json:
        if (params.get("cid"), params.get("user"), params.get("pass")) != (
            self.cid,
            self.user,
            self.password,
        ):
            raise Refusal("bad_login", "wrong cid, user or pass")
        sid = secrets.token_hex(16)
        self.sessions.add(sid)
        return {"sid": sid}

    def _auth_logout(self, params: Json) -> Json:
        self.sessions.discard(str(params.get("sid")))
        return {}

    def _auth_info(self, params: Json) -> Json:
        return {"cid": self.cid, "user": self.user, "company_name": "Fake Bakery Ltd"}

    def _client_create(self, params: Json) -> Json:
        if not params.get("client_name"):
            raise Refusal("missing_client_name")
        custom = params.get("custom_client_id")
        if custom and any(c.get("custom_client_id") == custom for c in self.clients.values()):
            raise Refusal("client_exists", "a client with this custom_client_id exists")
        client_id = str(len(self.clients) + 1001)
        self.clients[client_id] = {"client_id": client_id, **params}
        self.created["client"] += 1
        return {"client_id": client_id}

    def _client_create_or_update(self, params: Json) -> Json:
        """Finds the client by ``client_id``, else by ``custom_client_id``; updates it, or makes one."""
        refused = self._clients_refused_from
        if refused is not None and self.client_syncs >= refused[0]:
            raise Refusal(refused[1], "the client was not saved")
        if not params.get("client_name"):
            raise Refusal("missing_client_name")
        found: Json | None = None
        if params.get("client_id"):
            found = self.clients.get(str(params["client_id"]))
            if found is None:
                raise Refusal("client_not_found")
        elif params.get("custom_client_id"):
            custom = params["custom_client_id"]
            found = next((c for c in self.clients.values() if c.get("custom_client_id") == custom), None)
        self.client_syncs += 1
        if found is not None:
            found.update({k: v for k, v in params.items() if k not in AUTH_PARAMS and k != "client_id"})
            self.created["client_update"] += 1
            return {"client_id": found["client_id"]}
        client_id = str(len(self.clients) + 1001)
        kept = {k: v for k, v in params.items() if k not in AUTH_PARAMS}
        self.clients[client_id] = {"client_id": client_id, **kept}
        self.created["client"] += 1
        return {"client_id": client_id}

    def _client_info(self, params: Json) -> Json:
        for client in self.clients.values():
            if (
                params.get("custom_client_id")
                and client.get("custom_client_id") == params["custom_client_id"]
            ):
                return {"client_info": dict(client)}
            if params.get("client_id") and client["client_id"] == str(params["client_id"]):
                return {"client_info": dict(client)}
        raise Refusal("client_not_found")

    def _paypage_generate_sale(self, params: Json) -> Json:
        pages = (self.paypage_id, self.guarantee_paypage_id, self.save_card_paypage_id)
        if str(params.get("paypage_id", "")) not in pages:
            raise Refusal("missing_paypage_id", "paypage_id must be the numeric id of a pay page")
        try:
            total = Decimal(str(params.get("sum")))
        except ArithmeticError as error:
            raise Refusal("bad_sum") from error
        if total <= 0:
            raise Refusal("bad_sum")
        currency_id = params.get("currency_id")
        if currency_id is not None and CURRENCY_IDS.get(str(currency_id)) != params.get("currency_code"):
            raise Refusal("currency_mismatch", "currency_id and currency_code differ")
        if "items" in params and _items_total(params["items"]) != total:
            raise Refusal("bad_items", "the items' total is not the sale's sum")
        uniqid = secrets.token_hex(12)
        self.sales[uniqid] = dict(params)
        self.created["sale"] += 1
        return {
            "paypage_id": self.paypage_id,
            "sale_uniqid": uniqid,
            "sale_sid": secrets.token_hex(8),
            "sale_url": f"{self.root}/m/sale/{uniqid}",
        }

    def _cc_transactions(self, params: Json) -> Json:
        if not params.get("start_date") or not params.get("end_date"):
            raise Refusal("empty_query", "start_date and end_date are required")
        found = [
            t.listed()
            for t in self.transactions.values()
            if params["start_date"] <= t.charged_on <= params["end_date"]
            and params.get("confirmation_code") in (None, t.confirmation_code)
            and (params.get("client_id") is None or str(params["client_id"]) == t.client_id)
        ]
        return {"results_count": len(found), "results_list": found}

    def _cc_refund(self, params: Json) -> Json:
        transaction = next(
            (t for t in self.transactions.values() if t.cc_bill_log_id == str(params.get("cc_bill_log_id"))),
            None,
        )
        if transaction is None:
            raise Refusal("transaction_not_found")
        amount = Decimal(str(params.get("sum")))
        remaining = transaction.total - transaction.refunded
        if amount <= 0 or amount > remaining:
            raise Refusal("bad_sum", f"at most {remaining} can be refunded")
        transaction.refunded += amount
        self.refunds.append({"cc_bill_log_id": transaction.cc_bill_log_id, "sum": amount})
        self.created["refund"] += 1
        return {
            "confirmation_code": str(secrets.randbelow(9_000_000) + 1_000_000),
            "refund_type": "partial" if transaction.refunded < transaction.total else "full",
            "refund_amount": f"{amount:.2f}",
            "remaining_amount": f"{transaction.total - transaction.refunded:.2f}",
        }

    def _doc_create(self, params: Json) -> Json:
        doctype = str(params.get("doctype", ""))
        if doctype not in {"invrec", "receipt", "invoice", "refund"}:
            raise Refusal("bad_doctype")
        sanity = params.get("sanity_string")
        if sanity and sanity in self._sanity:
            # iCount gives back the document made the first time.
            known = self._sanity[sanity]
            return {"doctype": known[0], "docnum": known[1], "doc_url": self.documents[known]["doc_url"]}
        cash = params.get("cash")
        if cash is not None and not (isinstance(cash, dict) and cash.get("sum")):
            raise Refusal("bad_payment", "cash must be a payment with a sum")
        payments = params.get("cc") or ([cash] if cash else None)
        if doctype in {"invrec", "receipt"} and not payments:
            raise Refusal("missing_payment", f"a {doctype} needs a payment")
        if doctype == "invrec" and not params.get("items"):
            raise Refusal("missing_items", "an invrec needs items")
        if not isinstance(payments, list) or not all(isinstance(p, dict) and p.get("sum") for p in payments):
            raise Refusal("bad_payment", "cc must be a list of payments with a sum")
        key = self._store_document(doctype, params, payments, tie=self.ties_created_documents)
        if sanity:
            self._sanity[str(sanity)] = key
        self.created["document"] += 1
        return {"doctype": doctype, "docnum": key[1], "doc_url": self.documents[key]["doc_url"]}

    def _store_document(
        self, doctype: str, params: Json, payments: list[Json], tie: bool = True
    ) -> tuple[str, str]:
        self._next_docnum[doctype] += 1
        docnum = str(self._next_docnum[doctype] + 30000)
        key = (doctype, docnum)
        total = sum(Decimal(str(p["sum"])) for p in payments)
        self.documents[key] = {
            **params,
            "docnum": docnum,
            "totalpaid": f"{total:.2f}",
            "is_cancelled": False,
            "doc_url": f"{self.root}/doc/{doctype}/{docnum}",
        }
        for payment in payments:
            card = self.transactions.get(str(payment.get("confirmation_code")))
            if card is not None and tie:
                card.docs.append(key)
        return key

    def _document(self, params: Json) -> tuple[tuple[str, str], Json]:
        key = (str(params.get("doctype")), str(params.get("docnum")))
        if key not in self.documents:
            raise Refusal("doc_not_found")
        return key, self.documents[key]

    def _doc_info(self, params: Json) -> Json:
        key, document = self._document(params)
        return {
            "doc_info": {
                "doctype": key[0],
                "docnum": key[1],
                "totalpaid": document["totalpaid"],
                "currency_code": document.get("currency_code")
                or CURRENCY_IDS.get(str(document.get("currency_id")), "ILS"),
                "is_cancelled": document["is_cancelled"],
            }
        }

    def _doc_cancel(self, params: Json) -> Json:
        key, document = self._document(params)
        if document["is_cancelled"]:
            raise Refusal("already_cancelled")
        document["is_cancelled"] = True
        document["cancellation_reason"] = params.get("reason")
        if str(params.get("refund_cc", "0")) in {"1", "true", "True"}:
            for transaction in self.transactions.values():
                if key in transaction.docs:
                    transaction.refunded = transaction.total
                    self.refunds.append(
                        {"cc_bill_log_id": transaction.cc_bill_log_id, "sum": transaction.total}
                    )
        return {}

    def _doc_get_doc_url(self, params: Json) -> Json:
        _key, document = self._document(params)
        return {"doc_url": document["doc_url"]}
