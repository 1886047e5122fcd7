from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import conversations


@dataclass(frozen=True, slots=True)
class Conversation:
    """A chat flow waiting for an admin's next step (a typed amount, a confirmation)."""

    flow: str
    state: dict[str, Any]
    expires_at: datetime


class ConversationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def current(self, vendor_id: uuid.UUID, phone: str, now: datetime) -> Conversation | None:
        query = select(conversations).where(
            conversations.c.vendor_id == vendor_id, conversations.c.phone == phone
        )
        row = (await self._conn.execute(query)).first()
        if row is None or row.expires_at <= now:
            return None
        return Conversation(row.flow, dict(row.state), row.expires_at)

    async def start(
        self,
        vendor_id: uuid.UUID,
        phone: str,
        flow: str,
        state: dict[str, Any],
        expires_at: datetime,
        now: datetime,
    ) -> None:
        """Replaces whatever flow this admin had with ``flow``."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(conversations).values(
            id=uuid.uuid4(),
            vendor_id=vendor_id,
            phone=phone,
            flow=flow,
            state=state,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=["vendor_id", "phone"],
                set_={"flow": flow, "state": state, "expires_at": expires_at, "updated_at": now},
            )
        )

    async def take(self, vendor_id: uuid.UUID, phone: str, flow: str, now: datetime) -> Conversation | None:
        """Removes and returns the admin's ``flow`` if it is still current: a step is taken once."""
        found = await self.current(vendor_id, phone, now)
        if found is None or found.flow != flow:
            return None
        result = await self._conn.execute(
            delete(conversations).where(
                conversations.c.vendor_id == vendor_id,
                conversations.c.phone == phone,
                conversations.c.flow == flow,
            )
        )
        return found if result.rowcount else None

    async def clear(self, vendor_id: uuid.UUID, phone: str) -> None:
        await self._conn.execute(
            delete(conversations).where(
                conversations.c.vendor_id == vendor_id, conversations.c.phone == phone
            )
        )
