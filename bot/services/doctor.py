"""``bot doctor``: a deployment checked, one line per check (ok, warn or fail, and what to do).

Read-only: nothing is migrated, created or sent. The checks that need the network ask the database, the
Graph API (the business numbers, the templates) and each vendor's payment provider (its connection test).
No secret is ever part of a check's text: only whether it is set.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.payments.credentials import CredentialCipher
from bot.services import doctor_settings, doctor_vendors
from bot.services.context import PaymentDeps
from bot.services.doctor_report import DoctorReport, Status
from bot.services.whatsapp_account import WhatsAppAccount
from bot.store import migrate
from bot.store.database import async_url, is_sqlite, ping

DATABASE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class DoctorDeps:
    settings: Settings
    engine: AsyncEngine
    payments: PaymentDeps
    cipher: CredentialCipher | None
    # None in sandbox mode (no WHATSAPP_TOKEN): there is no real account to ask.
    whatsapp: WhatsAppAccount | None


def settings_failed(problem: str) -> DoctorReport:
    """The report when the settings do not load: nothing else can be checked."""
    report = DoctorReport()
    report.add("settings", Status.FAIL, problem, "fix that setting in .env or the environment (.env.example)")
    return report


async def run_doctor(deps: DoctorDeps) -> DoctorReport:
    settings = deps.settings
    report = DoctorReport()
    report.extend(doctor_settings.settings_checks(settings))
    ready = await _database(deps.engine, settings, report)
    if not ready:
        report.add("vendors", Status.WARN, "not checked: the database is not ready", "fix the database first")
        return report
    report.extend(await doctor_vendors.vendor_checks(settings, deps.payments, deps.cipher, deps.whatsapp))
    return report


def shown_database(database_url: str) -> str:
    """The database's address without its password."""
    try:
        return (
            async_url(database_url)
            .set(drivername=make_url(database_url).drivername)
            .render_as_string(hide_password=True)
        )
    except ValueError:
        return "(not a database URL)"


async def _database(engine: AsyncEngine, settings: Settings, report: DoctorReport) -> bool:
    """Reachable and at this bot's schema (head); True when the vendor checks can read it."""
    where = shown_database(settings.database_url)
    head = migrate.head_revision()
    url = async_url(settings.database_url)
    sqlite = is_sqlite(url)
    if (
        sqlite
        and url.database not in (None, "", ":memory:")
        and not await asyncio.to_thread(Path(url.database).exists)
    ):
        # Connecting would create the file: the doctor changes nothing.
        report.add(
            "database", Status.WARN, f"{where}: no such file yet", "`bot serve` (or `bot migrate`) creates it"
        )
        return False
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            await ping(engine)
            current = await migrate.current_revision(engine)
    except (TimeoutError, OSError, SQLAlchemyError) as error:
        detail = f"{where} unreachable: {_first_line(error, settings.database_url)}"
        report.add(
            "database",
            Status.FAIL,
            detail,
            "check DATABASE_URL, the password and the network (docs/deploy.md)",
        )
        return False
    if current == head:
        report.add("database", Status.OK, f"{where} reachable, schema at {head} (this bot's)")
        return True
    state = "empty" if current is None else f"at {current}"
    detail = f"{where} reachable, schema {state}, this bot needs {head}"
    if sqlite:
        # `bot serve` upgrades SQLite itself before it serves.
        report.add("database", Status.WARN, detail, "`bot serve` upgrades it at start, or run `bot migrate`")
        return False
    report.add("database", Status.FAIL, detail, "run `bot migrate` (docs/deploy.md, Upgrades)")
    return False


def _first_line(error: BaseException, database_url: str) -> str:
    # The driver's own message, without SQLAlchemy's "(dialect.Error)" prefix and its link.
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    password = make_url(database_url).password if "://" in database_url else None
    if password:
        text = text.replace(str(password), "***")
    return text[:300] or type(error).__name__
