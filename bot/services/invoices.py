"""Invoices: one iCount document per payment (card, or cash taken at the register), its link sent to the
customer on WhatsApp.

Durable without a queue of its own: a paid iCount transaction without an ``invoices`` row is work to do,
found again by the periodic pass after a crash. Before making a document, the payment is looked up
(``cc/transactions``): a document iCount already has for it (the pay page's own, or ours made before a
crash) is recorded instead. ``doc/create`` carries a ``sanity_string`` derived from the transaction, so
asking again (a retry after a timeout) gives back the document made the first time instead of a second
one. The ``invoices`` row (unique per transaction) and the customer's message are written in one
database transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.customer import Customer
from bot.domain.errors import DomainError
from bot.domain.order import Order
from bot.domain.outgoing import OutgoingMessage
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.payments.icount import consts
from bot.payments.icount.provider import IcountProvider, InvoiceRequest, IssuedDocument
from bot.payments.port import Document, ProviderError
from bot.rendering import render_for
from bot.services.context import PaymentDeps, with_retries
from bot.services.messages import customer_locale
from bot.services.provider_clients import ensure_provider_client, icount_for

log = logging.getLogger(__name__)
BATCH = 50
MAX_BACKOFF = timedelta(hours=6)


def sanity_string(transaction_id: uuid.UUID) -> str:
    return f"bot-{transaction_id.hex}"


def invoice_message(
    vendor: Vendor,
    customer: Customer,
    order: Order,
    transaction: PaymentTransaction,
    document: Document,
) -> OutgoingMessage:
    """The customer's link to the invoice of one payment (iCount's document, or Stripe's invoice)."""
    locale = customer_locale(vendor, customer)
    url = document.url or ""
    return OutgoingMessage(
        vendor_id=vendor.id,
        to_phone=customer.phone,
        kind="invoice_issued",
        locale=locale,
        text=render_for(
            vendor,
            "messages/invoice_issued",
            locale,
            vendor_name=vendor.name,
            order=order.reference,
            docnum=document.number,
            url=url,
            doctype=document.doctype,
        ),  # fmt: skip
        template_params=(document.number, url, order.reference),
        customer_id=customer.id,
        transaction_id=transaction.id,
        dedupe_key=f"invoice_issued:{transaction.id}",
    )


async def issue_invoice(deps: PaymentDeps, transaction_id: uuid.UUID) -> bool:
    """Issues the document of one paid iCount transaction; True when it was issued now (False: it had
    one, or is not an iCount payment)."""
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None or transaction.provider != consts.NAME:
            return False
        if not transaction.received:
            return False
        if await uow.billing.invoice_for(transaction_id) is not None:
            return False
        vendor = await uow.vendors.get(transaction.vendor_id)
        order = await uow.orders.get(transaction.commande_id)
        provider = await icount_for(deps, uow, transaction.vendor_id)
    if vendor is None or order is None or provider is None:
        return False
    client_id = await ensure_provider_client(deps, provider, order.customer_id)
    async with deps.uow() as uow:
        customer = await uow.customers.get(order.customer_id)
    if customer is None:  # pragma: no cover - a foreign key guarantees it
        return False
    reference = transaction.provider_reference or ""
    request = InvoiceRequest(
        doctype=vendor.payment.invoice_doctype.value,
        sanity_string=sanity_string(transaction.id),
        client_id=client_id,
        client_name=customer.name or f"+{customer.phone}",
        amount=transaction.amount,
        description=transaction.label,
        paid_on=(transaction.paid_at or deps.clock()).date(),
        # A reference "doctype:docnum" came from a document, not from a card confirmation code.
        confirmation_code=None if ":" in reference else reference or None,
        lang="he" if customer_locale(vendor, customer) == "he" else "en",
        cash=transaction.is_cash,
    )
    document = await _existing_document(deps, provider, transaction, request.lang)
    if document is None:
        # Safe to retry: the sanity_string makes iCount give back the first document.
        document = await with_retries(lambda: provider.issue_document(request), deps.retry_delay)
    now = deps.clock()
    async with deps.uow() as uow:
        await uow.orders.get(order.id, for_update=True)
        added = await uow.billing.add_invoice(
            vendor.id, transaction.id, consts.NAME, document.doctype, document.docnum, document.url,
            transaction.amount, now,
        )  # fmt: skip
        if added and document.url:
            issued = Document(document.doctype, document.docnum, document.url)
            await uow.outbox.add(invoice_message(vendor, customer, order, transaction, issued), now)
        await uow.commit()
    log.info("invoice %s %s for transaction %s", document.doctype, document.docnum, transaction.id)
    return added


async def _existing_document(
    deps: PaymentDeps, provider: IcountProvider, transaction: PaymentTransaction, lang: str
) -> IssuedDocument | None:
    """The document iCount already has for this payment: the pay page's own (when it is set to issue
    one, the IPN and ``cc/transactions`` name it), or ours made before a crash. Never a second one."""
    reference = transaction.provider_reference or ""
    if ":" in reference:
        doctype, _, docnum = reference.partition(":")
    else:
        if not reference:
            return None
        paid_on = (transaction.paid_at or deps.clock()).date()
        currency = transaction.amount.currency
        found = await with_retries(
            lambda: provider.find_card_payment(reference, paid_on, currency=currency), deps.retry_delay
        )
        if found is None or not found.doctype or not found.docnum:
            return None
        doctype, docnum = found.doctype, found.docnum
    url = await with_retries(lambda: provider.document_url(doctype, docnum, lang), deps.retry_delay)
    return IssuedDocument(doctype, docnum, url)


@dataclass
class InvoiceBackoff:
    """Payments whose document could not be made wait longer after each failure (1, 2, 4 ... minutes,
    up to 6 hours), so a few that keep failing neither hold up the others' invoices nor use up the
    30 iCount calls a minute. Kept by the running process: a restart tries them all again once."""

    waits: dict[uuid.UUID, tuple[int, datetime]] = field(default_factory=dict)

    def resting(self, now: datetime) -> list[uuid.UUID]:
        return [transaction_id for transaction_id, (_, until) in self.waits.items() if until > now]

    def failed(self, transaction_id: uuid.UUID, now: datetime) -> None:
        failures = self.waits.get(transaction_id, (0, now))[0] + 1
        self.waits[transaction_id] = (
            failures,
            now + min(MAX_BACKOFF, timedelta(minutes=2 ** (failures - 1))),
        )

    def done(self, transaction_id: uuid.UUID) -> None:
        self.waits.pop(transaction_id, None)


async def issue_invoices(deps: PaymentDeps, limit: int = BATCH, backoff: InvoiceBackoff | None = None) -> int:
    """The recovery pass: issues the documents of paid iCount transactions that have none yet."""
    backoff = backoff if backoff is not None else InvoiceBackoff()
    now = deps.clock()
    async with deps.uow() as uow:
        waiting = await uow.billing.uninvoiced_payments(consts.NAME, limit, besides=backoff.resting(now))
    issued = 0
    for transaction_id in waiting:
        try:
            issued += await issue_invoice(deps, transaction_id)
        except (ProviderError, DomainError, ValueError) as error:
            backoff.failed(transaction_id, now)
            log.warning("invoice for %s not issued yet: %s", transaction_id, error)
        else:
            backoff.done(transaction_id)
    return issued
