"""Sandbox payment events: what the sandbox checkout page sends through the inbox, like a webhook."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain.money import Money
from bot.payments.port import PaymentEvent, PaymentEventKind, SavedCard
from bot.payments.sandbox.consts import NAME


def make_event(
    kind: PaymentEventKind,
    link_id: str,
    transaction_id: uuid.UUID,
    amount: Money,
    reference: str,
    at: datetime,
    saved_card: SavedCard | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"sbx_evt_{uuid.uuid4().hex}",
        "type": f"sandbox.payment.{kind.value}",
        "kind": kind.value,
        "link_id": link_id,
        "transaction_id": str(transaction_id),
        "amount": f"{amount.amount:f}",
        "currency": amount.currency,
        "reference": reference,
        "created": at.isoformat(),
    }
    if saved_card is not None:
        event["card"] = {
            "token": saved_card.token, "brand": saved_card.brand, "last4": saved_card.last4,
            "exp_month": saved_card.exp_month, "exp_year": saved_card.exp_year,
        }  # fmt: skip
    return event


def _card(data: Any) -> SavedCard | None:
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        return None
    month, year = data.get("exp_month"), data.get("exp_year")
    return SavedCard(
        token=data["token"],
        brand=data.get("brand") if isinstance(data.get("brand"), str) else None,
        last4=data.get("last4") if isinstance(data.get("last4"), str) else None,
        exp_month=month if isinstance(month, int) else None,
        exp_year=year if isinstance(year, int) else None,
    )


def payment_events(payload: str) -> list[PaymentEvent]:
    data = json.loads(payload)
    amount = Money(Decimal(data["amount"]), data["currency"])
    return [
        PaymentEvent(
            provider=NAME,
            event_id=data["id"],
            kind=PaymentEventKind(data["kind"]),
            occurred_at=datetime.fromisoformat(data["created"]),
            transaction_id=uuid.UUID(data["transaction_id"]),
            provider_link_id=data["link_id"],
            reference=data["reference"],
            amount=amount,
            method="card",
            refunded_amount=amount if data["kind"] == PaymentEventKind.REFUNDED.value else None,
            saved_card=_card(data.get("card")),
        )
    ]
