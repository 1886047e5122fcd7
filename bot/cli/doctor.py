"""``bot doctor``: checks a deployment and prints one line per check; exit status 1 when any fails.

Each line is ``ok``, ``warn`` or ``fail``, the check's name, what was found and, after ``->``, what to do.
``--json`` prints the same checks as one object. Settings that do not load are a failed check too (exit 1,
where other commands exit 2), so a script gets one answer for everything.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.common import _print_json
from bot.config import ConfigError, Settings
from bot.payments.credentials import CredentialCipher
from bot.payments.registry import ProviderRegistry
from bot.services.clock import system_clock
from bot.services.context import PaymentDeps
from bot.services.doctor import DoctorDeps, run_doctor, settings_failed
from bot.services.doctor_report import DoctorReport, Status
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from bot.whatsapp.clients import WhatsAppConfig
from bot.whatsapp.graph_account import GraphAccount


async def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    report = await diagnose(settings)
    return show_report(report, as_json=args.json)


def cmd_doctor_bad_settings(args: argparse.Namespace, error: ConfigError) -> int:
    """The settings did not load: the one failed check, printed as the others would be."""
    return show_report(settings_failed(str(error)), as_json=bool(getattr(args, "json", False)))


async def diagnose(settings: Settings) -> DoctorReport:
    secret = settings.secret_key
    cipher = None if secret is None else CredentialCipher(secret.get_secret_value())
    engine = create_engine(settings.database_url, pool_size=1)
    registry = ProviderRegistry(settings, cipher)
    whatsapp = None
    if not settings.sandbox_whatsapp:
        config = WhatsAppConfig(settings)
        whatsapp = GraphAccount(config.graph_url, config.token)
    try:
        payments = PaymentDeps(UnitOfWorkFactory(engine), registry, settings.base_url, system_clock)
        return await run_doctor(DoctorDeps(settings, engine, payments, cipher, whatsapp))
    finally:
        if whatsapp is not None:
            await whatsapp.close()
        await registry.close()
        await engine.dispose()


def show_report(report: DoctorReport, *, as_json: bool) -> int:
    if as_json:
        _print_json(report_json(report))
    else:
        print("\n".join(report_lines(report)))
    return 1 if report.failed else 0


def report_lines(report: DoctorReport) -> list[str]:
    lines = []
    for check in report.checks:
        line = f"{check.status.value:<4}  {check.name}: {check.detail}"
        if check.fix and check.status is not Status.OK:
            line += f" -> {check.fix}"
        lines.append(line)
    ok, warn, fail = (report.count(s) for s in (Status.OK, Status.WARN, Status.FAIL))
    lines.append(f"{ok} ok, {warn} warning{'s' if warn != 1 else ''}, {fail} failed")
    return lines


def report_json(report: DoctorReport) -> dict[str, Any]:
    return {
        "ok": not report.failed,
        "counts": {status.value: report.count(status) for status in Status},
        "checks": [
            {"name": c.name, "status": c.status.value, "detail": c.detail, "fix": c.fix}
            for c in report.checks
        ],
    }
