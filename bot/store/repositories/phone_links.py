"""One-time links a vendor opens to type a card the customer reads out on the phone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import phone_links


@dataclass(frozen=True, slots=True)
class PhoneLink:
    id: uuid.UUID
    vendor_id: uuid.UUID
    transaction_id: uuid.UUID
    save_card: bool
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


def _link(row: Row[Any]) -> PhoneLink:
    return PhoneLink(
        row.id, row.vendor_id, row.transaction_id, row.save_card, row.created_at, row.expires_at, row.used_at
    )


class PhoneLinkRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, link: PhoneLink, token_hash: str) -> None:
        await self._conn.execute(
            insert(phone_links).values(
                id=link.id, vendor_id=link.vendor_id, transaction_id=link.transaction_id,
                token_hash=token_hash, save_card=link.save_card, created_at=link.created_at,
                expires_at=link.expires_at, used_at=link.used_at,
            )
        )  # fmt: skip

    async def by_hash(self, token_hash: str) -> PhoneLink | None:
        row = (
            await self._conn.execute(select(phone_links).where(phone_links.c.token_hash == token_hash))
        ).first()
        if row is None:
            return None
        return PhoneLink(
            row.id,
            row.vendor_id,
            row.transaction_id,
            row.save_card,
            row.created_at,
            row.expires_at,
            row.used_at,
        )

    async def for_transaction(self, transaction_id: uuid.UUID) -> PhoneLink | None:
        query = select(phone_links).where(phone_links.c.transaction_id == transaction_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _link(row)

    async def use(self, link_id: uuid.UUID, now: datetime) -> bool:
        """Marks the link used, once: False when it was used already or has expired (two taps race to
        this one statement, and only one wins)."""
        result = await self._conn.execute(
            update(phone_links)
            .where(
                phone_links.c.id == link_id, phone_links.c.used_at.is_(None), phone_links.c.expires_at > now
            )
            .values(used_at=now)
        )
        return int(result.rowcount) == 1
