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
returns the IPN fields iCount would post to the sale's ``ipn_url``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qsl

from aiohttp import web

from tests.conftest import NOW
from tests.fakes.stripe_api import decode_form

Json = dict[str, Any]
AUTH_PARAMS = frozenset({"sid", "cid", "user", "pass"})
# Parameter names from the official index (``icount-apiv3-params.txt``); cc/refund is used in the wild.
PARAMS: dict[str, frozenset[str]] = {
    "auth/login": frozenset(
        {"cid", "user", "pass", "require_module", "require_priv", "get_company_info", "get_settings"}
        | {"get_bank_accounts", "list_type"}
    ),
    "auth/logout": frozenset(),
    "auth/info": frozenset({"get_company_info", "get_settings", "get_bank_accounts", "list_type"}),
    "client/create": frozenset(
        {"custom_client_id", "vat_id", "email", "client_name", "first_name", "last_name", "phone", "mobile"}
        | {"notes", "custom_info"}
    ),
    "client/info": frozenset({"client_id", "custom_client_id", "vat_id", "email", "client_name"}),
    "paypage/generate_sale": frozenset(
        {"paypage_id", "currency_id", "currency_code", "items", "sum", "description", "x_order_id"}
        | {"client_name", "first_name", "last_name", "email", "phone", "page_lang", "success_url"}
        | {"failure_url", "cancel_url", "ipn_url", "utm_campaign", "utm_source", "utm_content"}
    ),
    "cc/transactions": frozenset(
        {"client_id", "custom_client_id", "vat_id", "email", "client_name", "start_date", "end_date"}
        | {"cc_last4", "confirmation_code"}
    ),
    "cc/refund": frozenset({"cc_bill_log_id", "sum"}),
    "doc/create": frozenset(
        {"doctype", "client_id", "custom_client_id", "client_name", "doc_date", "currency_id"}
        | {"currency_code", "items", "cc", "cash", "sanity_string", "doc_lang", "send_email", "tax_exempt"}
    ),
    "doc/info": frozenset({"doctype", "docnum", "get_items", "get_payments"}),
    "doc/cancel": frozenset({"doctype", "docnum", "refund_cc", "reason"}),
    "doc/get_doc_url": frozenset({"doctype", "docnum", "orig", "doc_lang", "lang"}),
}
CURRENCY_IDS = {"5": "ILS", "2": "USD", "1": "EUR", "4": "GBP"}


class RecordedCall(NamedTuple):
    method: str
    params: Json
    content_type: str
    auth: str  # "token", "sid", "password" or "none"


class _Refusal(Exception):
    def __init__(self, reason: str, description: str = "", *details: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.description = description
        self.details = list(details)


@dataclass
class _Fault:
    method: str
    times: int
    status: int = 500
    seconds: float = 0.0
    text: str | None = None
    # The call does its work, then the answer is lost (a gateway timeout): its outcome is unknown.
    after_work: bool = False


@dataclass
class CardTransaction:
    confirmation_code: str
    cc_bill_log_id: str
    total: Decimal
    currency: str
    client_name: str
    charged_on: str
    sale_uniqid: str
    refunded: Decimal = Decimal(0)
    docs: list[tuple[str, str]] = field(default_factory=list)

    def listed(self) -> Json:
        return {
            "cc_bill_log_id": self.cc_bill_log_id,
            "cc_cardnumber": "4580",
            "cc_cardtype": "VISA",
            "cc_charge_date": self.charged_on,
            "cc_numofpayments": "1",
            "cctotal": f"{self.total:.2f}",
            "client_name": self.client_name,
            "confirmation_code": self.confirmation_code,
            "currency_code": self.currency,
            "docnumber": self.docs[0][1] if self.docs else "",
            "doctype": self.docs[0][0] if self.docs else "",
            "refunded": "1" if self.refunded > 0 else "0",
        }


class FakeIcount:
    """``async with FakeIcount() as fake:`` serves the fake at ``fake.base_url``.

    State for tests to read: ``clients`` (by client id), ``sales`` (by sale_uniqid, with their params),
    ``transactions`` (card transactions, by confirmation code), ``documents`` (by (doctype, docnum)),
    ``refunds``; ``calls`` lists every call and ``created`` counts what was created, by kind.
    """

    def __init__(
        self,
        token: str | None = None,
        paypage_id: str = "77",
        cid: str = "fakeco",
        user: str = "api",
        password: str = "s3cret",
        clock: Callable[[], datetime] = lambda: NOW,
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
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self._port = 0

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
        self._faults.append(_Fault("", times, status=429 if http_429 else 200, text="Too many requests"))

    def fail_next(self, method: str, status: int = 500, times: int = 1) -> None:
        self._faults.append(_Fault(method, times, status=status, text="Internal Server Error"))

    def lose_answer_next(self, method: str, status: int = 504, times: int = 1) -> None:
        """The next calls of ``method`` do their work (a refund is made), then answer ``status``."""
        self._faults.append(_Fault(method, times, status=status, text="Gateway Time-out", after_work=True))

    def clear_faults(self) -> None:
        self._faults.clear()

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next calls of ``method`` do their work, then answer after ``seconds``."""
        self._faults.append(_Fault(method, times, seconds=seconds))

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.method == method]

    def pay(
        self, sale_uniqid: str, amount: Decimal | None = None, document: str | None = None
    ) -> tuple[str, Json]:
        """The customer pays the sale: a card transaction is recorded; returns the sale's ``ipn_url`` and
        the IPN fields iCount posts there (form fields, as strings). With ``document`` (a doctype), the
        pay page issues its own document for the payment, as one set up with a doctype does."""
        sale = self.sales[sale_uniqid]
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

    def _take_fault(self, method: str) -> _Fault | None:
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
            self.calls.append(RecordedCall(method, params, content_type, "throttled"))
            return web.Response(status=fault.status, text=fault.text, content_type="text/plain")
        try:
            auth = self._authenticate(method, request, params)
            self.calls.append(RecordedCall(method, params, content_type, auth))
            unknown = set(params) - PARAMS.get(method, frozenset()) - AUTH_PARAMS
            if method not in PARAMS:
                raise _Refusal("unknown_method", f"{method} is not modelled")
            if unknown:
                raise _Refusal("unknown_param", "unknown parameters", *sorted(unknown))
            body = getattr(self, "_" + method.replace("/", "_"))(params)
            answer: Json = {"status": True, "reason": "", **body}
        except _Refusal as refusal:
            answer = {
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
                raise _Refusal("bad_token", "invalid API token")
            return "token"
        if "sid" in params:
            if params["sid"] not in self.sessions:
                raise _Refusal(self.expired_session_reason, "session expired or invalid")
            return "sid"
        if {"cid", "user", "pass"} <= set(params):
            if (params["cid"], params["user"], params["pass"]) != (self.cid, self.user, self.password):
                raise _Refusal("bad_login", "wrong cid, user or pass")
            return "password"
        raise _Refusal("auth_required", "Either sid OR cid+user+pass must be provided")

    # Methods

    def _auth_login(self, params: Json) -> Json:
        if (params.get("cid"), params.get("user"), params.get("pass")) != (
            self.cid,
            self.user,
            self.password,
        ):
            raise _Refusal("bad_login", "wrong cid, user or pass")
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
            raise _Refusal("missing_client_name")
        custom = params.get("custom_client_id")
        if custom and any(c.get("custom_client_id") == custom for c in self.clients.values()):
            raise _Refusal("client_exists", "a client with this custom_client_id exists")
        client_id = str(len(self.clients) + 1001)
        self.clients[client_id] = {"client_id": client_id, **params}
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
        raise _Refusal("client_not_found")

    def _paypage_generate_sale(self, params: Json) -> Json:
        if str(params.get("paypage_id", "")) != self.paypage_id:
            raise _Refusal("missing_paypage_id", "paypage_id must be the numeric id of a pay page")
        try:
            total = Decimal(str(params.get("sum")))
        except ArithmeticError as error:
            raise _Refusal("bad_sum") from error
        if total <= 0:
            raise _Refusal("bad_sum")
        currency_id = params.get("currency_id")
        if currency_id is not None and CURRENCY_IDS.get(str(currency_id)) != params.get("currency_code"):
            raise _Refusal("currency_mismatch", "currency_id and currency_code differ")
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
            raise _Refusal("empty_query", "start_date and end_date are required")
        found = [
            t.listed()
            for t in self.transactions.values()
            if params["start_date"] <= t.charged_on <= params["end_date"]
            and params.get("confirmation_code") in (None, t.confirmation_code)
        ]
        return {"results_count": len(found), "results_list": found}

    def _cc_refund(self, params: Json) -> Json:
        transaction = next(
            (t for t in self.transactions.values() if t.cc_bill_log_id == str(params.get("cc_bill_log_id"))),
            None,
        )
        if transaction is None:
            raise _Refusal("transaction_not_found")
        amount = Decimal(str(params.get("sum")))
        remaining = transaction.total - transaction.refunded
        if amount <= 0 or amount > remaining:
            raise _Refusal("bad_sum", f"at most {remaining} can be refunded")
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
            raise _Refusal("bad_doctype")
        sanity = params.get("sanity_string")
        if sanity and sanity in self._sanity:
            # iCount gives back the document made the first time.
            known = self._sanity[sanity]
            return {"doctype": known[0], "docnum": known[1], "doc_url": self.documents[known]["doc_url"]}
        cash = params.get("cash")
        if cash is not None and not (isinstance(cash, dict) and cash.get("sum")):
            raise _Refusal("bad_payment", "cash must be a payment with a sum")
        payments = params.get("cc") or ([cash] if cash else None)
        if doctype in {"invrec", "receipt"} and not payments:
            raise _Refusal("missing_payment", f"a {doctype} needs a payment")
        if doctype == "invrec" and not params.get("items"):
            raise _Refusal("missing_items", "an invrec needs items")
        if not isinstance(payments, list) or not all(isinstance(p, dict) and p.get("sum") for p in payments):
            raise _Refusal("bad_payment", "cc must be a list of payments with a sum")
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
            raise _Refusal("doc_not_found")
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
            raise _Refusal("already_cancelled")
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
