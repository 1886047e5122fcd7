"""iCount use cases: IPNs (stored, then confirmed through the API before anything is recorded), the
checkout page's redirect to an iCount sale, refunds, and the connection test.

An IPN proves nothing by itself: anyone who learnt its URL could post one. It names its request by the
secret in its URL; its payment counts only once ``cc/transactions`` (by confirmation code) or ``doc/info``
(by document) shows that payment, for that amount, not refunded, and not already counted for another
request. iCount repeats IPNs: the inbox keeps one per request and confirmation code.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import ProviderNotConfigured
from bot.domain.money import Money
from bot.domain.refund import Refund
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import ProviderName
from bot.payments.icount import consts
from bot.payments.port import PaymentEvent, PaymentEventKind, ProviderError
from bot.services.context import PaymentDeps, with_retries
from bot.services.inbox import run_claimed
from bot.services.invoices import issue_invoice
from bot.services.payments import link_request_for
from bot.services.provider_clients import icount_for
from bot.services.settlement import Outcome, apply_event
from bot.services.vendors import find_vendor
from bot.store.repositories.inbox import InboundEvent

log = logging.getLogger(__name__)
SOURCE = consts.NAME
EVENT_TYPE = "ipn"
BACKLOG_BATCH = 100


class UnconfirmedPayment(Exception):
    """The API does not show the payment an IPN claims: nothing is recorded."""


@dataclass(frozen=True, slots=True)
class IpnNotice:
    transaction_id: uuid.UUID
    fields: dict[str, str]

    @property
    def key(self) -> str | None:
        """One inbox row per request and payment: iCount's repeats collide on it."""
        code = self.fields.get("confirmation_code")
        if code:
            return f"{self.transaction_id}:{code}"
        doctype, docnum = self.fields.get("doctype"), self.fields.get("docnum")
        if doctype and docnum:
            return f"{self.transaction_id}:{doctype}:{docnum}"
        return None

    def payload(self) -> str:
        return json.dumps({"transaction_id": str(self.transaction_id), "fields": self.fields}, sort_keys=True)

    @classmethod
    def of(cls, transaction_id: uuid.UUID, received: Mapping[str, str]) -> IpnNotice:
        kept = {k: str(v)[:200] for k, v in received.items() if k in consts.IPN_FIELDS}
        return cls(transaction_id, kept)

    @classmethod
    def load(cls, payload: str) -> IpnNotice:
        data = json.loads(payload)
        return cls(uuid.UUID(data["transaction_id"]), {str(k): str(v) for k, v in data["fields"].items()})


async def provider_for_secret(deps: PaymentDeps, secret: str, transaction_id: uuid.UUID) -> bool:
    """Whether ``secret`` is the IPN secret of this iCount request (a forged or stale URL is not)."""
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None or transaction.provider != consts.NAME:
            return False
        try:
            provider = await icount_for(deps, uow, transaction.vendor_id)
        except (ProviderNotConfigured, ValueError):
            return False
    return provider is not None and provider.checks_secret(secret)


async def _confirmed_event(
    deps: PaymentDeps, notice: IpnNotice, event_key: str, at: datetime
) -> PaymentEvent:
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(notice.transaction_id)
        if transaction is None:
            raise UnconfirmedPayment(f"no request {notice.transaction_id}")
        provider = await icount_for(deps, uow, transaction.vendor_id)
        if provider is None:
            raise UnconfirmedPayment("the vendor no longer uses iCount")
    code = notice.fields.get("confirmation_code")
    currency = transaction.amount.currency
    if code:
        found = await with_retries(
            lambda: provider.find_card_payment(code, at.date(), currency=currency), deps.retry_delay
        )
        if found is None or found.refunded or found.amount is None:
            raise UnconfirmedPayment(f"cc/transactions does not show payment {code}")
        amount, reference = found.amount, code
        # The same payment may also be known by its document (an IPN naming only it, or its invoice).
        also = [f"{found.doctype}:{found.docnum}"] if found.doctype and found.docnum else []
    else:
        doctype, docnum = notice.fields["doctype"], notice.fields["docnum"]
        total = await with_retries(
            lambda: provider.document_total(doctype, docnum, currency), deps.retry_delay
        )
        if total.cancelled or total.paid is None or not total.paid.is_positive():
            raise UnconfirmedPayment(f"doc/info does not show {doctype} {docnum} paid")
        amount, reference = total.paid, f"{doctype}:{docnum}"
        also = [reference]
    async with deps.uow() as uow:
        others = [await uow.transactions.by_reference(consts.NAME, reference)]
        for known in also:
            # A payment counted by its confirmation code has the document as its invoice.
            doctype, _, docnum = known.partition(":")
            invoice = await uow.billing.invoice_of_document(
                transaction.vendor_id, consts.NAME, doctype, docnum
            )
            others.append(None if invoice is None else await uow.transactions.get(invoice.transaction_id))
            others.append(await uow.transactions.by_reference(consts.NAME, known))
    if any(other is not None and other.id != transaction.id for other in others):
        raise UnconfirmedPayment(f"payment {reference} is already counted for another request")
    return PaymentEvent(
        provider=consts.NAME,
        event_id=event_key,
        kind=PaymentEventKind.PAID,
        occurred_at=at,
        transaction_id=transaction.id,
        reference=reference,
        amount=amount,
        method="card",
        vendor_id=transaction.vendor_id,
    )


async def process_ipn(deps: PaymentDeps, event_id: int) -> Outcome | None:
    """Confirms a stored IPN through the API and records its payment once. An IPN the API does not
    confirm stays in the inbox as failed (tried again a few times, in case iCount's lists lag)."""

    async def confirm_and_apply(stored: InboundEvent) -> tuple[IpnNotice, Outcome]:
        notice = IpnNotice.load(stored.payload)
        event = await _confirmed_event(deps, notice, stored.event_key, deps.clock())
        return notice, await apply_event(deps, event)

    _done, result = await run_claimed(
        deps, event_id, confirm_and_apply, expected=(UnconfirmedPayment, ProviderError)
    )
    if result is None:
        return None
    notice, outcome = result
    log.info("icount IPN %s: %s", event_id, outcome)
    if outcome is Outcome.RECORDED:
        try:
            await issue_invoice(deps, notice.transaction_id)
        except ProviderError as error:
            log.warning(
                "invoice for %s delayed (the invoice pass will retry): %s", notice.transaction_id, error
            )
    return outcome


async def process_ipn_backlog(deps: PaymentDeps, grace: timedelta = timedelta(seconds=30)) -> int:
    async with deps.uow() as uow:
        waiting = await uow.inbox.unprocessed({SOURCE}, deps.clock() - grace, BACKLOG_BATCH)
    done = 0
    for event_id in waiting:
        done += (await process_ipn(deps, event_id)) is not None
    return done


async def checkout_url(deps: PaymentDeps, transaction_id: uuid.UUID) -> str | None:
    """Where the customer's link leads now: an iCount sale (made in the last minutes, else a new one)
    while the request is open and its link active, else None (the link has ended)."""
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None or transaction.provider != consts.NAME or not transaction.is_open:
            return None
        link = (
            None if transaction.payment_link_id is None else await uow.links.get(transaction.payment_link_id)
        )
        if link is None or not link.active:
            return None
        provider = await icount_for(deps, uow, transaction.vendor_id)
    request = await link_request_for(deps, transaction_id)
    if provider is None or request is None:
        return None
    sale = await with_retries(lambda: provider.sale_for(request), deps.retry_delay)
    return sale.url


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    provider: str
    ok: bool
    company: str | None = None
    detail: str | None = None


async def check_provider(deps: PaymentDeps, vendor_reference: str | None) -> ProviderCheck:
    """The connection test: ``auth/info`` with the vendor's iCount credentials."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        name = vendor.payment.provider.value
        try:
            provider = await icount_for(deps, uow, vendor.id)
        except ProviderNotConfigured as error:
            return ProviderCheck(name, False, detail=f"{error.params.get('missing')} is missing")
        except ValueError:
            return ProviderCheck(name, False, detail="stored credentials do not open with SECRET_KEY")
    if provider is None:
        sandbox = vendor.payment.provider is ProviderName.SANDBOX
        return ProviderCheck(name, sandbox, detail=None if sandbox else f"no connection test for {name}")
    try:
        info = await provider.company_info()
    except ProviderError as error:
        return ProviderCheck(name, False, detail=str(error))
    return ProviderCheck(name, True, company=info.name or info.cid)


# A refund iCount did not answer is taken as not made only once its card transaction still shows no
# refund this long after (its lists may lag behind the call).
REFUND_SETTLING = timedelta(minutes=15)


async def refund_card_payment(
    deps: PaymentDeps, transaction: PaymentTransaction, amount: Money, whole: bool
) -> tuple[str, str | None, str | None]:
    """Gives ``amount`` of an iCount card payment back, once: (status, reference, reason) with status
    succeeded, failed or unknown (no answer: it may have been made). All of a payment not refunded
    before: its document is cancelled with ``refund_cc`` when iCount lists that document with the charge
    (else ``cc/refund``, then the document cancelled); part of it: ``cc/refund``. Neither call has an
    idempotency key at iCount, so neither is ever retried blindly."""
    async with deps.uow() as uow:
        provider = await icount_for(deps, uow, transaction.vendor_id)
        invoice = await uow.billing.invoice_for(transaction.id)
    if provider is None or not transaction.provider_reference:
        return "failed", None, "not an iCount card payment"
    whole = whole and transaction.refunded_total.is_zero()
    paid_on = (transaction.paid_at or deps.clock()).date()
    reference = transaction.provider_reference
    try:
        found = await provider.find_card_payment(reference, paid_on, currency=transaction.amount.currency)
        if found is None or found.cc_bill_log_id is None:
            return "failed", None, "payment not found at iCount"
        if whole and found.refunded:
            # Cancelling the document would give back the whole payment a second time.
            return "failed", None, "partly refunded at iCount already: refund the rest with an amount"
        issued = invoice if whole and invoice and invoice.status == "issued" else None
        cancelled, refund_reference = False, None
        if issued is not None and (found.doctype, found.docnum) == (issued.doctype, issued.docnum):
            # iCount itself ties this document to the card charge: cancelling it gives the money back.
            await provider.cancel_document(issued.doctype, issued.docnum, "refund", refund_card=True)
            cancelled, refund_reference = True, f"{issued.doctype}:{issued.docnum}"
        else:
            # A document iCount does not list with the charge (ours, made by doc/create) may be cancelled
            # by refund_cc without the card being refunded: the card is refunded itself, then it is.
            result = await provider.refund_card(found.cc_bill_log_id, amount)
            refund_reference = result.provider_refund_id
            if issued is not None:
                try:
                    await provider.cancel_document(issued.doctype, issued.docnum, "refund", refund_card=False)
                    cancelled = True
                except ProviderError as error:
                    log.warning("refunded, but %s %s not cancelled: %s", issued.doctype, issued.docnum, error)
    except ProviderError as error:
        return ("unknown" if error.transient else "failed"), None, str(error)
    if cancelled:
        async with deps.uow() as uow:
            await uow.billing.mark_invoice_cancelled(transaction.id, deps.clock())
            await uow.commit()
    return "succeeded", refund_reference, None


async def check_card_refund(
    deps: PaymentDeps, transaction: PaymentTransaction, refund: Refund, now: datetime
) -> tuple[str, str | None, str | None]:
    """Whether an iCount refund that got no answer was made, from the card transaction's ``refunded``
    flag: flagged while nothing was refunded before, it was; not flagged well after the call, it was
    not. A flag already set by an earlier refund tells nothing: the vendor checks iCount."""
    async with deps.uow() as uow:
        provider = await icount_for(deps, uow, transaction.vendor_id)
    if provider is None or not transaction.provider_reference:
        return "unknown", None, "the vendor no longer uses iCount"
    paid_on = (transaction.paid_at or now).date()
    try:
        found = await provider.find_card_payment(
            transaction.provider_reference, paid_on, currency=transaction.amount.currency
        )
    except ProviderError as error:
        return "unknown", None, str(error)
    if found is None:
        return "unknown", None, "iCount does not list the payment"
    if found.refunded and transaction.refunded_total.is_zero():
        return "succeeded", None, None
    if not found.refunded and now - refund.updated_at >= REFUND_SETTLING:
        return "failed", None, "iCount shows no refund on the payment: it was not made"
    return "unknown", None, "iCount cannot tell this refund apart from the earlier ones"


async def cancel_receipt(deps: PaymentDeps, transaction_id: uuid.UUID) -> None:
    """The cash given back in full: the iCount document issued for that cash payment is cancelled (no
    card to refund). A failure is logged; the refund itself stands."""
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        invoice = await uow.billing.invoice_for(transaction_id)
        provider = None if transaction is None else await icount_for(deps, uow, transaction.vendor_id)
    if invoice is None or invoice.status != "issued" or provider is None:
        return
    try:
        await provider.cancel_document(invoice.doctype, invoice.docnum, "refund", refund_card=False)
    except ProviderError as error:
        log.warning("cash refunded, but %s %s not cancelled: %s", invoice.doctype, invoice.docnum, error)
        return
    async with deps.uow() as uow:
        await uow.billing.mark_invoice_cancelled(transaction_id, deps.clock())
        await uow.commit()


def ipn_fields(query: Mapping[str, str], form: Mapping[str, str]) -> dict[str, str]:
    """IPN fields from the query string and the body (iCount's own plugin reads both)."""
    merged = {str(k): str(v) for k, v in query.items()}
    merged.update({str(k): str(v) for k, v in form.items()})
    return merged
