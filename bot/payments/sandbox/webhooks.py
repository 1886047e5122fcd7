"""Sandbox payment events: what the sandbox checkout page sends through the inbox, like a webhook."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain.money import Money
from bot.payments.port import PaymentEvent, PaymentEventKind
from bot.payments.sandbox.consts import NAME


def make_event(
    kind: PaymentEventKind,
    link_id: str,
    transaction_id: uuid.UUID,
    amount: Money,
    reference: str,
    at: datetime,
) -> dict[str, Any]:
    return {
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
        )
    ]
