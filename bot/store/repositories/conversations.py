from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, select
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
    """One row per pending step (flow and subject, the order it is about) of an admin. A write never
    touches another step's row; taking a step is one delete of its newest version (on Postgres, under the
    row's lock), so two processes never both take it and never lose one of two steps."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    def _admin(self, vendor_id: uuid.UUID, phone: str) -> ColumnElement[bool]:
        return and_(conversations.c.vendor_id == vendor_id, conversations.c.phone == phone)

    async def current(self, vendor_id: uuid.UUID, phone: str, now: datetime) -> Conversation | None:
        """The admin's newest step still open."""
        query = (
            select(conversations)
            .where(self._admin(vendor_id, phone), conversations.c.expires_at > now)
            .order_by(conversations.c.version.desc(), conversations.c.updated_at.desc())
            .limit(1)
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else Conversation(row.flow, dict(row.state), row.expires_at)

    async def start(
        self,
        vendor_id: uuid.UUID,
        phone: str,
        flow: str,
        state: dict[str, Any],
        expires_at: datetime,
        now: datetime,
        subject: str = "",
    ) -> None:
        """Records the step ``flow`` on ``subject``, replacing only an earlier one of that same step; it
        becomes the admin's newest."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        newest = (
            select(func.coalesce(func.max(conversations.c.version), 0) + 1)
            .where(self._admin(vendor_id, phone))
            .scalar_subquery()
        )
        version = (await self._conn.execute(select(newest))).scalar_one()
        statement = dialect.insert(conversations).values(
            id=uuid.uuid4(),
            vendor_id=vendor_id,
            phone=phone,
            flow=flow,
            subject=subject,
            state=state,
            expires_at=expires_at,
            version=version,
            created_at=now,
            updated_at=now,
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=["vendor_id", "phone", "flow", "subject"],
                set_={"state": state, "expires_at": expires_at, "version": version, "updated_at": now},
            )
        )

    async def take(
        self, vendor_id: uuid.UUID, phone: str, flow: str, now: datetime, subject: str | None = None
    ) -> Conversation | None:
        """Removes and returns the step ``flow`` on ``subject`` (None: the newest of that flow) if it is
        still open: a step is taken once."""
        newest = select(conversations.c.id).where(self._admin(vendor_id, phone), conversations.c.flow == flow)
        if subject is not None:
            newest = newest.where(conversations.c.subject == subject)
        newest = newest.order_by(conversations.c.version.desc()).limit(1).with_for_update()
        # One statement: the newest such step, under its lock, removed only while still open (an expired
        # newest step is not made up for by an older one).
        taken = await self._conn.execute(
            delete(conversations)
            .where(conversations.c.id == newest.scalar_subquery(), conversations.c.expires_at > now)
            .returning(conversations.c.flow, conversations.c.state, conversations.c.expires_at)
        )
        row = taken.first()
        return None if row is None else Conversation(row.flow, dict(row.state), row.expires_at)

    async def clear(self, vendor_id: uuid.UUID, phone: str, subject: str | None = None) -> None:
        """The admin's steps (only those on ``subject`` when given) are dropped."""
        condition = self._admin(vendor_id, phone)
        if subject is not None:
            condition = and_(condition, conversations.c.subject == subject)
        await self._conn.execute(delete(conversations).where(condition))
