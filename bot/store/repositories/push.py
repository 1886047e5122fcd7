"""Web Push: the server's VAPID keys, the admins' browser subscriptions and choices, and the push outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.push import PushKind, PushStatus
from bot.store.tables import push_outbox, push_preferences, push_subscriptions, vendor_admins, web_push_keys

KEY_ROW = 1


@dataclass(frozen=True, slots=True)
class StoredKeys:
    public_key: str
    sealed_private_key: str


@dataclass(frozen=True, slots=True)
class Subscription:
    id: uuid.UUID
    admin_id: uuid.UUID
    endpoint: str
    p256dh: str
    auth: str
    created_at: datetime
    last_success_at: datetime | None
    last_failure_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueNotification:
    """A queued notification claimed for sending, with the subscription it is encrypted to."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    subscription: Subscription


def _subscription(m: Any) -> Subscription:
    return Subscription(
        id=m["id"],
        admin_id=m["admin_id"],
        endpoint=m["endpoint"],
        p256dh=m["p256dh"],
        auth=m["auth"],
        created_at=m["created_at"],
        last_success_at=m["last_success_at"],
        last_failure_at=m["last_failure_at"],
    )


class PushRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # The key pair

    async def keys(self) -> StoredKeys | None:
        row = (await self._conn.execute(select(web_push_keys).where(web_push_keys.c.id == KEY_ROW))).first()
        return None if row is None else StoredKeys(row.public_key, row.sealed_private_key)

    async def add_keys(self, public_key: str, sealed_private_key: str, now: datetime) -> None:
        """Keeps the first pair only: two processes starting at once agree on the one stored first."""
        statement = self._insert(web_push_keys).values(
            id=KEY_ROW, public_key=public_key, sealed_private_key=sealed_private_key, created_at=now
        )
        await self._conn.execute(statement.on_conflict_do_nothing(index_elements=["id"]))

    async def replace_keys(self, public_key: str, sealed_private_key: str, now: datetime) -> int:
        """A new pair (the old one no longer opens): every subscription was made for the old public key, so
        they all go. Returns how many were dropped."""
        dropped = await self._conn.execute(delete(push_subscriptions))
        await self._conn.execute(
            update(web_push_keys)
            .where(web_push_keys.c.id == KEY_ROW)
            .values(public_key=public_key, sealed_private_key=sealed_private_key, created_at=now)
        )
        return int(dropped.rowcount or 0)

    # Subscriptions and choices

    async def admin_id(self, vendor_id: uuid.UUID, phone: str) -> uuid.UUID | None:
        query = select(vendor_admins.c.id).where(
            vendor_admins.c.vendor_id == vendor_id, vendor_admins.c.phone == phone
        )
        found: uuid.UUID | None = (await self._conn.execute(query)).scalar_one_or_none()
        return found

    async def subscribe(
        self, admin_id: uuid.UUID, endpoint: str, p256dh: str, auth: str, now: datetime
    ) -> uuid.UUID:
        """Stores a browser's subscription; the same endpoint again (a renewed key, another admin signed in
        on that browser) replaces what was stored for it."""
        statement = self._insert(push_subscriptions).values(
            id=uuid.uuid4(), admin_id=admin_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["endpoint"],
            set_={
                "admin_id": admin_id, "p256dh": p256dh, "auth": auth, "created_at": now,
                "last_failure_at": None, "last_error": None,
            },
        )  # fmt: skip
        await self._conn.execute(statement)
        query = select(push_subscriptions.c.id).where(push_subscriptions.c.endpoint == endpoint)
        subscription_id: uuid.UUID = (await self._conn.execute(query)).scalar_one()
        return subscription_id

    async def unsubscribe(self, admin_id: uuid.UUID, endpoint: str) -> bool:
        result = await self._conn.execute(
            delete(push_subscriptions).where(
                push_subscriptions.c.admin_id == admin_id, push_subscriptions.c.endpoint == endpoint
            )
        )
        return bool(result.rowcount)

    async def remove(self, subscription_id: uuid.UUID) -> None:
        """A subscription its push service says is gone; its queued notifications go with it."""
        await self._conn.execute(delete(push_outbox).where(push_outbox.c.subscription_id == subscription_id))
        await self._conn.execute(delete(push_subscriptions).where(push_subscriptions.c.id == subscription_id))

    async def subscriptions_of(self, admin_id: uuid.UUID) -> list[Subscription]:
        query = (
            select(push_subscriptions)
            .where(push_subscriptions.c.admin_id == admin_id)
            .order_by(push_subscriptions.c.created_at, push_subscriptions.c.id)
        )
        return [_subscription(row._mapping) for row in await self._conn.execute(query)]

    async def by_endpoint(self, endpoint: str) -> Subscription | None:
        query = select(push_subscriptions).where(push_subscriptions.c.endpoint == endpoint)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _subscription(row._mapping)

    async def preferences(self, admin_id: uuid.UUID) -> dict[PushKind, bool]:
        """Every kind, on unless the admin switched it off."""
        query = select(push_preferences.c.kind, push_preferences.c.enabled).where(
            push_preferences.c.admin_id == admin_id
        )
        chosen = {PushKind(kind): bool(enabled) for kind, enabled in await self._conn.execute(query)}
        return {kind: chosen.get(kind, True) for kind in PushKind}

    async def set_preference(self, admin_id: uuid.UUID, kind: PushKind, enabled: bool, now: datetime) -> None:
        statement = self._insert(push_preferences).values(
            admin_id=admin_id, kind=kind.value, enabled=enabled, updated_at=now
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=["admin_id", "kind"], set_={"enabled": enabled, "updated_at": now}
            )
        )

    # The outbox

    async def recipients(self, vendor_id: uuid.UUID, kind: PushKind) -> list[uuid.UUID]:
        """The subscriptions of the vendor's admins who did not switch ``kind`` off."""
        switched_off = exists().where(
            push_preferences.c.admin_id == vendor_admins.c.id,
            push_preferences.c.kind == kind.value,
            push_preferences.c.enabled.is_(False),
        )
        query = (
            select(push_subscriptions.c.id)
            .join(vendor_admins, vendor_admins.c.id == push_subscriptions.c.admin_id)
            .where(vendor_admins.c.vendor_id == vendor_id, ~switched_off)
            .order_by(push_subscriptions.c.created_at, push_subscriptions.c.id)
        )
        return list((await self._conn.execute(query)).scalars())

    async def queue(
        self,
        vendor_id: uuid.UUID,
        kind: PushKind,
        key: str,
        payload: dict[str, Any],
        subscription_ids: list[uuid.UUID],
        now: datetime,
    ) -> None:
        """One row per subscription, once per ``key`` (a redelivered event queues nothing more)."""
        if not subscription_ids:
            return
        rows = [
            {
                "vendor_id": vendor_id, "subscription_id": subscription_id, "kind": kind.value,
                "payload": payload, "dedupe_key": f"{kind.value}:{key}:{subscription_id}",
                "status": PushStatus.PENDING.value, "attempts": 0, "next_attempt_at": now,
                "created_at": now, "updated_at": now,
            }
            for subscription_id in subscription_ids
        ]  # fmt: skip
        statement = self._insert(push_outbox).on_conflict_do_nothing(index_elements=["dedupe_key"])
        await self._conn.execute(statement, rows)

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[DueNotification]:
        """Pending notifications due now, each claimed until ``now + lease`` and counted as one more try:
        another sender skips them, and a sender that dies leaves them to be taken again after the lease."""
        picked = (
            select(push_outbox.c.id)
            .where(push_outbox.c.status == PushStatus.PENDING.value, push_outbox.c.next_attempt_at <= now)
            .order_by(push_outbox.c.next_attempt_at, push_outbox.c.id)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            picked = picked.with_for_update(skip_locked=True)
        candidates = list((await self._conn.execute(picked)).scalars())
        if not candidates:
            return []
        # Still due as the update runs: of two senders that picked the same rows, one claims them.
        claimed = await self._conn.execute(
            update(push_outbox)
            .where(
                push_outbox.c.id.in_(candidates),
                push_outbox.c.status == PushStatus.PENDING.value,
                push_outbox.c.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + lease, attempts=push_outbox.c.attempts + 1, updated_at=now)
            .returning(push_outbox.c.id)
        )
        ids = list(claimed.scalars())
        if not ids:
            return []
        query = (
            select(
                push_outbox.c.id.label("outbox_id"), push_outbox.c.kind.label("outbox_kind"),
                push_outbox.c.payload, push_outbox.c.attempts, push_subscriptions,
            )
            .join(push_subscriptions, push_subscriptions.c.id == push_outbox.c.subscription_id)
            .where(push_outbox.c.id.in_(ids))
            .order_by(push_outbox.c.id)
        )  # fmt: skip
        return [
            DueNotification(
                id=row.outbox_id,
                kind=row.outbox_kind,
                payload=dict(row.payload),
                attempts=row.attempts,
                subscription=_subscription(row._mapping),
            )
            for row in await self._conn.execute(query)
        ]

    async def mark_sent(self, notification: DueNotification, now: datetime) -> None:
        await self._conn.execute(
            update(push_outbox)
            .where(push_outbox.c.id == notification.id)
            .values(status=PushStatus.SENT.value, sent_at=now, last_error=None, updated_at=now)
        )
        await self._conn.execute(
            update(push_subscriptions)
            .where(push_subscriptions.c.id == notification.subscription.id)
            .values(last_success_at=now)
        )

    async def mark_unsent(
        self, notification: DueNotification, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        """Tried again at ``retry_at``, or failed for good when it is None."""
        values: dict[str, Any] = {"last_error": error[:500], "updated_at": now}
        if retry_at is None:
            values["status"] = PushStatus.FAILED.value
        else:
            values["next_attempt_at"] = retry_at
        await self._conn.execute(
            update(push_outbox).where(push_outbox.c.id == notification.id).values(values)
        )
        await self._conn.execute(
            update(push_subscriptions)
            .where(push_subscriptions.c.id == notification.subscription.id)
            .values(last_failure_at=now, last_error=error[:500])
        )

    async def outbox_rows(self) -> list[dict[str, Any]]:
        """Every queued notification, oldest first (for tests and ``bot doctor``-like checks)."""
        query = select(push_outbox).order_by(push_outbox.c.id)
        return [dict(row._mapping) for row in await self._conn.execute(query)]
