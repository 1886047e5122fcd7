"""iCount API v3's methods the bot uses, typed: pay-page sales, clients, card transactions and
refunds, documents, saved cards (``cc_storage``), token charges (``cc/bill``) and J5 pre-approvals. No
policy here (which refund to make, which document to issue, when a charge may be asked again): that is
the provider's (``provider.py``, ``cards.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.domain.money import Money
from bot.payments.icount import consts
from bot.payments.icount.card_calls import CardCalls
from bot.payments.icount.client import IcountClient, IcountError
from bot.payments.port import LineItem, LinkRequest, RefundResult

# cc/transactions wants a date range; a payment is looked up around the day it was made.
LOOKUP_DAYS = 3


@dataclass(frozen=True, slots=True)
class Sale:
    uniqid: str
    url: str


@dataclass(frozen=True, slots=True)
class CardPayment:
    """One card transaction as ``cc/transactions`` lists it."""

    confirmation_code: str
    amount: Money | None
    cc_bill_log_id: str | None
    doctype: str | None
    docnum: str | None
    refunded: bool
    card_type: str | None = None
    last4: str | None = None
    client_id: str | None = None
    # The day iCount lists it as charged (``cc_charge_date``; only its date part is read: whether it
    # carries a time, and in which zone, is not documented).
    charged_on: date | None = None


@dataclass(frozen=True, slots=True)
class DocumentTotal:
    paid: Money | None
    cancelled: bool


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    doctype: str
    sanity_string: str
    client_id: str | None
    client_name: str
    amount: Money
    description: str
    paid_on: date
    confirmation_code: str | None
    lang: str
    card_type: str | None = None
    last4: str | None = None
    # Money taken at the register: the document carries a cash payment, not a card one.
    cash: bool = False
    # The order's items, when the payment covers the whole price of an order made of products.
    lines: tuple[LineItem, ...] = ()


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    doctype: str
    docnum: str
    url: str | None


@dataclass(frozen=True, slots=True)
class CompanyInfo:
    cid: str | None
    name: str | None
    user: str | None


_text = consts.text


def _covers(lines: tuple[LineItem, ...], amount: Money) -> bool:
    return bool(lines) and sum((line.total.amount for line in lines), Decimal(0)) == amount.amount


def _item(line: LineItem) -> dict[str, Any]:
    """An order line as iCount's items carry it: its inventory item when it has one, else ad hoc."""
    item: dict[str, Any] = {"sku": line.sku, "description": line.name, "quantity": line.quantity}
    if line.icount_item_id:
        item["inventory_item_id"] = (
            int(line.icount_item_id) if line.icount_item_id.isdigit() else line.icount_item_id
        )
    return item


def sale_items(lines: tuple[LineItem, ...], amount: Money) -> list[dict[str, Any]]:
    """A pay page's items (``iCountPayPageItem``: ``unitprice``, the price the customer pays)."""
    if not _covers(lines, amount):
        return []
    return [{**_item(line), "unitprice": consts.amount_text(line.unit_price)} for line in lines]


def document_items(lines: tuple[LineItem, ...], amount: Money) -> list[dict[str, Any]]:
    """A document's items: ``unitprice`` is before VAT, ``unitprice_incvat`` includes it (a price with VAT
    sent as ``unitprice`` would have iCount add VAT a second time)."""
    if not _covers(lines, amount):
        return []
    return [
        {
            **_item(line),
            ("unitprice_incvat" if line.vat_included else "unitprice"): consts.amount_text(line.unit_price),
        }
        for line in lines
    ]


def _lang(locale: str) -> str:
    return "he" if locale == "he" else "en"


def _day(value: Any) -> date | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return datetime.strptime(text[:10], "%d/%m/%Y").date()  # noqa: DTZ007 - a day, no time
    except ValueError:
        return None


class IcountApi(CardCalls):
    def __init__(self, client: IcountClient, paypage_id: str) -> None:
        self.client = client
        self._paypage_id = paypage_id

    async def generate_sale(self, request: LinkRequest, ipn_url: str, paypage_id: str | None = None) -> Sale:
        """A sale on the account's pay page, or on ``paypage_id`` (one the vendor set up to keep the card,
        or to pre-approve it without charging: ``generate_sale`` itself has no parameter for either)."""
        page = paypage_id or self._paypage_id
        params: dict[str, Any] = {
            "paypage_id": int(page) if page.isdigit() else page,
            "sum": consts.amount_text(request.amount),
            "description": request.description,
            "x_order_id": str(request.transaction_id),
            "client_name": request.customer_name or f"+{request.customer_phone}",
            "page_lang": _lang(request.locale),
            "success_url": request.success_url,
            "failure_url": request.cancel_url,
            "cancel_url": request.cancel_url,
            "ipn_url": ipn_url,
            # IPNs echo utm_* (not the sale id): a second way back to the request.
            "utm_content": str(request.transaction_id),
            **consts.currency_params(request.amount.currency),
        }
        if request.customer_phone is not None:  # an Instagram customer may have none
            params["phone"] = f"+{request.customer_phone}"
        items = sale_items(request.lines, request.amount)
        if items:
            # The whole price of an order made of products: the page and its document show the items.
            params["items"] = items
        answer = await self.client.call(consts.GENERATE_SALE, params)
        url, uniqid = _text(answer.get("sale_url")), _text(answer.get("sale_uniqid"))
        if url is None or uniqid is None:
            raise IcountError(
                "icount paypage/generate_sale: no sale_url", reason="bad_answer", transient=False
            )
        return Sale(uniqid, url)

    async def company_info(self) -> CompanyInfo:
        answer = await self.client.call(consts.AUTH_INFO, {"get_company_info": 1})
        company = answer.get("company_info") if isinstance(answer.get("company_info"), dict) else {}
        name = _text(answer.get("company_name")) or _text((company or {}).get("company_name"))
        return CompanyInfo(cid=_text(answer.get("cid")), name=name, user=_text(answer.get("user")))

    async def ensure_client(self, custom_client_id: str, name: str, phone: str) -> str:
        """The iCount client id for our customer; an existing one (same custom id) is found again."""
        try:
            answer = await self.client.call(
                consts.CLIENT_CREATE,
                {"custom_client_id": custom_client_id, "client_name": name, "mobile": phone, "phone": phone},
            )
        except IcountError as error:
            if error.transient:
                raise
            # Made before a crash, or by hand: look it up by our id rather than guessing iCount's reason.
            answer = await self.client.call(consts.CLIENT_INFO, {"custom_client_id": custom_client_id})
        client_id = _text(answer.get("client_id"))
        if client_id is None and isinstance(answer.get("client_info"), dict):
            client_id = _text(answer["client_info"].get("client_id"))
        if client_id is None:
            raise IcountError("icount client: no client_id", reason="bad_answer", transient=False)
        return client_id

    async def find_card_payment(
        self, confirmation_code: str, around: date, days: int = LOOKUP_DAYS, currency: str = "ILS"
    ) -> CardPayment | None:
        """The card transaction with this confirmation code charged within ``days`` of ``around``
        (``currency``: the one to assume when iCount does not say)."""
        found = await self.card_transactions(
            around - timedelta(days=days),
            around + timedelta(days=days),
            currency,
            confirmation_code=confirmation_code,
        )
        return next((t for t in found if t.confirmation_code == confirmation_code), None)

    async def card_transactions(
        self,
        start: date,
        end: date,
        currency: str,
        *,
        confirmation_code: str | None = None,
        client_id: str | None = None,
    ) -> list[CardPayment]:
        """``cc/transactions`` charged from ``start`` to ``end``, for one code or one client if given."""
        params: dict[str, Any] = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        if confirmation_code is not None:
            params["confirmation_code"] = confirmation_code
        if client_id is not None:
            params["client_id"] = client_id
        answer = await self.client.call(consts.CC_TRANSACTIONS, params)
        results = answer.get("results_list") or []
        found = []
        for entry in results if isinstance(results, list) else []:
            code = _text(entry.get("confirmation_code")) if isinstance(entry, dict) else None
            if code is None or not isinstance(entry, dict):
                continue
            charged_in = _text(entry.get("currency_code")) or currency
            found.append(
                CardPayment(
                    confirmation_code=code,
                    amount=consts.parse_sum(entry.get("cctotal"), charged_in),
                    cc_bill_log_id=_text(entry.get("cc_bill_log_id")),
                    doctype=_text(entry.get("doctype")),
                    docnum=_text(entry.get("docnumber")),
                    refunded=consts.flag(entry.get("refunded")),
                    card_type=_text(entry.get("cc_cardtype")),
                    last4=_text(entry.get("cc_cardnumber")),
                    client_id=_text(entry.get("client_id")),
                    charged_on=_day(entry.get("cc_charge_date")),
                )
            )
        return found

    async def document_total(self, doctype: str, docnum: str, currency: str) -> DocumentTotal:
        """What ``doc/info`` says was paid on the document, in the document's currency."""
        answer = await self.client.call(consts.DOC_INFO, {"doctype": doctype, "docnum": docnum})
        info = answer.get("doc_info") if isinstance(answer.get("doc_info"), dict) else answer
        cancelled = (info or {}).get("is_cancelled") not in (None, "", 0, "0", False)
        # The document's own currency: ``currency`` (the request's) only when iCount does not say.
        by_id = {str(number): code for code, number in consts.CURRENCY_IDS.items()}
        written_in = _text((info or {}).get("currency_code")) or by_id.get(
            str((info or {}).get("currency_id"))
        )
        return DocumentTotal(
            consts.parse_sum((info or {}).get("totalpaid"), written_in or currency), cancelled
        )

    async def issue_document(self, invoice: InvoiceRequest) -> IssuedDocument:
        """``doc/create`` with the card (or cash) payment and a ``sanity_string``: asked twice, iCount
        gives the document it made the first time."""
        payment: dict[str, Any] = {
            "sum": consts.amount_text(invoice.amount),
            "date": invoice.paid_on.isoformat(),
            "num_of_payments": 1,
        }
        if invoice.confirmation_code:
            payment["confirmation_code"] = invoice.confirmation_code
        if invoice.card_type:
            payment["card_type"] = invoice.card_type
        if invoice.last4:
            payment["card_number"] = invoice.last4
        params: dict[str, Any] = {
            "doctype": invoice.doctype,
            "client_name": invoice.client_name,
            "doc_date": invoice.paid_on.isoformat(),
            "doc_lang": invoice.lang,
            "sanity_string": invoice.sanity_string,
            "send_email": 0,
            **consts.currency_params(invoice.amount.currency),
        }
        if invoice.cash:
            params["cash"] = {"sum": consts.amount_text(invoice.amount)}
        else:
            params["cc"] = [payment]
        if invoice.client_id:
            params["client_id"] = invoice.client_id
        if invoice.doctype == consts.DOCTYPE_INVREC:
            # Prices include VAT: ``unitprice`` would have iCount add it a second time.
            params["items"] = document_items(invoice.lines, invoice.amount) or [
                {
                    "description": invoice.description,
                    "unitprice_incvat": consts.amount_text(invoice.amount),
                    "quantity": 1,
                }
            ]
        answer = await self.client.call(consts.DOC_CREATE, params)
        docnum = _text(answer.get("docnum"))
        if docnum is None:
            raise IcountError("icount doc/create: no docnum", reason="bad_answer", transient=False)
        doctype = _text(answer.get("doctype")) or invoice.doctype
        url = _text(answer.get("doc_url"))
        if url is None:
            url = await self.document_url(doctype, docnum, invoice.lang)
        return IssuedDocument(doctype, docnum, url)

    async def document_url(self, doctype: str, docnum: str, lang: str) -> str | None:
        answer = await self.client.call(
            consts.DOC_URL, {"doctype": doctype, "docnum": docnum, "doc_lang": lang}
        )
        return _text(answer.get("doc_url")) or _text(answer.get("url"))

    async def cancel_document(self, doctype: str, docnum: str, reason: str, refund_card: bool) -> None:
        """``doc/cancel``; with ``refund_card`` iCount also gives the card payment of the document back."""
        await self.client.call(
            consts.DOC_CANCEL,
            {"doctype": doctype, "docnum": docnum, "reason": reason, "refund_cc": 1 if refund_card else 0},
        )

    async def refund_card(self, cc_bill_log_id: str, amount: Money) -> RefundResult:
        answer = await self.client.call(
            consts.CC_REFUND, {"cc_bill_log_id": cc_bill_log_id, "sum": consts.amount_text(amount)}
        )
        refunded = consts.parse_sum(answer.get("refund_amount"), amount.currency) or amount
        return RefundResult(_text(answer.get("confirmation_code")) or cc_bill_log_id, refunded)

    async def close(self) -> None:
        await self.client.close()
