from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, DateTime, Text, Uuid, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.channel import Channel
from bot.domain.outgoing import OutboxStatus, OutgoingMessage
from bot.store.tables import customers, outbox_messages, vendor_admins

# Later statuses never go back to earlier ones (a late "delivered" after "read" changes nothing).
STATUS_RANK = {
    OutboxStatus.PENDING: 0, OutboxStatus.SENDING: 1, OutboxStatus.SENT: 2, OutboxStatus.DELIVERED: 3,
    OutboxStatus.READ: 4,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    vendor_id: uuid.UUID
    customer_id: uuid.UUID | None
    to_phone: str
    kind: str
    locale: str
    payload: dict[str, Any]
    status: OutboxStatus
    attempts: int
    send_mode: str
    transaction_id: uuid.UUID | None
    wamid: str | None
    last_inbound_at: datetime | None
    channel: Channel = Channel.WHATSAPP
    # For an Instagram message: the customer's last Instagram message (its window) and their phone, if
    # known (where the message goes once that window is closed).
    channel_inbound_at: datetime | None = None
    customer_phone: str | None = None


def _row(row: Any) -> OutboxRow:
    m = row._mapping
    return OutboxRow(
        id=m["id"],
        vendor_id=m["vendor_id"],
        customer_id=m["customer_id"],
        to_phone=m["to_phone"],
        kind=m["kind"],
        locale=m["locale"],
        payload=dict(m["payload"]),
        status=OutboxStatus(m["status"]),
        attempts=m["attempts"],
        send_mode=m["send_mode"],
        transaction_id=m["transaction_id"],
        wamid=m["wamid"],
        last_inbound_at=m.get("last_inbound_at"),
        channel=Channel(m["channel"]),
        channel_inbound_at=m.get("channel_inbound_at"),
        customer_phone=m.get("customer_phone"),
    )


@functools.cache
def _single_insert(dialect_name: str, deduplicated: bool, returning: bool) -> Any:
    """The INSERT of one message, by shape: a dedupe key does nothing on a conflict; RETURNING the row."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement: Any = dialect.insert(outbox_messages)
    if deduplicated:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    return statement.returning(*outbox_messages.c) if returning else statement


_SQLITE_INSERT = sqlite.insert(outbox_messages).on_conflict_do_nothing(index_elements=["dedupe_key"])
# Postgres: one statement whatever the number of messages, each column sent as one array.
_UNNEST_INSERT = text(
    "INSERT INTO outbox_messages (vendor_id, customer_id, to_phone, kind, locale, payload, transaction_id, "
    "dedupe_key, channel, status, attempts, next_attempt_at, created_at, updated_at) "
    "SELECT v, c, p, k, l, j::jsonb, t, d, ch, 'pending', 0, :now, :now, :now "
    "FROM unnest(:vendors, :customers, :phones, :kinds, :locales, :payloads, :transactions, :keys, "
    ":channels) "
    "AS m(v, c, p, k, l, j, t, d, ch) "
    "ON CONFLICT (dedupe_key) DO NOTHING"
).bindparams(
    bindparam("vendors", type_=postgresql.ARRAY(Uuid())),
    bindparam("customers", type_=postgresql.ARRAY(Uuid())),
    bindparam("phones", type_=postgresql.ARRAY(Text())),
    bindparam("kinds", type_=postgresql.ARRAY(Text())),
    bindparam("locales", type_=postgresql.ARRAY(Text())),
    bindparam("payloads", type_=postgresql.ARRAY(Text())),
    bindparam("transactions", type_=postgresql.ARRAY(Uuid())),
    bindparam("keys", type_=postgresql.ARRAY(Text())),
    bindparam("channels", type_=postgresql.ARRAY(Text())),
    bindparam("now", type_=DateTime(timezone=True)),
)


def _columns(messages: list[OutgoingMessage], now: datetime) -> dict[str, Any]:
    return {
        "vendors": [m.vendor_id for m in messages],
        "customers": [m.customer_id for m in messages],
        "phones": [m.to_phone for m in messages],
        "kinds": [m.kind for m in messages],
        "locales": [m.locale for m in messages],
        "payloads": [json.dumps(m.payload(), ensure_ascii=False) for m in messages],
        "transactions": [m.transaction_id for m in messages],
        "keys": [m.dedupe_key for m in messages],
        "channels": [m.channel.value for m in messages],
        "now": now,
    }


_MARK_SENT = (
    update(outbox_messages)
    .where(outbox_messages.c.id == bindparam("message_id"))
    .values(
        status=OutboxStatus.SENT.value,
        wamid=bindparam("sent_wamid"),
        send_mode=bindparam("mode"),
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
        last_error=None,
    )
)


class OutboxRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, message: OutgoingMessage, now: datetime) -> bool:
        """Queues the message; False when its dedupe key was queued before (nothing is added)."""
        result = await self._insert(message, now, OutboxStatus.PENDING, attempts=0, returning=False)
        return bool(result.rowcount)

    async def add_claimed(
        self,
        message: OutgoingMessage,
        now: datetime,
        *,
        last_inbound_at: datetime | None,
        channel_inbound_at: datetime | None = None,
        customer_phone: str | None = None,
    ) -> OutboxRow | None:
        """Queues the message already claimed by the caller's sender (status sending, its first attempt),
        which sends it straight after the commit: no claim and no read of its own. The row as
        ``get_for_sending`` reads it, with the recipient's last inbound times the caller read in this
        transaction; None when its dedupe key was queued before. A sender that stops first leaves it to
        ``release_stale``."""
        found = (await self._insert(message, now, OutboxStatus.SENDING, attempts=1, returning=True)).first()
        if found is None:
            return None
        return replace(
            _row(found),
            last_inbound_at=last_inbound_at,
            channel_inbound_at=channel_inbound_at,
            customer_phone=customer_phone,
        )

    async def _insert(
        self, message: OutgoingMessage, now: datetime, status: OutboxStatus, *, attempts: int, returning: bool
    ) -> CursorResult[Any]:
        """One message's row; its values go as parameters of a statement built once (building an
        INSERT's values costs more than sending it)."""
        row = {
            "vendor_id": message.vendor_id,
            "customer_id": message.customer_id,
            "to_phone": message.to_phone,
            "kind": message.kind,
            "locale": message.locale,
            "payload": message.payload(),
            "status": status.value,
            "attempts": attempts,
            "next_attempt_at": now,
            "transaction_id": message.transaction_id,
            "dedupe_key": message.dedupe_key,
            "channel": message.channel.value,
            "created_at": now,
            "updated_at": now,
        }
        statement = _single_insert(self._conn.dialect.name, message.dedupe_key is not None, returning)
        result: CursorResult[Any] = await self._conn.execute(statement, row)
        return result

    async def add_many(self, messages: list[OutgoingMessage], now: datetime) -> None:
        """Queues several messages in one statement; those whose dedupe key was queued before are skipped."""
        if not messages:
            return
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(_UNNEST_INSERT, _columns(messages, now))
            return
        rows = [
            {
                "vendor_id": m.vendor_id,
                "customer_id": m.customer_id,
                "to_phone": m.to_phone,
                "kind": m.kind,
                "locale": m.locale,
                "payload": m.payload(),
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "transaction_id": m.transaction_id,
                "dedupe_key": m.dedupe_key,
                "channel": m.channel.value,
                "created_at": now,
                "updated_at": now,
            }
            for m in messages
        ]
        # One cached statement run with many parameter sets, not a multi-row VALUES compiled per batch.
        await self._conn.execute(_SQLITE_INSERT, rows)

    async def for_transaction(self, transaction_id: uuid.UUID) -> list[dict[str, Any]]:
        query = (
            select(outbox_messages)
            .where(outbox_messages.c.transaction_id == transaction_id)
            .order_by(outbox_messages.c.id)
        )
        return [dict(row._mapping) for row in await self._conn.execute(query)]

    async def claim_due(self, now: datetime, limit: int) -> list[int]:
        """Marks up to ``limit`` due messages as being sent and returns their ids. On Postgres, rows
        another sender holds are skipped (SKIP LOCKED), so several processes share the outbox."""
        due = (
            select(outbox_messages.c.id)
            .where(
                outbox_messages.c.status == OutboxStatus.PENDING.value,
                outbox_messages.c.next_attempt_at <= now,
            )
            .order_by(outbox_messages.c.next_attempt_at, outbox_messages.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id.in_(due.scalar_subquery()))
            .values(
                status=OutboxStatus.SENDING.value, attempts=outbox_messages.c.attempts + 1, updated_at=now
            )
            .returning(outbox_messages.c.id)
        )
        return sorted(result.scalars())

    async def claim_companions(
        self, row: OutboxRow, kinds: frozenset[str], limit: int, now: datetime
    ) -> list[OutboxRow]:
        """Claims the other queued notes of these ``kinds`` to the same admin, oldest first, whenever they
        are due (they are waiting behind the same pace): a digest carries them. Rows another sender
        holds are skipped."""
        waiting = (
            select(outbox_messages.c.id)
            .where(
                outbox_messages.c.vendor_id == row.vendor_id,
                outbox_messages.c.to_phone == row.to_phone,
                outbox_messages.c.channel == Channel.WHATSAPP.value,
                outbox_messages.c.status == OutboxStatus.PENDING.value,
                outbox_messages.c.kind.in_(sorted(kinds)),
                outbox_messages.c.id != row.id,
            )
            .order_by(outbox_messages.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = await self._conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id.in_(waiting.scalar_subquery()))
            .values(status=OutboxStatus.SENDING.value, updated_at=now)
            .returning(*outbox_messages.c)
        )
        return sorted((_row(found) for found in claimed), key=lambda found: found.id)

    async def claimed_companions(
        self, row: OutboxRow, ids: list[int], kinds: frozenset[str]
    ) -> list[OutboxRow]:
        """Among ``ids`` (claimed by the caller and not sent yet), the notes to the same admin."""
        if not ids:
            return []
        query = (
            select(outbox_messages)
            .where(
                outbox_messages.c.id.in_(ids),
                outbox_messages.c.vendor_id == row.vendor_id,
                outbox_messages.c.to_phone == row.to_phone,
                outbox_messages.c.channel == Channel.WHATSAPP.value,
                outbox_messages.c.status == OutboxStatus.SENDING.value,
                outbox_messages.c.kind.in_(sorted(kinds)),
            )
            .order_by(outbox_messages.c.id)
        )
        return [_row(found) for found in await self._conn.execute(query)]

    async def digest_groups(self, ids: list[int], kinds: frozenset[str]) -> list[list[int]]:
        """Among ``ids``, the notes of these ``kinds`` to one admin, by admin (only groups of two or more)."""
        query = select(outbox_messages.c.id, outbox_messages.c.vendor_id, outbox_messages.c.to_phone).where(
            outbox_messages.c.id.in_(ids),
            outbox_messages.c.kind.in_(sorted(kinds)),
            outbox_messages.c.channel == Channel.WHATSAPP.value,
        )
        groups: dict[tuple[uuid.UUID, str], list[int]] = {}
        for found in await self._conn.execute(query):
            groups.setdefault((found.vendor_id, found.to_phone), []).append(found.id)
        return [sorted(group) for group in groups.values() if len(group) > 1]

    async def mark_coalesced(self, message_ids: list[int], into: int, now: datetime) -> None:
        """These notes went out inside message ``into`` (a digest): sent, with no WhatsApp id of their own."""
        if not message_ids:
            return
        await self._conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id.in_(message_ids))
            .values(
                status=OutboxStatus.SENT.value,
                coalesced_into=into,
                sent_at=now,
                updated_at=now,
                last_error=None,
            )
        )

    async def adopt_send(
        self, message_id: int, joined: list[int], wamid: str, recipient: str | None, now: datetime
    ) -> bool:
        """WhatsApp reports a send of ``message_id`` (with the notes ``joined`` in it) that was never
        recorded: it is recorded now, as the sender would have. Only a row with no WhatsApp id yet that
        is being sent or queued again, to this recipient; True when it was."""
        waiting = (OutboxStatus.SENDING.value, OutboxStatus.PENDING.value)
        to_phone = func.replace(outbox_messages.c.to_phone, "+", "")
        adopted = await self._conn.execute(
            update(outbox_messages)
            .where(
                outbox_messages.c.id == message_id,
                outbox_messages.c.wamid.is_(None),
                outbox_messages.c.status.in_(waiting),
                outbox_messages.c.channel == Channel.WHATSAPP.value,
                *([to_phone == recipient.lstrip("+")] if recipient is not None else []),
            )
            .values(status=OutboxStatus.SENT.value, wamid=wamid, sent_at=now, updated_at=now, last_error=None)
        )
        if not adopted.rowcount:
            return False
        if joined:
            await self._conn.execute(
                update(outbox_messages)
                .where(
                    outbox_messages.c.id.in_(joined),
                    outbox_messages.c.status.in_(waiting),
                    outbox_messages.c.vendor_id
                    == select(outbox_messages.c.vendor_id)
                    .where(outbox_messages.c.id == message_id)
                    .scalar_subquery(),
                )
                .values(
                    status=OutboxStatus.SENT.value,
                    coalesced_into=message_id,
                    sent_at=now,
                    updated_at=now,
                    last_error=None,
                )  # fmt: skip
            )
        return True

    async def unclaim(self, message_ids: list[int], now: datetime) -> None:
        """Claimed for a digest that did not go: queued again as they were (no attempt used)."""
        if not message_ids:
            return
        await self._conn.execute(
            update(outbox_messages)
            .where(
                outbox_messages.c.id.in_(message_ids), outbox_messages.c.status == OutboxStatus.SENDING.value
            )
            .values(status=OutboxStatus.PENDING.value, updated_at=now)
        )

    async def get_for_sending(self, message_id: int) -> OutboxRow | None:
        """The message with the last inbound time of its recipient (customer or admin)."""
        customer_seen = (
            select(customers.c.last_inbound_at)
            .where(customers.c.id == outbox_messages.c.customer_id)
            .scalar_subquery()
        )
        admin_seen = (
            select(func.max(vendor_admins.c.last_inbound_at))
            .where(
                vendor_admins.c.vendor_id == outbox_messages.c.vendor_id,
                vendor_admins.c.phone == outbox_messages.c.to_phone,
            )
            .scalar_subquery()
        )
        channel_seen = (
            select(customers.c.channel_inbound_at)
            .where(customers.c.id == outbox_messages.c.customer_id)
            .scalar_subquery()
        )
        customer_phone = (
            select(customers.c.phone).where(customers.c.id == outbox_messages.c.customer_id).scalar_subquery()
        )
        query = select(
            outbox_messages,
            func.coalesce(customer_seen, admin_seen).label("last_inbound_at"),
            channel_seen.label("channel_inbound_at"),
            customer_phone.label("customer_phone"),
        ).where(outbox_messages.c.id == message_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _row(row)

    async def next_due_at(self) -> datetime | None:
        query = select(func.min(outbox_messages.c.next_attempt_at)).where(
            outbox_messages.c.status == OutboxStatus.PENDING.value
        )
        value: datetime | None = (await self._conn.execute(query)).scalar_one_or_none()
        return value

    async def mark_sent(self, message_id: int, wamid: str, send_mode: str, now: datetime) -> None:
        await self._conn.execute(
            _MARK_SENT, {"message_id": message_id, "sent_wamid": wamid, "mode": send_mode, "now": now}
        )

    async def retry_at(
        self, message_id: int, when: datetime, now: datetime, error: str | None, send_mode: str | None = None
    ) -> None:
        values: dict[str, Any] = {
            "status": OutboxStatus.PENDING.value,
            "next_attempt_at": when,
            "updated_at": now,
            "last_error": error,
        }
        if send_mode is not None:
            values["send_mode"] = send_mode
        await self._conn.execute(
            update(outbox_messages).where(outbox_messages.c.id == message_id).values(**values)
        )

    async def give_back(self, message_id: int, when: datetime, now: datetime) -> None:
        """Returns a claimed message untried (a pacing wait): its attempt is not counted."""
        await self._conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id == message_id)
            .values(
                status=OutboxStatus.PENDING.value,
                next_attempt_at=when,
                updated_at=now,
                attempts=outbox_messages.c.attempts - 1,
            )
        )

    async def move_to_whatsapp(self, message_id: int, phone: str, note: str, now: datetime) -> None:
        """An Instagram message whose window closed goes to the customer's WhatsApp instead, under
        WhatsApp's own rules (its window, the vendor's templates), sent at once without using an attempt."""
        await self._conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id == message_id)
            .values(
                channel=Channel.WHATSAPP.value,
                to_phone=phone,
                status=OutboxStatus.PENDING.value,
                next_attempt_at=now,
                attempts=outbox_messages.c.attempts - 1,
                last_error=note,
                updated_at=now,
            )
        )

    async def mark_failed(self, message_id: int, error: str, now: datetime) -> None:
        await self._conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id == message_id)
            .values(status=OutboxStatus.FAILED.value, last_error=error[:2000], updated_at=now)
        )

    async def by_wamid(self, wamid: str) -> OutboxRow | None:
        row = (
            await self._conn.execute(select(outbox_messages).where(outbox_messages.c.wamid == wamid))
        ).first()
        return None if row is None else _row(row)

    async def counts_by_status(self, statuses: list[OutboxStatus]) -> dict[OutboxStatus, int]:
        query = (
            select(outbox_messages.c.status, func.count())
            .where(outbox_messages.c.status.in_(statuses))
            .group_by(outbox_messages.c.status)
        )
        found = dict.fromkeys(statuses, 0)
        found.update({OutboxStatus(row[0]): int(row[1]) for row in await self._conn.execute(query)})
        return found

    async def release_stale(self, older_than: datetime, now: datetime) -> int:
        """Messages a crashed sender left "sending" go back to the queue: those WhatsApp took are recorded
        from their status by then (``adopt_send``); one whose status is later than ``older_than`` goes
        again (at least once)."""
        result = await self._conn.execute(
            update(outbox_messages)
            .where(
                outbox_messages.c.status == OutboxStatus.SENDING.value,
                outbox_messages.c.updated_at < older_than,
            )
            .values(status=OutboxStatus.PENDING.value, next_attempt_at=now, updated_at=now)
        )
        return int(result.rowcount)

    async def by_wamids(self, wamids: list[str]) -> dict[str, OutboxRow]:
        if not wamids:
            return {}
        rows = await self._conn.execute(select(outbox_messages).where(outbox_messages.c.wamid.in_(wamids)))
        return {row.wamid: _row(row) for row in rows}

    async def advance_many(self, message_ids: list[int], status: OutboxStatus, now: datetime) -> int:
        """Moves these sent messages on to ``status``, never backwards: a late "delivered" after "read"
        changes nothing."""
        if not message_ids:
            return 0
        # Only a message already sent moves on: a row queued again (a 131047 resend as template) or being
        # sent is not overwritten by a late tick of its earlier attempt.
        lower = [
            name.value
            for name, rank in STATUS_RANK.items()
            if STATUS_RANK[OutboxStatus.SENT] <= rank < STATUS_RANK[status]
        ]
        result = await self._conn.execute(
            update(outbox_messages)
            .where(outbox_messages.c.id.in_(message_ids), outbox_messages.c.status.in_(lower))
            .values(status=status.value, updated_at=now)
        )
        return int(result.rowcount)
