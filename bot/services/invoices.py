"""Invoices: one document per payment (card, or cash taken at the register) at a provider that makes
them (the ``Invoicing`` capability: iCount), its link sent to the customer on WhatsApp. Stripe's own
invoices arrive by webhook (``settlement.record_invoice``).

Durable without a queue of its own: a paid transaction without an ``invoices`` row is work to do, found
again by the invoice pass after a crash. The provider returns the document it already has for the
payment, or makes one that asking again gives back (iCount's ``sanity_string``), so a retry after a
timeout never makes a second one. The ``invoices`` row (unique per transaction) and the customer's
message are written in one database transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.domain.customer import Customer
from bot.domain.errors import DomainError
from bot.domain.order import Order
from bot.domain.outgoing import OutgoingMessage
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.payments.port import Document, InvoiceOrder, Invoicing, PaidPayment, ProviderError
from bot.rendering import render_for
from bot.services import email_receipts
from bot.services.context import PaymentDeps
from bot.services.messages import customer_locale
from bot.services.order_lines import provider_lines
from bot.services.providers import ensure_provider_client, provider_of
from bot.store.repositories.invoices import InvoiceStatus
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)
BATCH = 50
MAX_BACKOFF = timedelta(hours=6)


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
    channel, address = customer.reach()
    return OutgoingMessage(
        vendor_id=vendor.id,
        to_phone=address,
        channel=channel,
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


async def paid_payment(uow: UnitOfWork, transaction: PaymentTransaction, today: date) -> PaidPayment:
    """A payment as its provider needs it, with its invoice when one stands."""
    invoice = await uow.invoices.invoice_for(transaction.id)
    document = None
    if invoice is not None and invoice.status is InvoiceStatus.ISSUED:
        document = Document(invoice.doctype, invoice.docnum, invoice.url)
    return PaidPayment(
        transaction_id=transaction.id,
        vendor_id=transaction.vendor_id,
        reference=transaction.provider_reference,
        amount=transaction.amount,
        paid_on=(transaction.paid_at.date() if transaction.paid_at else today),
        refunded=transaction.refunded_total,
        invoice=document,
        cash=transaction.is_cash,
    )


async def issue_invoice(deps: PaymentDeps, transaction_id: uuid.UUID) -> bool:
    """Issues the document of one payment at a provider that makes them; True when it was issued now
    (False: it had one, or its provider makes none)."""
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None or not transaction.received:
            return False
        if await uow.invoices.invoice_for(transaction_id) is not None:
            return False
        vendor = await uow.vendors.get(transaction.vendor_id)
        order = await uow.orders.get(transaction.commande_id)
        provider = await provider_of(deps, uow, transaction.vendor_id)
        payment = await paid_payment(uow, transaction, deps.clock().date())
        # A payment of the whole price of an order made of products: the document carries its items.
        lines = () if order is None else await provider_lines(uow, order, transaction.amount)
    if vendor is None or order is None or provider is None or provider.name != transaction.provider:
        return False
    if not isinstance(provider, Invoicing):
        return False
    client_id = await ensure_provider_client(deps, provider, order.customer_id)
    async with deps.uow() as uow:
        customer = await uow.customers.get(order.customer_id)
    if customer is None:  # pragma: no cover - a foreign key guarantees it
        return False
    invoice = InvoiceOrder(
        payment=payment,
        doctype=vendor.payment.invoice_doctype.value,
        client_id=client_id,
        client_name=customer.name or customer.contact,
        description=transaction.label,
        lang="he" if customer_locale(vendor, customer) == "he" else "en",
        lines=lines,
    )
    # The provider retries what is safe to ask again (it gives back the document made the first time).
    document = await provider.issue_invoice(invoice)
    now = deps.clock()
    async with deps.uow() as uow:
        await uow.orders.get(order.id, for_update=True)
        added = await uow.invoices.add_invoice(
            vendor.id, transaction.id, provider.name, document.doctype, document.number, document.url,
            transaction.amount, now,
        )  # fmt: skip
        if added and document.url:
            await uow.outbox.add(invoice_message(vendor, customer, order, transaction, document), now)
            await email_receipts.queue_invoice(uow, vendor, customer, order, transaction, document, now)
        await uow.commit()
    log.info("invoice %s %s for transaction %s", document.doctype, document.number, transaction.id)
    return added


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
    """The invoice pass: issues the documents of payments, at providers that make them, that have none
    yet (a crash, or the provider unreachable when they were paid)."""
    backoff = backoff if backoff is not None else InvoiceBackoff()
    now = deps.clock()
    async with deps.uow() as uow:
        waiting = await uow.invoices.uninvoiced_payments(
            deps.providers.names_with(Invoicing), limit, besides=backoff.resting(now)
        )
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
