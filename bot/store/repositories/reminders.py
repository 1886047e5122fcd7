from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, cast, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.reminders import ReminderStatus
from bot.store.tables import outbox_messages, reminders


@dataclass(frozen=True, slots=True)
class ReminderRow:
    id: int
    vendor_id: uuid.UUID
    transaction_id: uuid.UUID
    sequence: int
    due_at: datetime
    status: ReminderStatus
    sent_at: datetime | None
    # The outbox status of the message a sent reminder became (sent, delivered, read, failed, ...).
    delivery: str | None = None


def reminder_message_key(reminder_id: int) -> str:
    """The outbox dedupe key of a reminder's message: queued once, and how its delivery is found."""
    return f"payment_reminder:{reminder_id}"


_MESSAGE_KEY = literal(reminder_message_key(0)[:-1], Text()) + cast(reminders.c.id, Text())


class ReminderRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def cancel_pending(self, transaction_id: uuid.UUID, now: datetime) -> int:
        result = await self._conn.execute(
            update(reminders)
            .where(
                reminders.c.transaction_id == transaction_id,
                reminders.c.status == ReminderStatus.PENDING.value,
            )
            .values(status=ReminderStatus.CANCELLED.value, updated_at=now)
        )
        return int(result.rowcount)

    async def plan(
        self,
        vendor_id: uuid.UUID,
        transaction_id: uuid.UUID,
        due: Sequence[datetime],
        now: datetime,
        first_sequence: int = 1,
        status: ReminderStatus = ReminderStatus.PENDING,
    ) -> None:
        if not due:
            return
        await self._conn.execute(
            insert(reminders),
            [
                {
                    "vendor_id": vendor_id,
                    "transaction_id": transaction_id,
                    "sequence": first_sequence + index,
                    "due_at": at,
                    "status": status.value,
                    "sent_at": at if status is ReminderStatus.SENT else None,
                    "created_at": now,
                    "updated_at": now,
                }
                for index, at in enumerate(due)
            ],
        )

    async def record_sent(
        self, vendor_id: uuid.UUID, transaction_id: uuid.UUID, sequence: int, now: datetime
    ) -> int:
        """A reminder sent by hand (``rappel 12``), kept in the history; returns its id."""
        query = (
            insert(reminders)
            .values(
                vendor_id=vendor_id,
                transaction_id=transaction_id,
                sequence=sequence,
                due_at=now,
                status=ReminderStatus.SENT.value,
                sent_at=now,
                created_at=now,
                updated_at=now,
            )
            .returning(reminders.c.id)
        )
        return int((await self._conn.execute(query)).scalar_one())

    async def history(self, transaction_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ReminderRow]]:
        """Each request's reminders in order, with the delivery status of those sent."""
        if not transaction_ids:
            return {}
        query = (
            select(reminders, outbox_messages.c.status.label("delivery"))
            .outerjoin(outbox_messages, outbox_messages.c.dedupe_key == _MESSAGE_KEY)
            .where(reminders.c.transaction_id.in_(transaction_ids))
            .order_by(reminders.c.transaction_id, reminders.c.sequence)
        )
        found: dict[uuid.UUID, list[ReminderRow]] = defaultdict(list)
        for row in await self._conn.execute(query):
            reminder = _reminder(row)
            found[reminder.transaction_id].append(reminder)
        return dict(found)

    async def claim_due(self, now: datetime, limit: int) -> list[ReminderRow]:
        """Due reminders, locked for this sweep (SKIP LOCKED: another sweep takes the others)."""
        query = (
            select(reminders)
            .where(reminders.c.status == ReminderStatus.PENDING.value, reminders.c.due_at <= now)
            # The (status, due_at) index gives this order: the oldest first without sorting every due row.
            .order_by(reminders.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_reminder(row) for row in await self._conn.execute(query)]

    async def next_pending(self) -> ReminderRow | None:
        """The pending reminder due first, read only (the sandbox's clock tells when it will come)."""
        query = (
            select(reminders)
            .where(reminders.c.status == ReminderStatus.PENDING.value)
            .order_by(reminders.c.due_at)
            .limit(1)
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _reminder(row)

    async def for_transaction(self, transaction_id: uuid.UUID) -> list[ReminderRow]:
        query = (
            select(reminders)
            .where(reminders.c.transaction_id == transaction_id)
            .order_by(reminders.c.sequence)
        )
        return [_reminder(row) for row in await self._conn.execute(query)]

    async def set_status_many(self, ids: list[int], status: ReminderStatus, now: datetime) -> None:
        if not ids:
            return
        values: dict[str, object] = {"status": status.value, "updated_at": now}
        if status is ReminderStatus.SENT:
            values["sent_at"] = now
        await self._conn.execute(update(reminders).where(reminders.c.id.in_(ids)).values(**values))

    async def pending_counts(
        self, transaction_ids: list[uuid.UUID], besides: list[int]
    ) -> dict[uuid.UUID, int]:
        """How many pending reminders each request has, not counting ``besides``."""
        if not transaction_ids:
            return {}
        query = (
            select(reminders.c.transaction_id, func.count())
            .where(
                reminders.c.transaction_id.in_(transaction_ids),
                reminders.c.status == ReminderStatus.PENDING.value,
                reminders.c.id.not_in(besides),
            )
            .group_by(reminders.c.transaction_id)
        )
        return {row[0]: int(row[1]) for row in await self._conn.execute(query)}

    async def postpone(self, reminder_id: int, due_at: datetime, now: datetime) -> None:
        await self._conn.execute(
            update(reminders).where(reminders.c.id == reminder_id).values(due_at=due_at, updated_at=now)
        )


def _reminder(row: object) -> ReminderRow:
    m = row._mapping  # type: ignore[attr-defined]
    return ReminderRow(
        m["id"],
        m["vendor_id"],
        m["transaction_id"],
        m["sequence"],
        m["due_at"],
        ReminderStatus(m["status"]),
        m["sent_at"],
        m.get("delivery"),
    )
