"""Signing in to the dashboard: a 6-digit code sent by WhatsApp to a vendor admin's phone (through the
outbox, as an approved template outside the 24-hour window), or a one-time link an operator makes with
``bot admin link``; then a server-side session, so that signing out (everywhere) works.

Codes and links are single-use, expire after 10 minutes and are kept only as hashes; sessions only as the
hash of the cookie's token. Five wrong codes in a row lock the phone out for 15 minutes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.errors import PhoneLocked, WrongCode
from bot.domain.outgoing import OutgoingMessage
from bot.domain.phone import normalise_phone
from bot.domain.vendor import Vendor
from bot.rendering import render_for
from bot.store.repositories.admin import SessionRow, SignInSecret
from bot.store.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
CODE_LIFETIME = timedelta(minutes=10)
MAX_WRONG_CODES = 5
LOCKOUT = timedelta(minutes=15)
# A session lasts while it is used: two weeks after the last page seen.
SESSION_IDLE = timedelta(days=14)
_TOUCH_EVERY = timedelta(minutes=5)
_PBKDF2_ROUNDS = 60_000


def _hash_code(code: str, salt: str | None = None) -> str:
    """A slow salted hash: a leaked table does not give the codes back in a second."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", code.encode(), bytes.fromhex(salt), _PBKDF2_ROUNDS).hex()
    return f"{salt}${digest}"


async def _hashed(code: str, salt: str | None = None) -> str:
    # About 20 ms of CPU: in a thread, so that other requests go on meanwhile.
    return await asyncio.to_thread(_hash_code, code, salt)


async def _code_matches(code: str, stored: str) -> bool:
    salt, _, _digest = stored.partition("$")
    return hmac.compare_digest(await _hashed(code, salt), stored)


def token_hash(token: str) -> str:
    """Links and session tokens are long random strings: a plain SHA-256 is enough to keep them unusable."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AdminSession:
    """Who is signed in: their phone, the vendor they work on (None until an admin of several picks
    one), and every vendor they may pick."""

    id: uuid.UUID
    phone: str
    vendor: Vendor | None
    vendors: list[Vendor]


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    session: AdminSession


async def _vendors_of(uow: UnitOfWork, phone: str) -> list[Vendor]:
    vendors = []
    for _phone, vendor_id in await uow.vendors.admins_among([phone]):
        vendor = await uow.vendors.get(vendor_id)
        if vendor is not None:
            vendors.append(vendor)
    return sorted(vendors, key=lambda v: v.name)


def _code_message(vendor: Vendor, phone: str, code: str, secret_id: uuid.UUID) -> OutgoingMessage:
    text = render_for(vendor, "messages/admin_code", vendor.locale, code=code, vendor_name=vendor.name)
    return OutgoingMessage(
        vendor_id=vendor.id, to_phone=phone, kind="admin_code", locale=vendor.locale, text=text,
        template_params=(code,), dedupe_key=f"admin_code:{secret_id}",
    )  # fmt: skip


async def _locked(uow: UnitOfWork, until: datetime) -> PhoneLocked:
    """The lockout's end as the admin reads it: in the vendors' time zone when they share one, else in UTC.
    Never in the phone's own vendor's: any phone can be locked, and the hour must not tell whose it is."""
    zones = {vendor.timezone for vendor in await uow.vendors.all()}
    if len(zones) == 1:
        return PhoneLocked(until=until.astimezone(ZoneInfo(zones.pop())).strftime("%H:%M"))
    return PhoneLocked(until=until.astimezone(UTC).strftime("%H:%M UTC"))


async def _check_not_locked(uow: UnitOfWork, phone: str, now: datetime) -> int:
    failures, locked_until = await uow.admin.lockout(phone)
    if locked_until is not None and locked_until > now:
        raise await _locked(uow, locked_until)
    return failures if locked_until is None else 0


async def request_code(uow_factory: UnitOfWorkFactory, phone_text: str, now: datetime) -> bool:
    """Sends a new code to the phone if it is a vendor admin's (the older ones stop working); False when
    it is not (the page says the same either way, so it tells no one which numbers are admins)."""
    phone = normalise_phone(phone_text)
    async with uow_factory() as uow:
        # Locked or not before admin or not: a locked phone reads the same whoever's it is.
        await _check_not_locked(uow, phone, now)
        vendors = await _vendors_of(uow, phone)
        if not vendors:
            log.info("sign-in code asked for a phone that is no vendor's admin")
            await _hashed("000000")  # as long as for an admin's phone: the time taken tells no one either
            return False
        await uow.admin.retire_secrets(phone, now)
        code = f"{secrets.randbelow(1_000_000):06d}"
        secret = SignInSecret(uuid.uuid4(), phone, "code", await _hashed(code), now + CODE_LIFETIME, None)
        await uow.admin.add_secret(secret, now)
        await uow.outbox.add(_code_message(vendors[0], phone, code, secret.id), now)
        await uow.admin.forget_expired(now - timedelta(days=1))
        await uow.commit()
    return True


async def verify_code(
    uow_factory: UnitOfWorkFactory, phone_text: str, code: str, now: datetime
) -> NewSession:
    """A session for the phone if ``code`` is its live code; else WrongCode, and PhoneLocked after the
    fifth wrong one in a row (for 15 minutes)."""
    phone = normalise_phone(phone_text)
    typed = "".join(char for char in code if char.isdigit())
    async with uow_factory() as uow:
        await uow.admin.ensure_lockout(phone, now)
        failures = await _check_not_locked(uow, phone, now)
        live = await uow.admin.live_secrets(phone, "code", now)
        found = None
        for secret in live:
            if len(typed) == 6 and await _code_matches(typed, secret.secret_hash):
                found = secret
                break
        if not live:
            await _hashed("000000")  # a phone with no code (a stranger's) takes as long to refuse
        if found is None or not await uow.admin.use_secret(found.id, now):
            failures += 1
            locked = now + LOCKOUT if failures >= MAX_WRONG_CODES else None
            await uow.admin.set_lockout(phone, 0 if locked else failures, locked, now)
            await uow.commit()
            if locked is not None:
                log.warning("sign-in locked for 15 minutes after %d wrong codes", MAX_WRONG_CODES)
                raise await _locked(uow, locked)
            raise WrongCode(remaining=MAX_WRONG_CODES - failures)
        await uow.admin.set_lockout(phone, 0, None, now)
        new = await _open_session(uow, phone, now)
        await uow.commit()
    return new


async def _open_session(uow: UnitOfWork, phone: str, now: datetime) -> NewSession:
    vendors = await _vendors_of(uow, phone)
    await uow.admin.retire_secrets(phone, now)
    token = secrets.token_urlsafe(32)
    picked = vendors[0].id if len(vendors) == 1 else None
    row = SessionRow(uuid.uuid4(), phone, picked, now, now, now + SESSION_IDLE, None)
    await uow.admin.add_session(row, token_hash(token))
    vendor = vendors[0] if picked is not None else None
    return NewSession(token, AdminSession(row.id, phone, vendor, vendors))


async def make_link(
    uow_factory: UnitOfWorkFactory, phone_text: str, base_url: str, now: datetime
) -> str | None:
    """A one-time sign-in link for a vendor admin's phone (``bot admin link``), valid 10 minutes; None
    when the phone is no vendor's admin."""
    phone = normalise_phone(phone_text)
    token = secrets.token_urlsafe(32)
    async with uow_factory() as uow:
        if not await _vendors_of(uow, phone):
            return None
        secret = SignInSecret(uuid.uuid4(), phone, "link", token_hash(token), now + CODE_LIFETIME, None)
        await uow.admin.add_secret(secret, now)
        await uow.commit()
    return f"{base_url.rstrip('/')}/admin/login/link/{token}"


async def use_link(uow_factory: UnitOfWorkFactory, token: str, now: datetime) -> NewSession | None:
    """A session from a one-time link, once; None when it is unknown, used or expired."""
    async with uow_factory() as uow:
        link = await uow.admin.link_by_hash(token_hash(token))
        if link is None or not await uow.admin.use_secret(link.id, now):
            return None
        new = await _open_session(uow, link.phone, now)
        await uow.commit()
    return new


async def session_for(uow_factory: UnitOfWorkFactory, token: str, now: datetime) -> AdminSession | None:
    """The live session of a cookie's token (its idle time starts again), or None."""
    async with uow_factory() as uow:
        row = await uow.admin.session_by_hash(token_hash(token))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            return None
        vendors = await _vendors_of(uow, row.phone)
        if not vendors:
            return None  # no longer an admin of anything
        vendor = next((v for v in vendors if v.id == row.vendor_id), None)
        if now - row.last_seen_at >= _TOUCH_EVERY:
            await uow.admin.touch_session(row.id, now, now + SESSION_IDLE)
            await uow.commit()
    return AdminSession(row.id, row.phone, vendor, vendors)


async def pick_vendor(uow_factory: UnitOfWorkFactory, session: AdminSession, vendor_id: uuid.UUID) -> bool:
    """An admin of several vendors works on one of theirs; False for a vendor that is not theirs."""
    if vendor_id not in {v.id for v in session.vendors}:
        return False
    async with uow_factory() as uow:
        await uow.admin.pick_vendor(session.id, vendor_id)
        await uow.commit()
    return True


async def sign_out(
    uow_factory: UnitOfWorkFactory, session: AdminSession, now: datetime, *, everywhere: bool
) -> None:
    async with uow_factory() as uow:
        if everywhere:
            await uow.admin.revoke_all(session.phone, now)
        else:
            await uow.admin.revoke_session(session.id, now)
        await uow.commit()
