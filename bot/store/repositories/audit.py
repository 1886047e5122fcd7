"""The audit log of settings changes: who changed which key of a vendor's settings, and when. Keys only:
never a value, so never a secret's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    setting: str
    created_at: datetime


class AuditRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, vendor_id: uuid.UUID, actor: str, settings: Sequence[str], now: datetime) -> None:
        """One row per key changed by ``actor`` (an admin's phone, or "cli")."""
        if not settings:
            return
        await self._conn.execute(
            insert(audit_log),
            [
                {"vendor_id": vendor_id, "actor": actor, "setting": setting, "created_at": now}
                for setting in settings
            ],
        )

    async def latest(self, vendor_id: uuid.UUID, limit: int = 50) -> list[AuditEntry]:
        """The vendor's last changes, the newest first (in the order they were made within one save)."""
        query = (
            select(audit_log.c.actor, audit_log.c.setting, audit_log.c.created_at)
            .where(audit_log.c.vendor_id == vendor_id)
            .order_by(audit_log.c.created_at.desc(), audit_log.c.id.desc())
            .limit(limit)
        )
        return [AuditEntry(row.actor, row.setting, row.created_at) for row in await self._conn.execute(query)]
