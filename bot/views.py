"""How vendors and orders are shown by the CLI: stable JSON for scripts, short lines for people."""

from __future__ import annotations

from typing import Any

from bot.domain.customer import Customer
from bot.domain.refund import Refund
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import describe_settings
from bot.services.orders import OrderView
from bot.services.vendors import VendorSummary
from bot.store.repositories.invoices import InvoiceRecord


def vendor_json(summary: VendorSummary) -> dict[str, Any]:
    return {
        "id": str(summary.vendor.id),
        "admins": [f"+{phone}" for phone in summary.admin_phones],
        "settings": describe_settings(summary.vendor),
        "created_at": summary.vendor.created_at.isoformat(),
    }


def shown_setting(value: object) -> str:
    """A setting as ``vendor set`` takes it: on/off, not Python's True/False."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return "" if value is None else str(value)


def vendor_lines(summary: VendorSummary) -> list[str]:
    lines = [f"id: {summary.vendor.id}"]
    lines.append("admins: " + (", ".join(f"+{p}" for p in summary.admin_phones) or "none"))
    for key, value in describe_settings(summary.vendor).items():
        lines.append(f"{key}: {shown_setting(value)}")
    return lines


def _amount(value: Any) -> str | None:
    return None if value is None else f"{value.amount:f}"


def order_json(view: OrderView) -> dict[str, Any]:
    order, ledger = view.order, view.ledger
    transactions = []
    for t in view.transactions:
        link = view.links.get(t.payment_link_id) if t.payment_link_id else None
        transactions.append(
            {
                "id": str(t.id),
                "type": t.type.value,
                "label": t.label,
                "amount": f"{t.amount.amount:f}",
                "currency": t.amount.currency,
                "status": t.status.value,
                "payment_method": t.payment_method,
                "provider": t.provider,
                "paid_at": None if t.paid_at is None else t.paid_at.isoformat(),
                "created_at": t.created_at.isoformat(),
                "link": None
                if link is None
                else {"url": link.url, "active": link.active, "provider": link.provider},
                "refunded": f"{t.refunded_total.amount:f}",
                "refunds": [_refund_json(r) for r in view.refunds.get(t.id, [])],
                "invoice": _invoice_json(view.invoices.get(t.id)),
            }
        )
    return {
        "id": str(order.id),
        "number": order.number,
        "reference": order.reference,
        "status": order.status.value,
        "label": order.label,
        "currency": order.currency,
        "price": _amount(order.price),
        "paid": None if ledger is None else _amount(ledger.paid),
        "refunded": None if ledger is None else _amount(ledger.refunded),
        "balance": None if ledger is None else _amount(ledger.balance),
        "requestable": None if ledger is None else _amount(ledger.requestable),
        "payment_type": None if order.payment_type is None else order.payment_type.value,
        "customer": customer_json(view.customer),
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
        "lines": [
            {
                "position": line.position,
                "product_id": str(line.product_id),
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": f"{line.unit_price.amount:f}",
                "total": f"{line.total.amount:f}",
                "currency": line.unit_price.currency,
                "vat_included": line.vat_included,
            }
            for line in view.lines
        ],
        "transactions": transactions,
    }


def _payment_name(t: PaymentTransaction) -> str:
    """A payment by how and when it came ("cash 2026-11-21"), a request by its kind and date."""
    if t.is_cash:
        how = "cash"
    elif t.received:
        how = f"{t.payment_method or 'card'} via {t.provider}" if t.provider else (t.payment_method or "paid")
    else:
        how = f"{t.type.value} request"
    when = t.paid_at or t.created_at
    return f"{how} {when:%Y-%m-%d %H:%M} UTC"


def order_lines(view: OrderView) -> list[str]:
    order, ledger = view.order, view.ledger
    lines = [
        f"order {order.reference}  {order.status}  {order.label}".rstrip(),
        f"customer: {view.customer.contact}",
        f"price: {order.price or 'none'}",
        *(
            f"  {line.quantity} x {line.sku}  {line.name}  {line.unit_price} = {line.total}"
            for line in view.lines
        ),
    ]
    if ledger is not None:
        refunded = "" if ledger.refunded.is_zero() else f" (after {ledger.refunded} refunded)"
        lines.append(f"paid: {ledger.paid}{refunded}   balance: {ledger.balance}")
    if order.payment_type is not None:
        lines.append(f"payment type: {order.payment_type}")
    for t in view.transactions:
        link = view.links.get(t.payment_link_id) if t.payment_link_id else None
        where = "" if link is None else f"  {link.url}{'' if link.active else ' (inactive)'}"
        lines.append(f"  {_payment_name(t)}  {t.amount}  {t.status}{where}")
        invoice = view.invoices.get(t.id)
        if invoice is not None:
            url = f"  {invoice.url}" if invoice.url else ""
            lines.append(f"    invoice: {invoice.doctype} {invoice.docnum} ({invoice.status}){url}")
        lines.extend(
            f"    refund: {r.amount} {r.status} ({r.requested_by}, {r.created_at:%Y-%m-%d %H:%M} UTC)"
            for r in view.refunds.get(t.id, [])
        )
    if not view.transactions:
        lines.append("no payment requested yet")
    return lines


def _refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": str(refund.id),
        "amount": f"{refund.amount.amount:f}",
        "currency": refund.amount.currency,
        "status": refund.status.value,
        "provider": refund.provider,
        "provider_reference": refund.provider_reference,
        "requested_by": refund.requested_by,
        "created_at": refund.created_at.isoformat(),
        "failure_reason": refund.failure_reason,
    }


def _invoice_json(invoice: InvoiceRecord | None) -> dict[str, Any] | None:
    if invoice is None:
        return None
    return {
        "number": invoice.docnum,
        "type": invoice.doctype,
        "url": invoice.url,
        "status": invoice.status,
        "provider": invoice.provider,
    }


def customer_json(customer: Customer) -> dict[str, Any]:
    found: dict[str, Any] = {
        "phone": f"+{customer.phone}" if customer.phone else None,
        "name": customer.name,
        # None: the vendor's language.
        "locale": customer.locale,
        "opted_out": customer.opted_out,
    }
    if customer.on_instagram:
        # What ``ig:...`` takes in commands, and their Instagram-scoped id (a WhatsApp customer's stays
        # as it was).
        found.update(
            channel=customer.channel.value, instagram=customer.contact, instagram_id=customer.address
        )
    return found


def customer_line(customer: Customer) -> str:
    locale = customer.locale or "vendor's language"
    stopped = "  reminders stopped (STOP)" if customer.opted_out else ""
    who = customer.contact
    if customer.on_instagram and customer.phone:
        who += f" (+{customer.phone})"
    return f"{who}  {customer.name or '-'}  {locale}{stopped}"
