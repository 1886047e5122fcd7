"""The email outbox: customers' emails queued in the transaction that caused them, claimed one at a time
by a sender under a lease, recorded sent, retried or failed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.email import LEASE, EmailKind, EmailSettings, EmailStatus, OutgoingEmail
from bot.store.tables import email_outbox


@dataclass(frozen=True, slots=True)
class EmailRow:
    id: int
    vendor_id: uuid.UUID
    customer_id: uuid.UUID
    transaction_id: uuid.UUID
    kind: EmailKind
    to_address: str
    locale: str
    subject: str
    text_body: str
    html_body: str
    payload: dict[str, Any]
    status: EmailStatus
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    message_id: str | None
    last_error: str | None
    sent_at: datetime | None


def _row(row: Any) -> EmailRow:
    m = row._mapping
    return EmailRow(
        id=m["id"], vendor_id=m["vendor_id"], customer_id=m["customer_id"],
        transaction_id=m["transaction_id"], kind=EmailKind(m["kind"]), to_address=m["to_address"],
        locale=m["locale"], subject=m["subject"], text_body=m["text_body"], html_body=m["html_body"],
        payload=dict(m["payload"]), status=EmailStatus(m["status"]), attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"], lease_until=m["lease_until"], message_id=m["message_id"],
        last_error=m["last_error"], sent_at=m["sent_at"],
    )  # fmt: skip


class EmailOutboxRepository:
    """``settings`` None: email is off (no SMTP_URL), and the payment flows queue nothing."""

    def __init__(self, connection: AsyncConnection, settings: EmailSettings | None) -> None:
        self._conn = connection
        self.settings = settings

    async def add(self, email: OutgoingEmail, due: datetime, now: datetime) -> bool:
        """Queues the email, due at ``due``; False when this kind was queued for the payment before."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(email_outbox)
            .values(
                vendor_id=email.vendor_id,
                customer_id=email.customer_id,
                transaction_id=email.transaction_id,
                kind=email.kind.value,
                to_address=email.to_address,
                locale=email.locale,
                subject=email.subject,
                text_body=email.text_body,
                html_body=email.html_body,
                payload=_payload(email),
                status=EmailStatus.PENDING.value,
                attempts=0,
                next_attempt_at=due,
                created_at=now,
                updated_at=now,
            )  # fmt: skip
            .on_conflict_do_nothing(index_elements=["kind", "transaction_id"])
        )
        result = await self._conn.execute(statement)
        return bool(result.rowcount)

    async def find(self, kind: EmailKind, transaction_id: uuid.UUID) -> EmailRow | None:
        query = select(email_outbox).where(
            email_outbox.c.kind == kind.value, email_outbox.c.transaction_id == transaction_id
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _row(row)

    async def replace_pending(self, row_id: int, email: OutgoingEmail, due: datetime, now: datetime) -> bool:
        """Puts ``email`` in place of a row not claimed yet (its invoice arrived); False when a sender
        has claimed it meanwhile (or it is sent): the row is left as it is."""
        result = await self._conn.execute(
            update(email_outbox)
            .where(email_outbox.c.id == row_id, email_outbox.c.status == EmailStatus.PENDING.value)
            .values(
                subject=email.subject,
                text_body=email.text_body,
                html_body=email.html_body,
                payload=_payload(email),
                next_attempt_at=due,
                updated_at=now,
            )  # fmt: skip
        )
        return bool(result.rowcount)

    async def claim_next(self, now: datetime) -> EmailRow | None:
        """The next due email, marked as being sent until its lease ends; also one whose lease ended (its
        sender died before recording the send). On Postgres a row another sender is claiming is skipped
        (SKIP LOCKED), so several processes share the outbox."""
        due = (
            select(email_outbox.c.id)
            .where(
                or_(
                    and_(
                        email_outbox.c.status == EmailStatus.PENDING.value,
                        email_outbox.c.next_attempt_at <= now,
                    ),
                    and_(
                        email_outbox.c.status == EmailStatus.SENDING.value,
                        email_outbox.c.lease_until < now,
                    ),
                )
            )
            .order_by(email_outbox.c.next_attempt_at, email_outbox.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        result = await self._conn.execute(
            update(email_outbox)
            .where(email_outbox.c.id.in_(due.scalar_subquery()))
            .values(
                status=EmailStatus.SENDING.value,
                attempts=email_outbox.c.attempts + 1,
                lease_until=now + LEASE,
                updated_at=now,
            )
            .returning(*email_outbox.c)
        )
        row = result.first()
        return None if row is None else _row(row)

    async def mark_sent(self, row_id: int, message_id: str, now: datetime) -> None:
        await self._conn.execute(
            update(email_outbox)
            .where(email_outbox.c.id == row_id)
            .values(
                status=EmailStatus.SENT.value,
                message_id=message_id,
                sent_at=now,
                lease_until=None,
                last_error=None,
                updated_at=now,
            )  # fmt: skip
        )

    async def retry_at(self, row_id: int, when: datetime, error: str, now: datetime) -> None:
        await self._conn.execute(
            update(email_outbox)
            .where(email_outbox.c.id == row_id)
            .values(
                status=EmailStatus.PENDING.value,
                next_attempt_at=when,
                lease_until=None,
                last_error=error[:2000],
                updated_at=now,
            )  # fmt: skip
        )

    async def mark_failed(self, row_id: int, error: str, now: datetime) -> None:
        await self._conn.execute(
            update(email_outbox)
            .where(email_outbox.c.id == row_id)
            .values(
                status=EmailStatus.FAILED.value, lease_until=None, last_error=error[:2000], updated_at=now
            )
        )

    async def next_due_at(self) -> datetime | None:
        query = select(func.min(email_outbox.c.next_attempt_at)).where(
            email_outbox.c.status == EmailStatus.PENDING.value
        )
        value: datetime | None = (await self._conn.execute(query)).scalar_one_or_none()
        return value

    async def for_transaction(self, transaction_id: uuid.UUID) -> list[EmailRow]:
        query = (
            select(email_outbox)
            .where(email_outbox.c.transaction_id == transaction_id)
            .order_by(email_outbox.c.id)
        )
        return [_row(row) for row in await self._conn.execute(query)]

    async def counts_by_status(self) -> dict[EmailStatus, int]:
        query = select(email_outbox.c.status, func.count()).group_by(email_outbox.c.status)
        found = dict.fromkeys(EmailStatus, 0)
        found.update({EmailStatus(row[0]): int(row[1]) for row in await self._conn.execute(query)})
        return found


def _payload(email: OutgoingEmail) -> dict[str, Any]:
    return {"from_name": email.from_name, "facts": email.facts}
