"""Customers' emails: the payment confirmation, with its invoice link, queued in the email outbox in the
transaction that records the payment (or attaches its invoice).

One email per payment is what a customer expects: "paid, here is your invoice". So a payment at a
provider that makes invoices (iCount, Stripe) is confirmed only once its invoice is attached, or after
``invoice_wait`` without it (the provider slow or down); the invoice, when it comes, goes into the
confirmation still waiting. Only an invoice that arrives after the confirmation went makes a second
email, with its link. Each kind is queued once per payment (unique on kind and transaction).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.customer import Customer, checked_email
from bot.domain.deposit import Ledger
from bot.domain.email import EmailKind, EmailStatus, OutgoingEmail, expects_invoice
from bot.domain.errors import InvalidEmail
from bot.domain.money import shown
from bot.domain.order import Order
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.payments.port import Document
from bot.rendering import render, render_html
from bot.services.messages import customer_locale
from bot.store.repositories.invoices import InvoiceStatus
from bot.store.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
_BLANK_LINES = re.compile(r"\n{3,}")


def render_email(kind: EmailKind, locale: str, facts: dict[str, Any]) -> tuple[str, str, str]:
    """The subject (one line), the text body and the HTML body of an email from its facts."""
    context = dict(facts)
    doctype = context.get("doctype")
    context["document"] = render("email/document_name", locale, doctype=doctype) if doctype else ""
    subject = " ".join(render(f"email/{kind.value}_subject", locale, **context).split())
    text = _BLANK_LINES.sub("\n\n", render(f"email/{kind.value}.txt", locale, **context)) + "\n"
    html = render_html(f"email/{kind.value}", locale, **context)
    return subject, text, html


def _facts(
    vendor: Vendor, customer: Customer, order: Order, transaction: PaymentTransaction, locale: str
) -> dict[str, Any]:
    return {
        "customer_name": customer.name,
        "vendor_name": vendor.name,
        "order": order.reference,
        "label": order.label,
        "amount": shown(transaction.amount, locale),
        # The amount as stored (Decimal as text) and its currency, for whoever reads the row.
        "paid": str(transaction.amount.amount),
        "currency": transaction.amount.currency,
        "invoice_url": None,
        "invoice_number": None,
        "doctype": None,
    }


def _with_invoice(facts: dict[str, Any], document: Document) -> dict[str, Any]:
    return {
        **facts,
        "invoice_url": document.url,
        "invoice_number": document.number,
        "doctype": document.doctype,
    }


def _email(
    kind: EmailKind, vendor: Vendor, customer: Customer, transaction: PaymentTransaction, locale: str,
    facts: dict[str, Any],
) -> OutgoingEmail:  # fmt: skip
    subject, text, html = render_email(kind, locale, facts)
    return OutgoingEmail(
        vendor_id=vendor.id, customer_id=customer.id, transaction_id=transaction.id, kind=kind,
        to_address=customer.email or "", locale=locale, from_name=vendor.name, subject=subject,
        text_body=text, html_body=html, facts=facts,
    )  # fmt: skip


async def _issued_invoice(uow: UnitOfWork, transaction: PaymentTransaction) -> Document | None:
    invoice = await uow.invoices.invoice_for(transaction.id)
    if invoice is None or invoice.status is not InvoiceStatus.ISSUED or not invoice.url:
        return None
    return Document(invoice.doctype, invoice.docnum, invoice.url)


async def queue_receipt(
    uow: UnitOfWork, vendor: Vendor, customer: Customer, order: Order, transaction: PaymentTransaction,
    ledger: Ledger, now: datetime,
) -> bool:  # fmt: skip
    """Queues the payment's confirmation for a customer with an email, when email is on; it waits for
    the invoice at a provider that makes one. False when nothing was queued (off, no address, or queued
    before)."""
    settings = uow.emails.settings
    if settings is None or not customer.email:
        return False
    locale = customer_locale(vendor, customer)
    facts = _facts(vendor, customer, order, transaction, locale)
    facts["balance"] = shown(ledger.balance, locale)
    facts["balance_due"] = not ledger.balance.is_zero()
    document = await _issued_invoice(uow, transaction)
    due = now
    if document is not None:
        facts = _with_invoice(facts, document)
    elif expects_invoice(transaction.provider):
        due = now + settings.invoice_wait
    email = _email(EmailKind.PAYMENT_RECEIPT, vendor, customer, transaction, locale, facts)
    return await uow.emails.add(email, due, now)


async def queue_invoice(
    uow: UnitOfWork, vendor: Vendor, customer: Customer, order: Order, transaction: PaymentTransaction,
    document: Document, now: datetime,
) -> bool:  # fmt: skip
    """In the transaction that stores the payment's invoice: the confirmation still waiting gets its link
    and goes now; one already sent (or never queued) is followed by one email with the link."""
    if uow.emails.settings is None or not customer.email or not document.url:
        return False
    receipt = await uow.emails.find(EmailKind.PAYMENT_RECEIPT, transaction.id)
    if receipt is not None and receipt.status is EmailStatus.PENDING:
        facts = _with_invoice(dict(receipt.payload.get("facts", {})), document)
        completed = _email(EmailKind.PAYMENT_RECEIPT, vendor, customer, transaction, receipt.locale, facts)
        if await uow.emails.replace_pending(receipt.id, completed, now, now):
            return True
    locale = customer_locale(vendor, customer)
    facts = _with_invoice(_facts(vendor, customer, order, transaction, locale), document)
    email = _email(EmailKind.INVOICE_ISSUED, vendor, customer, transaction, locale, facts)
    return await uow.emails.add(email, now, now)


async def adopt_email(uow: UnitOfWork, customer: Customer, given: str | None, now: datetime) -> Customer:
    """The address a customer typed on the provider's page (an iCount IPN), kept when they have none and
    it is an address; the customer as they are now."""
    if not given or customer.email:
        return customer
    try:
        email = checked_email(given)
    except InvalidEmail:
        log.info("customer %s gave an address that is not one; not kept", customer.id)
        return customer
    if email is None or not await uow.customers.adopt_email(customer.id, email, now):
        return customer
    return dataclasses.replace(customer, email=email)


class GivenEmail(StrEnum):
    """What an address typed on the page after paying did."""

    QUEUED = "queued"  # kept; the payment's confirmation goes to it (or will, once the payment is in)
    ALREADY = "already"  # the customer has an address already: it is not replaced from a page
    UNAVAILABLE = "unavailable"  # email is off, or no such payment, or a guarantee (nothing is paid)


async def receipt_to_given_email(
    uow_factory: UnitOfWorkFactory, transaction_id: uuid.UUID, typed: str, now: datetime
) -> GivenEmail:
    """The customer gave an address on the page they land on after paying: kept when they have none
    (the vendor's or an earlier one is never replaced by whoever holds the page's link), and the
    payment's confirmation is queued to it: once per payment, whatever the repeats. ``InvalidEmail``
    when it is not an address."""
    email = checked_email(typed)
    if email is None:
        raise InvalidEmail(email="")
    async with uow_factory() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if uow.emails.settings is None or transaction is None or transaction.is_guarantee:
            return GivenEmail.UNAVAILABLE
        order = await uow.orders.get(transaction.commande_id)
        vendor = await uow.vendors.get(transaction.vendor_id)
        customer = None if order is None else await uow.customers.get(order.customer_id)
        if order is None or vendor is None or customer is None:  # pragma: no cover - foreign keys
            return GivenEmail.UNAVAILABLE
        if customer.email or not await uow.customers.adopt_email(customer.id, email, now):
            return GivenEmail.ALREADY
        customer = dataclasses.replace(customer, email=email)
        if transaction.received:
            # Paid before the address came: the confirmation that could not be queued then.
            ledger = Ledger.of(order.require_price(), await uow.transactions.for_order(order.id))
            await queue_receipt(uow, vendor, customer, order, transaction, ledger, now)
        await uow.commit()
    return GivenEmail.QUEUED
