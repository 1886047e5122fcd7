from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import reminders


class ReminderRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def cancel_pending(self, transaction_id: uuid.UUID, now: datetime) -> int:
        result = await self._conn.execute(
            update(reminders)
            .where(reminders.c.transaction_id == transaction_id, reminders.c.status == "pending")
            .values(status="cancelled", updated_at=now)
        )
        return int(result.rowcount)
