from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import outbox_messages


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One WhatsApp message to send: its text and, for outside the 24-hour window, the parameters of
    the vendor's approved template for this ``kind``."""

    vendor_id: uuid.UUID
    to_phone: str
    kind: str
    locale: str
    text: str
    template_params: tuple[str, ...] = ()
    customer_id: uuid.UUID | None = None
    transaction_id: uuid.UUID | None = None
    dedupe_key: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "template_params": list(self.template_params)}
        if self.buttons:
            body["buttons"] = [{"id": button_id, "title": title} for button_id, title in self.buttons]
        return body


class OutboxRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, message: OutgoingMessage, now: datetime) -> bool:
        """Queues the message; False when its dedupe key was queued before (nothing is added)."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(outbox_messages).values(
            vendor_id=message.vendor_id,
            customer_id=message.customer_id,
            to_phone=message.to_phone,
            kind=message.kind,
            locale=message.locale,
            payload=message.payload(),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            transaction_id=message.transaction_id,
            dedupe_key=message.dedupe_key,
            created_at=now,
            updated_at=now,
        )
        if message.dedupe_key is not None:
            statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
        result = await self._conn.execute(statement)
        return bool(result.rowcount)

    async def for_transaction(self, transaction_id: uuid.UUID) -> list[dict[str, Any]]:
        query = (
            select(outbox_messages)
            .where(outbox_messages.c.transaction_id == transaction_id)
            .order_by(outbox_messages.c.id)
        )
        return [dict(row._mapping) for row in await self._conn.execute(query)]
