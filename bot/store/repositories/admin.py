"""The dashboard's sign-in: codes and one-time links (hashed), lockouts, server-side sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import admin_codes, admin_lockouts, admin_sessions


@dataclass(frozen=True, slots=True)
class SignInSecret:
    id: uuid.UUID
    phone: str
    kind: str
    secret_hash: str
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: uuid.UUID
    phone: str
    vendor_id: uuid.UUID | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def _secret(row: Row[Any]) -> SignInSecret:
    return SignInSecret(row.id, row.phone, row.kind, row.secret_hash, row.expires_at, row.used_at)


def _session(row: Row[Any]) -> SessionRow:
    return SessionRow(
        row.id, row.phone, row.vendor_id, row.created_at, row.last_seen_at, row.expires_at, row.revoked_at
    )


class AdminRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    # Codes and links

    async def add_secret(self, secret: SignInSecret, now: datetime) -> None:
        await self._conn.execute(
            insert(admin_codes).values(
                id=secret.id, phone=secret.phone, kind=secret.kind, secret_hash=secret.secret_hash,
                created_at=now, expires_at=secret.expires_at, used_at=None,
            )
        )  # fmt: skip

    async def live_secrets(self, phone: str, kind: str, now: datetime) -> list[SignInSecret]:
        """The phone's codes (or links) not used and not expired, the newest first."""
        query = (
            select(admin_codes)
            .where(
                admin_codes.c.phone == phone, admin_codes.c.kind == kind, admin_codes.c.used_at.is_(None),
                admin_codes.c.expires_at > now,
            )
            .order_by(admin_codes.c.created_at.desc())
        )  # fmt: skip
        return [_secret(row) for row in await self._conn.execute(query)]

    async def link_by_hash(self, secret_hash: str) -> SignInSecret | None:
        query = select(admin_codes).where(
            admin_codes.c.kind == "link", admin_codes.c.secret_hash == secret_hash
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _secret(row)

    async def use_secret(self, secret_id: uuid.UUID, now: datetime) -> bool:
        """Uses a code or link once: False when it was used (or expired) meanwhile."""
        result = await self._conn.execute(
            update(admin_codes)
            .where(
                admin_codes.c.id == secret_id, admin_codes.c.used_at.is_(None), admin_codes.c.expires_at > now
            )
            .values(used_at=now)
        )
        return int(result.rowcount) == 1

    async def retire_secrets(self, phone: str, now: datetime) -> None:
        """A new code makes the older ones useless; signing in uses them all up."""
        await self._conn.execute(
            update(admin_codes)
            .where(admin_codes.c.phone == phone, admin_codes.c.used_at.is_(None))
            .values(used_at=now)
        )

    async def forget_expired(self, before: datetime) -> None:
        await self._conn.execute(delete(admin_codes).where(admin_codes.c.expires_at < before))

    # Lockouts

    async def ensure_lockout(self, phone: str, now: datetime) -> None:
        """The phone's row exists before it is locked for update: two wrong codes at the same moment then
        wait for each other instead of both inserting it."""
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        await self._conn.execute(
            dialect.insert(admin_lockouts)
            .values(phone=phone, failures=0, locked_until=None, updated_at=now)
            .on_conflict_do_nothing(index_elements=["phone"])
        )

    async def lockout(self, phone: str) -> tuple[int, datetime | None]:
        """(wrong codes in a row, locked until) for ``phone``, locked for update."""
        query = select(admin_lockouts).where(admin_lockouts.c.phone == phone).with_for_update()
        row = (await self._conn.execute(query)).first()
        return (0, None) if row is None else (row.failures, row.locked_until)

    async def set_lockout(
        self, phone: str, failures: int, locked_until: datetime | None, now: datetime
    ) -> None:
        changed = await self._conn.execute(
            update(admin_lockouts)
            .where(admin_lockouts.c.phone == phone)
            .values(failures=failures, locked_until=locked_until, updated_at=now)
        )
        if int(changed.rowcount) == 0:
            await self._conn.execute(
                insert(admin_lockouts).values(
                    phone=phone, failures=failures, locked_until=locked_until, updated_at=now
                )
            )

    # Sessions

    async def add_session(self, session: SessionRow, token_hash: str) -> None:
        await self._conn.execute(
            insert(admin_sessions).values(
                id=session.id, token_hash=token_hash, phone=session.phone, vendor_id=session.vendor_id,
                created_at=session.created_at, last_seen_at=session.last_seen_at,
                expires_at=session.expires_at, revoked_at=None,
            )
        )  # fmt: skip

    async def session_by_hash(self, token_hash: str) -> SessionRow | None:
        query = select(admin_sessions).where(admin_sessions.c.token_hash == token_hash)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _session(row)

    async def touch_session(self, session_id: uuid.UUID, now: datetime, expires_at: datetime) -> None:
        await self._conn.execute(
            update(admin_sessions)
            .where(admin_sessions.c.id == session_id)
            .values(last_seen_at=now, expires_at=expires_at)
        )

    async def pick_vendor(self, session_id: uuid.UUID, vendor_id: uuid.UUID) -> None:
        await self._conn.execute(
            update(admin_sessions).where(admin_sessions.c.id == session_id).values(vendor_id=vendor_id)
        )

    async def revoke_session(self, session_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            update(admin_sessions)
            .where(admin_sessions.c.id == session_id, admin_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_all(self, phone: str, now: datetime) -> int:
        result = await self._conn.execute(
            update(admin_sessions)
            .where(admin_sessions.c.phone == phone, admin_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)
