"""How vendors and orders are shown by the CLI: stable JSON for scripts, short lines for people."""

from __future__ import annotations

from typing import Any

from bot.domain.vendor import describe_settings
from bot.services.orders import OrderView
from bot.services.vendors import VendorSummary


def vendor_json(summary: VendorSummary) -> dict[str, Any]:
    return {
        "id": str(summary.vendor.id),
        "admins": [f"+{phone}" for phone in summary.admin_phones],
        "settings": describe_settings(summary.vendor),
        "created_at": summary.vendor.created_at.isoformat(),
    }


def vendor_lines(summary: VendorSummary) -> list[str]:
    lines = [f"id: {summary.vendor.id}"]
    lines.append("admins: " + (", ".join(f"+{p}" for p in summary.admin_phones) or "none"))
    for key, value in describe_settings(summary.vendor).items():
        lines.append(f"{key}: {'' if value is None else value}")
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
        "balance": None if ledger is None else _amount(ledger.balance),
        "requestable": None if ledger is None else _amount(ledger.requestable),
        "payment_type": None if order.payment_type is None else order.payment_type.value,
        "customer": {"phone": f"+{view.customer.phone}", "name": view.customer.name},
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
        "transactions": transactions,
    }


def order_lines(view: OrderView) -> list[str]:
    order, ledger = view.order, view.ledger
    lines = [
        f"order {order.reference}  {order.status}  {order.label}".rstrip(),
        f"customer: +{view.customer.phone}",
        f"price: {order.price or 'none'}",
    ]
    if ledger is not None:
        lines.append(f"paid: {ledger.paid}   balance: {ledger.balance}")
    if order.payment_type is not None:
        lines.append(f"payment type: {order.payment_type}")
    for t in view.transactions:
        link = view.links.get(t.payment_link_id) if t.payment_link_id else None
        where = "" if link is None else f"  {link.url}{'' if link.active else ' (inactive)'}"
        lines.append(f"  {t.type:<8} {t.amount}  {t.status}{where}")
    if not view.transactions:
        lines.append("no payment requested yet")
    return lines
