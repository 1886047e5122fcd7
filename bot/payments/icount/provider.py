"""The iCount provider: the port and the capabilities iCount has, on top of ``IcountApi``.

Links: the customer gets ``{base}/pay/icount/{transaction}``, a page of ours that sends them to a recent
``paypage/generate_sale`` page while the request is open, and says the link has ended once it is not
(iCount has no call to disable a generated sale; whether and when its URL expires is not documented).
``create_link`` still generates one sale, so a wrong pay page or token is reported to the vendor at once.

Guarantees and saved cards (``cards.py``): ``generate_sale`` has no parameter to keep the card or to
pre-approve instead of charging (the method index lists none, and the ``m__`` fields echoed in IPNs are
for static page links only): both are settings of the pay page in iCount. So a guarantee is a sale on
the pay page the vendor set up for guarantees (``guarantee_paypage_id``), a payment offering "save my
card" one on the page set up with iCount's save box (``save_card_paypage_id``, else the usual page:
the card is kept only when the customer ticks it). A phone payment is a usual sale: the vendor types the
card on iCount's page. Card numbers never pass through the bot.

Refunds: all of a payment not refunded before is given back by cancelling its document with
``refund_cc`` when iCount lists that document with the charge (else ``cc/refund``, then the document
cancelled); part of it by ``cc/refund``. Neither call has an idempotency key at iCount, so neither is
ever retried blindly: an unanswered refund is read back from the card transaction.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from bot.domain.errors import ProviderNotConfigured
from bot.domain.money import Money
from bot.domain.refund import RefundStatus
from bot.payments.icount import consts
from bot.payments.icount.api import CardPayment, IcountApi, InvoiceRequest, IssuedDocument, Sale
from bot.payments.icount.cards import HOLD_WINDOW, IcountCards
from bot.payments.icount.client import IcountClient
from bot.payments.icount.clients import IcountClients
from bot.payments.icount.inventory import IcountInventory
from bot.payments.icount.webhooks import IpnAddresses
from bot.payments.port import (
    AccountInfo,
    CallbackNotice,
    CardHold,
    ChargeAttempt,
    ClientDetails,
    ClientProfile,
    ConfirmedPayment,
    Document,
    HoldCheck,
    InvoiceOrder,
    LinkRequest,
    PaidPayment,
    PaymentLink,
    ProductIds,
    ProductSnapshot,
    ProviderError,
    RefundAttempt,
    SavedCard,
    SavedCardRequest,
)
from bot.payments.retry import with_retries

log = logging.getLogger(__name__)
# A sale is reused for a while: link previews and repeated taps do not each make one (nor eat the rate).
SALE_REUSE_SECONDS = 600.0
# A refund iCount did not answer is taken as not made only once its card transaction still shows no
# refund this long after (its lists may lag behind the call).
REFUND_SETTLING = timedelta(minutes=15)


def sanity_string(transaction_id: uuid.UUID) -> str:
    """``doc/create``'s key: asked again with it, iCount gives back the document made the first time."""
    return f"bot-{transaction_id.hex}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IcountProvider:
    name = consts.NAME
    # A guarantee's card is kept for later only with consent: its J5 page keeps it whatever.
    guarantee_pages_ask_consent = False
    clients_for_every_link = True
    hold_window = HOLD_WINDOW

    def __init__(
        self,
        client: IcountClient,
        paypage_id: str,
        base_url: str,
        ipn_key: str,
        retry_delay: float = 0.5,
        *,
        guarantee_paypage_id: str | None = None,
        save_card_paypage_id: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``guarantee_paypage_id``: the pay page set up to keep the card and pre-approve instead of
        charging; ``save_card_paypage_id``: one with iCount's "save my card" box (default: the usual
        page). ``clock``: the app's, for the charges looked up and the holds' lapse (default: UTC now)."""
        self.api = IcountApi(client, paypage_id)
        # Reads, and doc/create (its sanity_string), are safe to ask again; card charges and refunds never.
        self._retry_delay = retry_delay
        self.callbacks = IpnAddresses(base_url, ipn_key)
        self._base = base_url.rstrip("/")
        self._sales: dict[uuid.UUID, tuple[float, Money, str | None, Sale]] = {}
        self._guarantee_page = guarantee_paypage_id
        self._save_card_page = save_card_paypage_id
        self.cards = IcountCards(self.api, clock or _utcnow)

    # The port: payment links

    def _page_for(self, request: LinkRequest) -> str | None:
        """The pay page of the request's sale (None: the account's usual one)."""
        if request.hold:
            # Unconfirmed by a real account: a pay page set up in iCount to keep the card and pre-approve
            # (J5) its sum rather than charge it, and its IPN carrying the card's cc_token_id.
            if self._guarantee_page is None:
                raise ProviderNotConfigured(provider=consts.NAME, missing="icount_guarantee_paypage_id")
            return self._guarantee_page
        if request.offer_save_card:
            # Unconfirmed by a real account: a pay page with iCount's "save the card" option shows the
            # customer its box (their consent), and its IPN then carries cc_token_id.
            return self._save_card_page
        # A phone payment (request.by_phone) is a usual sale: the vendor types the card on iCount's page.
        return None

    async def _sale_for(self, request: LinkRequest) -> Sale:
        """A recent sale of this request (same amount and page), or a new one."""
        now = time.monotonic()
        for key, (made, _amount, _page, _sale) in list(self._sales.items()):
            if now - made >= SALE_REUSE_SECONDS:
                del self._sales[key]
        page = self._page_for(request)
        cached = self._sales.get(request.transaction_id)
        if cached is not None and cached[1:3] == (request.amount, page):
            return cached[3]
        sale = await self.api.generate_sale(request, self.callbacks.url(request.transaction_id), page)
        self._sales[request.transaction_id] = (now, request.amount, page, sale)
        return sale

    async def create_link(self, request: LinkRequest) -> PaymentLink:
        sale = await self._sale_for(request)
        return PaymentLink(consts.NAME, sale.uniqid, f"{self._base}/pay/icount/{request.transaction_id}")

    async def deactivate_link(self, provider_link_id: str) -> None:
        """Nothing to call at iCount: our checkout page stops sending customers to it."""

    async def close(self) -> None:
        await self.api.close()

    # HostedCheckout, ConnectionCheck, ClientSync

    async def checkout_url(self, request: LinkRequest) -> str:
        return (await self._sale_for(request)).url

    async def check_connection(self) -> AccountInfo:
        info = await self.api.company_info()
        return AccountInfo(name=info.name, account_id=info.cid)

    async def ensure_client(self, client: ClientDetails) -> str:
        return await self.api.ensure_client(client.custom_id, client.name, client.phone)

    # ClientUpdates: the customer's iCount client, after each change (clients.py)

    async def sync_client(self, client: ClientProfile) -> str:
        return await IcountClients(self.api.client).sync(client)

    # ProductCatalogue: inventory items (inventory.py)

    async def sync_product(self, product: ProductSnapshot) -> ProductIds:
        return await IcountInventory(self.api.client).sync(product)

    # PaymentConfirmation: an IPN counts only once the API shows its payment

    def accepts_callback(self, secret: str) -> bool:
        return self.callbacks.ours(secret)

    async def confirm_payment(
        self, notice: CallbackNotice, currency: str, around: date
    ) -> ConfirmedPayment | None:
        """``cc/transactions`` (by confirmation code) or ``doc/info`` (by document) shows the payment, for
        how much, and not refunded."""
        code = notice.fields.get("confirmation_code")
        if code:
            found = await self.api.find_card_payment(code, around, currency=currency)
            if found is None or found.refunded or found.amount is None:
                return None
            # The same payment may also be known by its document (an IPN naming only it, or its invoice).
            documents = ((found.doctype, found.docnum),) if found.doctype and found.docnum else ()
            saved = await self.cards.saved_card(notice, found.client_id)
            others = tuple(f"{t}:{n}" for t, n in documents)
            return ConfirmedPayment(found.amount, code, others, documents, saved_card=saved)
        doctype, docnum = notice.fields.get("doctype"), notice.fields.get("docnum")
        if not doctype or not docnum:
            return None
        total = await self.api.document_total(doctype, docnum, currency)
        if total.cancelled or total.paid is None or not total.paid.is_positive():
            return None
        reference = f"{doctype}:{docnum}"
        saved = await self.cards.saved_card(notice, None)
        return ConfirmedPayment(total.paid, reference, (reference,), ((doctype, docnum),), saved_card=saved)

    # HoldConfirmation, CardGuarantee, SavedCardCharge (cards.py)

    async def confirm_hold(
        self, notice: CallbackNotice, held: Money, around: date
    ) -> ConfirmedPayment | None:
        """The guarantee's card (the IPN's cc_token_id, as cc_storage/token_info shows it) and, by
        cc/j5_status, whether ``held`` is pre-approved on it (else the card is only kept on file)."""
        return await self.cards.confirm_hold(notice, held)

    async def capture_hold(self, hold: CardHold, amount: Money, key: str) -> ChargeAttempt:
        return await self.cards.capture_hold(hold, amount, key)

    async def release_hold(self, hold: CardHold) -> None:
        await self.cards.release_hold(hold)

    async def check_hold(self, hold: CardHold) -> HoldCheck:
        return await self.cards.check_hold(hold)

    async def charge_saved_card(self, charge: SavedCardRequest) -> ChargeAttempt:
        return await self.cards.charge_saved_card(charge)

    async def find_saved_card_charge(self, charge: SavedCardRequest) -> ChargeAttempt:
        return await self.cards.find_saved_card_charge(charge)

    async def forget_card(self, card: SavedCard) -> None:
        await self.cards.forget_card(card)

    async def card_details(self, card: SavedCard) -> SavedCard | None:
        return await self.cards.card_details(card)

    # Invoicing

    async def issue_invoice(self, order: InvoiceOrder) -> Document:
        """The document iCount already has for the payment (the pay page's own, or ours made before a
        crash), else ``doc/create`` with its ``sanity_string``: never a second one."""
        payment = order.payment
        existing = await self._existing_document(payment, order.lang)
        if existing is not None:
            return existing
        reference = payment.reference or ""
        request = InvoiceRequest(
            doctype=order.doctype,
            sanity_string=sanity_string(payment.transaction_id),
            client_id=order.client_id,
            client_name=order.client_name,
            amount=payment.amount,
            description=order.description,
            paid_on=payment.paid_on,
            # A reference "doctype:docnum" came from a document, not from a card confirmation code.
            confirmation_code=None if ":" in reference else reference or None,
            lang=order.lang,
            cash=payment.cash,
            lines=order.lines,
        )
        issued = await with_retries(lambda: self.api.issue_document(request), self._retry_delay)
        return _document(issued)

    async def _existing_document(self, payment: PaidPayment, lang: str) -> Document | None:
        reference = payment.reference or ""
        if ":" in reference:
            doctype, _, docnum = reference.partition(":")
        else:
            if not reference:
                return None
            found = await self.api.find_card_payment(
                reference, payment.paid_on, currency=payment.amount.currency
            )
            if found is None or not found.doctype or not found.docnum:
                return None
            doctype, docnum = found.doctype, found.docnum
        return Document(doctype, docnum, await self.api.document_url(doctype, docnum, lang))

    async def cancel_invoice(self, document: Document, reason: str) -> None:
        await self.api.cancel_document(document.doctype, document.number, reason, refund_card=False)

    # Refunds

    async def refund_payment(self, payment: PaidPayment, amount: Money, key: str) -> RefundAttempt:
        if not payment.reference:
            return RefundAttempt(RefundStatus.FAILED, reason="not an iCount card payment")
        whole = amount == payment.amount and payment.refunded.is_zero()
        try:
            found = await self.api.find_card_payment(
                payment.reference, payment.paid_on, currency=payment.amount.currency
            )
            if found is None or found.cc_bill_log_id is None:
                return RefundAttempt(RefundStatus.FAILED, reason="payment not found at iCount")
            if whole and found.refunded:
                # Cancelling the document would give back the whole payment a second time.
                return RefundAttempt(
                    RefundStatus.FAILED,
                    reason="partly refunded at iCount already: refund the rest with an amount",
                )
            return await self._refund_card(payment, found, amount, whole)
        except ProviderError as error:
            status = RefundStatus.UNKNOWN if error.transient else RefundStatus.FAILED
            return RefundAttempt(status, reason=str(error))

    async def _refund_card(
        self, payment: PaidPayment, found: CardPayment, amount: Money, whole: bool
    ) -> RefundAttempt:
        invoice = payment.invoice if whole else None
        if invoice is not None and (found.doctype, found.docnum) == (invoice.doctype, invoice.number):
            # iCount itself ties this document to the card charge: cancelling it gives the money back.
            await self.api.cancel_document(invoice.doctype, invoice.number, "refund", refund_card=True)
            return RefundAttempt(
                RefundStatus.SUCCEEDED, f"{invoice.doctype}:{invoice.number}", invoice_cancelled=True
            )
        # A document iCount does not list with the charge (ours, made by doc/create) may be cancelled by
        # refund_cc without the card being refunded: the card is refunded itself, then it is.
        assert found.cc_bill_log_id is not None  # checked by the caller
        result = await self.api.refund_card(found.cc_bill_log_id, amount)
        cancelled = False
        if invoice is not None:
            try:
                await self.cancel_invoice(invoice, "refund")
                cancelled = True
            except ProviderError as error:
                log.warning("refunded, but %s %s not cancelled: %s", invoice.doctype, invoice.number, error)
        return RefundAttempt(RefundStatus.SUCCEEDED, result.provider_refund_id, invoice_cancelled=cancelled)

    async def check_refund(
        self, payment: PaidPayment, amount: Money, key: str, asked_at: datetime, now: datetime
    ) -> RefundAttempt:
        """From the card transaction's ``refunded`` flag: flagged while nothing was refunded before, it was
        made; not flagged well after the call, it was not. A flag already set by an earlier refund tells
        nothing: the vendor checks iCount."""
        if not payment.reference:
            return RefundAttempt(RefundStatus.UNKNOWN, reason="not an iCount card payment")
        try:
            found = await self.api.find_card_payment(
                payment.reference, payment.paid_on, currency=payment.amount.currency
            )
        except ProviderError as error:
            return RefundAttempt(RefundStatus.UNKNOWN, reason=str(error))
        if found is None:
            return RefundAttempt(RefundStatus.UNKNOWN, reason="iCount does not list the payment")
        if found.refunded and payment.refunded.is_zero():
            return RefundAttempt(RefundStatus.SUCCEEDED)
        if not found.refunded and now - asked_at >= REFUND_SETTLING:
            return RefundAttempt(
                RefundStatus.FAILED, reason="iCount shows no refund on the payment: it was not made"
            )
        return RefundAttempt(
            RefundStatus.UNKNOWN, reason="iCount cannot tell this refund apart from the earlier ones"
        )


def _document(issued: IssuedDocument) -> Document:
    return Document(issued.doctype, issued.docnum, issued.url)
