"""Saved cards (``card_tokens``): kept with the customer's consent, forgotten on their word."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.card_token import CardToken, ConsentSource
from bot.store.tables import card_tokens


def _card(row: Row[Any]) -> CardToken:
    m = row._mapping
    return CardToken(
        id=m["id"],
        vendor_id=m["vendor_id"],
        customer_id=m["customer_id"],
        provider=m["provider"],
        token=m["token"],
        consent_at=m["consent_at"],
        consent_source=ConsentSource(m["consent_source"]),
        created_at=m["created_at"],
        brand=m["brand"],
        last4=m["last4"],
        exp_month=m["exp_month"],
        exp_year=m["exp_year"],
        provider_customer_id=m["provider_customer_id"],
        forgotten_at=m["forgotten_at"],
        deleted_at_provider=m["deleted_at_provider"],
    )


class CardRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def by_token(self, vendor_id: uuid.UUID, provider: str, token: str) -> CardToken | None:
        query = select(card_tokens).where(
            card_tokens.c.vendor_id == vendor_id,
            card_tokens.c.provider == provider,
            card_tokens.c.token == token,
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _card(row)

    async def keep(self, card: CardToken) -> CardToken:
        """Stores the card once: the same token told again (a repeated event) gives the row already kept,
        even a forgotten one, which stays forgotten."""
        existing = await self.by_token(card.vendor_id, card.provider, card.token)
        if existing is not None:
            return existing
        await self._conn.execute(
            insert(card_tokens).values(
                id=card.id, vendor_id=card.vendor_id, customer_id=card.customer_id, provider=card.provider,
                token=card.token, provider_customer_id=card.provider_customer_id, brand=card.brand,
                last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year,
                consent_at=card.consent_at, consent_source=card.consent_source.value,
                created_at=card.created_at,
            )
        )  # fmt: skip
        return card

    async def get(self, card_id: uuid.UUID) -> CardToken | None:
        row = (await self._conn.execute(select(card_tokens).where(card_tokens.c.id == card_id))).first()
        return None if row is None else _card(row)

    async def usable_for(self, vendor_id: uuid.UUID, customer_id: uuid.UUID) -> list[CardToken]:
        """The customer's cards that may be charged, the newest first."""
        query = (
            select(card_tokens)
            .where(
                card_tokens.c.vendor_id == vendor_id,
                card_tokens.c.customer_id == customer_id,
                card_tokens.c.forgotten_at.is_(None),
                card_tokens.c.consent_source != ConsentSource.GUARANTEE.value,
            )
            .order_by(card_tokens.c.created_at.desc(), card_tokens.c.id)
        )
        return [_card(row) for row in await self._conn.execute(query)]

    async def forget(self, card_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            update(card_tokens)
            .where(card_tokens.c.id == card_id, card_tokens.c.forgotten_at.is_(None))
            .values(forgotten_at=now)
        )

    async def deleted_at_provider(self, card_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            update(card_tokens).where(card_tokens.c.id == card_id).values(deleted_at_provider=now)
        )

    async def to_delete_at_provider(self, limit: int = 100) -> list[CardToken]:
        """Forgotten cards the provider still keeps (its delete failed or has not run yet)."""
        query = (
            select(card_tokens)
            .where(card_tokens.c.forgotten_at.is_not(None), card_tokens.c.deleted_at_provider.is_(None))
            .order_by(card_tokens.c.forgotten_at)
            .limit(limit)
        )
        return [_card(row) for row in await self._conn.execute(query)]
