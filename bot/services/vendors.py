"""Vendor use cases: add, find, list, change settings, and the vendor ``bot serve`` makes from the
environment."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.errors import (
    AdminPhoneTaken,
    InvalidSetting,
    NoVendor,
    SecretKeyRequired,
    VendorNotFound,
    VendorRequired,
)
from bot.domain.money import Percent, check_currency
from bot.domain.phone import normalise_phone
from bot.domain.schedule import QuietHours
from bot.domain.vendor import (
    DEFAULT_REMINDER_SCHEDULE,
    SECRET_SETTINGS,
    SHORT_ID_LENGTH,
    TEMPLATE_PREFIX,
    TEXT_PREFIX,
    PaymentSettings,
    ProviderName,
    ReminderPolicy,
    Vendor,
    apply_setting,
    check_locale,
    check_timezone,
    describe_settings,
)
from bot.payments.credentials import CredentialCipher
from bot.rendering import check_syntax
from bot.store.repositories.audit import AuditEntry
from bot.store.uow import UnitOfWork, UnitOfWorkFactory

# A short id as ``bot vendor list`` shows it (or a longer start of the uuid, dashes left out).
_SHORT_ID = re.compile(rf"[0-9a-f]{{{SHORT_ID_LENGTH},32}}")


@dataclass(frozen=True, slots=True)
class NewVendor:
    name: str
    admin_phones: Sequence[str]
    currency: str = "EUR"
    locale: str = "fr"
    timezone: str = "Europe/Paris"
    provider: ProviderName = ProviderName.SANDBOX
    phone_number_id: str | None = None
    deposit_percent: Percent | None = None
    reminder_schedule: tuple[timedelta, ...] = DEFAULT_REMINDER_SCHEDULE
    quiet_hours: QuietHours | None = None


@dataclass(frozen=True, slots=True)
class VendorSummary:
    vendor: Vendor
    admin_phones: list[str] = field(default_factory=list)


async def add_vendor(uow_factory: UnitOfWorkFactory, new: NewVendor, now: datetime) -> VendorSummary:
    phones = list(dict.fromkeys(normalise_phone(p) for p in new.admin_phones))
    payment = PaymentSettings(provider=new.provider)
    if new.deposit_percent is not None:
        payment.deposit_percent = new.deposit_percent
    vendor = Vendor(
        id=uuid.uuid4(),
        name=new.name.strip(),
        currency=check_currency(new.currency),
        locale=check_locale(new.locale),
        timezone=check_timezone(new.timezone),
        created_at=now,
        updated_at=now,
        phone_number_id=new.phone_number_id,
        payment=payment,
        reminders=ReminderPolicy(schedule=new.reminder_schedule, quiet_hours=new.quiet_hours),
    )
    async with uow_factory() as uow:
        # One phone, one vendor: the chat finds the vendor an admin speaks for from their phone.
        for phone, holder_id in await uow.vendors.admins_among(phones):
            holder = await uow.vendors.get(holder_id)
            raise AdminPhoneTaken(phone=f"+{phone}", vendor=str(holder_id) if holder is None else holder.name)
        await uow.vendors.add(vendor, phones)
        await uow.commit()
    return VendorSummary(vendor, phones)


# Who a use case is for: the vendor itself (a chat handler has it already), or what names it (its id,
# name or short id, from the command line), or None for the only vendor there is.
VendorRef = Vendor | str | None


async def find_vendor(uow: UnitOfWork, reference: VendorRef) -> Vendor:
    """The vendor with the id, the name or the short id ``reference`` (in that order); without one, the
    only vendor there is."""
    if isinstance(reference, Vendor):
        return reference
    if reference is None:
        everyone = await uow.vendors.all()
        if not everyone:
            raise NoVendor()
        if len(everyone) > 1:
            raise VendorRequired(known=", ".join(f"{v.name} ({v.short_id})" for v in everyone))
        return everyone[0]
    try:
        by_id = await uow.vendors.get(uuid.UUID(reference))
    except ValueError:
        by_id = None
    if by_id is not None:
        return by_id
    named = await uow.vendors.by_name(reference)
    if len(named) > 1:
        raise VendorRequired(known=", ".join(_short_ids(named)))
    if named:
        return named[0]
    short = reference.strip().lower().replace("-", "")
    started = await uow.vendors.by_id_prefix(short) if _SHORT_ID.fullmatch(short) else []
    if len(started) > 1:
        raise VendorRequired(known=", ".join(str(v.id) for v in started))
    if not started:
        raise VendorNotFound(vendor=reference)
    return started[0]


def _short_ids(found: Sequence[Vendor]) -> list[str]:
    """How to tell these vendors apart: their short ids, or their whole ids when two short ids are alike."""
    short = [v.short_id for v in found]
    return short if len(set(short)) == len(short) else [str(v.id) for v in found]


async def list_vendors(uow_factory: UnitOfWorkFactory) -> list[VendorSummary]:
    async with uow_factory() as uow:
        return [VendorSummary(v, await uow.vendors.admin_phones(v.id)) for v in await uow.vendors.all()]


async def show_vendor(uow_factory: UnitOfWorkFactory, reference: VendorRef) -> VendorSummary:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, reference)
        return VendorSummary(vendor, await uow.vendors.admin_phones(vendor.id))


async def change_settings(
    uow_factory: UnitOfWorkFactory,
    reference: VendorRef,
    pairs: Sequence[tuple[str, str]],
    cipher: CredentialCipher | None,
    now: datetime,
    *,
    actor: str | None = None,
) -> VendorSummary:
    """Applies every ``KEY=VALUE`` or none: one bad pair leaves the vendor unchanged. With an ``actor``
    (an admin's phone, "cli"), each key whose value changed is written to the audit log, in the same
    transaction: the key only, never its value."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, reference)
        owner_before = vendor.owner_user_id
        before = describe_settings(vendor)
        secrets: dict[str, str] = {}
        changed_secrets: list[str] = []
        for key, value in pairs:
            normalised = key.strip().lower()
            if normalised in SECRET_SETTINGS:
                if cipher is None:
                    raise SecretKeyRequired(key=normalised)
                secrets[normalised] = value.strip()
            else:
                if normalised.startswith(TEXT_PREFIX) and not check_syntax(value):
                    raise InvalidSetting(key=normalised, value=value)
                apply_setting(vendor, key, value)
        vendor.updated_at = now
        await uow.vendors.update(vendor)
        if vendor.owner_user_id != owner_before:
            # The rows the Supabase read policies check carry the new owner, old rows included.
            await uow.vendors.set_rows_owner(vendor.id, vendor.owner_user_id)
        if secrets and cipher is not None:
            stored = cipher.open(await uow.vendors.credentials(vendor.id))
            changed_secrets = [key for key, value in secrets.items() if stored.get(key, "") != value]
            stored.update(secrets)
            await uow.vendors.set_credentials(vendor.id, cipher.seal({k: v for k, v in stored.items() if v}))
        if actor is not None:
            keys = [key.strip().lower() for key, _value in pairs]
            plain = [key for key in keys if key not in SECRET_SETTINGS]
            after = describe_settings(vendor)
            changed = [key for key in dict.fromkeys(plain) if _setting(before, key) != _setting(after, key)]
            await uow.audit.add(vendor.id, actor, [*changed, *changed_secrets], now)
        await uow.commit()
        return VendorSummary(vendor, await _admins(uow, vendor.id))


def _setting(described: dict[str, object], key: str) -> object:
    """One setting's value in ``describe_settings``' answer, under the name ``vendor set`` takes."""
    if key.startswith(TEXT_PREFIX):
        kind, _, locale = key[len(TEXT_PREFIX) :].rpartition(".")
        texts = described["texts"]
        return texts.get(kind, {}).get(locale) if isinstance(texts, dict) else None
    if key.startswith(TEMPLATE_PREFIX):
        templates = described["templates"]
        return templates.get(key[len(TEMPLATE_PREFIX) :]) if isinstance(templates, dict) else None
    return described.get(key)


@dataclass(frozen=True, slots=True)
class SettingsOverview:
    """What the dashboard's settings page shows besides the vendor: which credentials are stored (never
    their values), whether they open, and the last changes."""

    vendor: Vendor
    credentials_set: frozenset[str]
    credentials_unreadable: bool
    history: list[AuditEntry]


async def settings_overview(
    uow_factory: UnitOfWorkFactory, reference: VendorRef, cipher: CredentialCipher | None, history: int = 50
) -> SettingsOverview:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, reference)
        sealed = await uow.vendors.credentials(vendor.id)
        entries = await uow.audit.latest(vendor.id, history)
    stored: frozenset[str] = frozenset()
    unreadable = bool(sealed) and cipher is None
    if sealed and cipher is not None:
        try:
            stored = frozenset(key for key, value in cipher.open(sealed).items() if value)
        except ValueError:
            unreadable = True
    return SettingsOverview(vendor, stored, unreadable, entries)


async def _admins(uow: UnitOfWork, vendor_id: uuid.UUID) -> list[str]:
    return await uow.vendors.admin_phones(vendor_id)


async def ensure_vendor(uow_factory: UnitOfWorkFactory, new: NewVendor, now: datetime) -> bool:
    """Creates ``new`` when the database has no vendor at all; True when it did."""
    async with uow_factory() as uow:
        if await uow.vendors.count() > 0:
            return False
    await add_vendor(uow_factory, new, now)
    return True
