from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.deposit import DepositMode
from bot.domain.guarantee import GuaranteeMode, GuaranteeSettings
from bot.domain.money import Percent
from bot.domain.order import ConfirmationRule
from bot.domain.schedule import (
    format_interval,
    format_offsets,
    parse_interval,
    parse_offsets,
    parse_quiet_hours,
)
from bot.domain.vendor import InvoiceDoctype, PaymentSettings, ProviderName, ReminderPolicy, Vendor
from bot.store.tables import commandes, payment_settings, payment_transactions, vendor_admins, vendors


def _vendor_values(vendor: Vendor) -> dict[str, Any]:
    policy = vendor.reminders
    return {
        "name": vendor.name,
        "currency": vendor.currency,
        "locale": vendor.locale,
        "timezone": vendor.timezone,
        "phone_number_id": vendor.phone_number_id,
        "owner_user_id": vendor.owner_user_id,
        "reminder_schedule": format_offsets(policy.schedule),
        "reminder_quiet_hours": None if policy.quiet_hours is None else str(policy.quiet_hours),
        "reminders_enabled": policy.enabled,
        "reminder_repeat_every": (
            None if policy.repeat_every is None else format_interval(policy.repeat_every)
        ),
        "reminder_repeat_count": policy.repeat_count,
        "whatsapp_templates": dict(vendor.whatsapp_templates),
        "message_overrides": vendor.message_overrides,
        "updated_at": vendor.updated_at,
    }


def _settings_values(vendor: Vendor) -> dict[str, Any]:
    payment = vendor.payment
    return {
        "provider": payment.provider.value,
        "deposit_mode": payment.deposit_mode.value,
        "deposit_percent": payment.deposit_percent.value,
        "deposit_fixed": payment.deposit_fixed,
        "confirmation_rule": payment.confirmation_rule.value,
        "hold_minutes": payment.hold_minutes,
        "invoice_doctype": payment.invoice_doctype.value,
        "request_on_accept": payment.request_on_accept,
        "guarantee_mode": payment.guarantee.mode.value,
        "guarantee_fixed": payment.guarantee.fixed,
        "guarantee_percent": payment.guarantee.percent.value,
        "guarantee_release_days": payment.guarantee.release_days,
        "saved_cards": payment.guarantee.saved_cards,
        "updated_at": vendor.updated_at,
    }


def _to_vendor(row: Row[Any]) -> Vendor:
    m = row._mapping
    return Vendor(
        id=m["id"],
        name=m["name"],
        currency=m["currency"],
        locale=m["locale"],
        timezone=m["timezone"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        phone_number_id=m["phone_number_id"],
        owner_user_id=m["owner_user_id"],
        payment=PaymentSettings(
            provider=ProviderName(m["provider"]),
            deposit_mode=DepositMode(m["deposit_mode"]),
            deposit_percent=Percent(m["deposit_percent"]),
            deposit_fixed=m["deposit_fixed"],
            confirmation_rule=ConfirmationRule(m["confirmation_rule"]),
            hold_minutes=m["hold_minutes"],
            invoice_doctype=InvoiceDoctype(m["invoice_doctype"]),
            request_on_accept=m["request_on_accept"],
            guarantee=GuaranteeSettings(
                mode=GuaranteeMode(m["guarantee_mode"]),
                fixed=m["guarantee_fixed"],
                percent=Percent(m["guarantee_percent"]),
                release_days=m["guarantee_release_days"],
                saved_cards=m["saved_cards"],
            ),
        ),
        reminders=ReminderPolicy(
            schedule=parse_offsets(m["reminder_schedule"]),
            quiet_hours=parse_quiet_hours(m["reminder_quiet_hours"] or ""),
            enabled=m["reminders_enabled"],
            repeat_every=parse_interval(m["reminder_repeat_every"] or "", "reminder_repeat_every"),
            repeat_count=m["reminder_repeat_count"],
        ),
        whatsapp_templates=dict(m["whatsapp_templates"] or {}),
        message_overrides={k: dict(v) for k, v in (m["message_overrides"] or {}).items()},
    )


@dataclass(frozen=True, slots=True)
class AdminSeen:
    """The vendor a phone administers, and when that admin last wrote (their 24-hour window)."""

    vendor_id: uuid.UUID
    last_inbound_at: datetime | None


_SELECT = select(
    vendors,
    payment_settings.c.provider,
    payment_settings.c.deposit_mode,
    payment_settings.c.deposit_percent,
    payment_settings.c.deposit_fixed,
    payment_settings.c.confirmation_rule,
    payment_settings.c.hold_minutes,
    payment_settings.c.invoice_doctype,
    payment_settings.c.request_on_accept,
    payment_settings.c.guarantee_mode,
    payment_settings.c.guarantee_fixed,
    payment_settings.c.guarantee_percent,
    payment_settings.c.guarantee_release_days,
    payment_settings.c.saved_cards,
).join(payment_settings, payment_settings.c.vendor_id == vendors.c.id)


class VendorRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, vendor: Vendor, admin_phones: Sequence[str]) -> None:
        await self._conn.execute(
            insert(vendors).values(id=vendor.id, created_at=vendor.created_at, **_vendor_values(vendor))
        )
        await self._conn.execute(
            insert(payment_settings).values(vendor_id=vendor.id, **_settings_values(vendor))
        )
        for phone in admin_phones:
            await self.add_admin(vendor.id, phone, vendor.created_at)

    async def add_admin(self, vendor_id: uuid.UUID, phone: str, now: datetime) -> None:
        await self._conn.execute(
            insert(vendor_admins).values(id=uuid.uuid4(), vendor_id=vendor_id, phone=phone, created_at=now)
        )

    async def update(self, vendor: Vendor) -> None:
        await self._conn.execute(
            update(vendors).where(vendors.c.id == vendor.id).values(**_vendor_values(vendor))
        )
        await self._conn.execute(
            update(payment_settings)
            .where(payment_settings.c.vendor_id == vendor.id)
            .values(**_settings_values(vendor))
        )

    async def set_rows_owner(self, vendor_id: uuid.UUID, owner: uuid.UUID | None) -> None:
        """Every order and payment transaction of the vendor gets ``owner`` as its ``user_id``."""
        for table in (commandes, payment_transactions):
            await self._conn.execute(
                update(table).where(table.c.vendor_id == vendor_id).values(user_id=owner)
            )

    async def get(self, vendor_id: uuid.UUID) -> Vendor | None:
        row = (await self._conn.execute(_SELECT.where(vendors.c.id == vendor_id))).first()
        return None if row is None else _to_vendor(row)

    async def by_name(self, name: str) -> list[Vendor]:
        query = _SELECT.where(func.lower(vendors.c.name) == name.strip().lower())
        return [_to_vendor(row) for row in await self._conn.execute(query)]

    async def by_id_prefix(self, prefix: str) -> list[Vendor]:
        """The vendors whose id, in hex, starts with ``prefix`` (the short id ``bot vendor list`` shows)."""
        wanted = prefix.strip().lower()
        ids = [
            i for i in (await self._conn.execute(select(vendors.c.id))).scalars() if i.hex.startswith(wanted)
        ]
        if not ids:
            return []
        rows = await self._conn.execute(_SELECT.where(vendors.c.id.in_(ids)).order_by(vendors.c.created_at))
        return [_to_vendor(row) for row in rows]

    async def admins_among(self, phones: Sequence[str]) -> list[tuple[str, uuid.UUID]]:
        """Which of ``phones`` already administer a vendor, with that vendor's id (oldest first)."""
        if not phones:
            return []
        query = (
            select(vendor_admins.c.phone, vendor_admins.c.vendor_id)
            .where(vendor_admins.c.phone.in_(list(phones)))
            .order_by(vendor_admins.c.created_at, vendor_admins.c.phone)
        )
        return [(row.phone, row.vendor_id) for row in await self._conn.execute(query)]

    async def all(self) -> list[Vendor]:
        rows = await self._conn.execute(_SELECT.order_by(vendors.c.created_at, vendors.c.name))
        return [_to_vendor(row) for row in rows]

    async def count(self) -> int:
        return int((await self._conn.execute(select(func.count()).select_from(vendors))).scalar_one())

    async def admin_phones(self, vendor_id: uuid.UUID) -> list[str]:
        query = (
            select(vendor_admins.c.phone)
            .where(vendor_admins.c.vendor_id == vendor_id)
            .order_by(vendor_admins.c.created_at, vendor_admins.c.phone)
        )
        return list((await self._conn.execute(query)).scalars())

    async def for_number(self, phone_number_id: str | None, default_phone_id: str) -> list[Vendor]:
        """Vendors reached through this business number (those without one use the default number)."""
        condition = vendors.c.phone_number_id == phone_number_id
        if phone_number_id in (None, default_phone_id):
            condition = condition | vendors.c.phone_number_id.is_(None)
        rows = await self._conn.execute(_SELECT.where(condition).order_by(vendors.c.created_at))
        return [_to_vendor(row) for row in rows]

    async def for_number_and_admin(
        self, phone_number_id: str | None, default_phone_id: str, phone: str
    ) -> tuple[list[Vendor], AdminSeen | None]:
        """``for_number`` and ``admin_of`` in one statement: the vendors of this business number, and
        the one ``phone`` administers (the oldest admin row when several) with when that admin last wrote."""
        condition = vendors.c.phone_number_id == phone_number_id
        if phone_number_id in (None, default_phone_id):
            condition = condition | vendors.c.phone_number_id.is_(None)
        query = (
            _SELECT.add_columns(
                vendor_admins.c.created_at.label("admin_since"),
                vendor_admins.c.last_inbound_at.label("admin_seen"),
            )
            .outerjoin(
                vendor_admins, and_(vendor_admins.c.vendor_id == vendors.c.id, vendor_admins.c.phone == phone)
            )
            .where(condition)
            .order_by(vendors.c.created_at)
        )
        rows = list(await self._conn.execute(query))
        admin = min(
            (row for row in rows if row.admin_since is not None),
            key=lambda row: row.admin_since,
            default=None,
        )
        seen = None if admin is None else AdminSeen(admin.id, admin.admin_seen)
        return [_to_vendor(row) for row in rows], seen

    async def admin_of(self, vendor_ids: list[uuid.UUID], phone: str) -> uuid.UUID | None:
        """Which of these vendors ``phone`` administers (the oldest when several)."""
        if not vendor_ids:
            return None
        query = (
            select(vendor_admins.c.vendor_id)
            .where(vendor_admins.c.vendor_id.in_(vendor_ids), vendor_admins.c.phone == phone)
            .order_by(vendor_admins.c.created_at)
            .limit(1)
        )
        return (await self._conn.execute(query)).scalar_one_or_none()

    async def touch_admin(self, vendor_id: uuid.UUID, phone: str, at: datetime) -> None:
        await self._conn.execute(
            update(vendor_admins)
            .where(vendor_admins.c.vendor_id == vendor_id, vendor_admins.c.phone == phone)
            # A redelivered old message never moves the 24-hour window backwards.
            .where(or_(vendor_admins.c.last_inbound_at.is_(None), vendor_admins.c.last_inbound_at < at))
            .values(last_inbound_at=at)
        )

    async def take_order_number(self, vendor_id: uuid.UUID) -> int:
        """The next order number. The UPDATE locks the vendor row until commit, so concurrent
        creations queue and a rolled-back creation gives its number back: no gaps, no repeats."""
        result = await self._conn.execute(
            update(vendors)
            .where(vendors.c.id == vendor_id)
            .values(last_order_number=vendors.c.last_order_number + 1)
            .returning(vendors.c.last_order_number)
        )
        return int(result.scalar_one())

    async def credentials(self, vendor_id: uuid.UUID) -> str | None:
        query = select(payment_settings.c.credentials).where(payment_settings.c.vendor_id == vendor_id)
        return (await self._conn.execute(query)).scalar_one_or_none()

    async def all_credentials(self) -> list[tuple[uuid.UUID, str]]:
        query = select(payment_settings.c.vendor_id, payment_settings.c.credentials).where(
            payment_settings.c.credentials.is_not(None)
        )
        return [(row.vendor_id, str(row.credentials)) for row in await self._conn.execute(query)]

    async def set_credentials(self, vendor_id: uuid.UUID, sealed: str | None) -> None:
        await self._conn.execute(
            update(payment_settings)
            .where(payment_settings.c.vendor_id == vendor_id)
            .values(credentials=sealed)
        )
