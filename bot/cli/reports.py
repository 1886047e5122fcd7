"""``bot report``: what the vendor collected over a period, per day, week or month, per currency, method and
provider, with refunds apart and the net; ``--csv FILE`` (``-`` for stdout) streams the payments behind it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.cli.common import CLI_LOCALE, _fail, _print_json, _with_store
from bot.config import Settings
from bot.domain.errors import ReportFilterError
from bot.rendering import explain
from bot.services import reports
from bot.services.clock import system_clock
from bot.services.reports import CurrencyReport, Figures, PaymentRow, Report
from bot.store.uow import UnitOfWorkFactory

# How the table names the methods (the JSON and the CSV keep their codes).
METHOD_NAMES = {"card": "card link", "saved_card": "saved card", "cash": "cash register",
                "capture": "guarantee capture"}  # fmt: skip


def _figures_json(figures: Figures) -> dict[str, Any]:
    return {
        "collected": f"{figures.collected.amount:f}", "refunded": f"{figures.refunded.amount:f}",
        "net": f"{figures.net.amount:f}", "payments": figures.payments, "refunds": figures.refunds,
    }  # fmt: skip


def report_json(found: Report) -> dict[str, Any]:
    query = found.query
    return {
        "from": query.first_day.isoformat(),
        "to": query.end_day.isoformat(),
        "by": query.by,
        "timezone": found.timezone,
        "filters": {
            "method": None if query.method is None else query.method.value,
            "status": query.status,
            "provider": query.provider,
            "customer": None if query.customer is None else f"+{query.customer}",
            "order": query.order,
        },  # fmt: skip
        "currencies": [
            {
                "currency": c.currency,
                **_figures_json(c.total),
                "periods": [{"period": p.period.isoformat(), **_figures_json(p.figures)} for p in c.periods],
                "methods": [{"method": s.key, **_figures_json(s.figures)} for s in c.methods],
                "providers": [{"provider": s.key, **_figures_json(s.figures)} for s in c.providers],
            }
            for c in found.currencies
        ],
    }


def _period_name(found: Report, line: reports.PeriodLine) -> str:
    if found.query.by == "month":
        return line.period.strftime("%Y-%m")
    if found.query.by == "week":
        return f"week {line.period.isoformat()}"
    return line.period.isoformat()


def _row(name: str, figures: Figures) -> str:
    return (
        f"  {name:<20} {figures.collected.amount:>12f} {figures.refunded.amount:>12f} "
        f"{figures.net.amount:>12f} {figures.payments:>9}"
    )


def _currency_lines(found: Report, report: CurrencyReport) -> list[str]:
    heading = f"  {'':<20} {'collected':>12} {'refunded':>12} {'net':>12} {'payments':>9}"
    lines = [report.currency, heading]
    lines += [_row(_period_name(found, line), line.figures) for line in report.periods]
    lines.append(_row("total", report.total))
    lines.append("  by method")
    lines += [_row(METHOD_NAMES.get(s.key or "", s.key or "-"), s.figures) for s in report.methods]
    lines.append("  by provider")
    lines += [_row(s.key or "none", s.figures) for s in report.providers]
    return lines


def report_lines(found: Report) -> list[str]:
    query = found.query
    lines = [
        f"report from {query.first_day.isoformat()} to {query.last_day.isoformat()} ({found.timezone}), "
        f"by {query.by}"
    ]
    if found.empty:
        return [*lines, "no payment in this period"]
    for report in found.currencies:
        lines += _currency_lines(found, report)
    return lines


class _Counted:
    def __init__(self, rows: AsyncIterator[PaymentRow]) -> None:
        self.rows = rows
        self.count = 0

    async def __aiter__(self) -> AsyncIterator[PaymentRow]:
        async for row in self.rows:
            self.count += 1
            yield row


async def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        try:
            vendor, query = await reports.vendor_query(
                uow, args.vendor, system_clock(), start=args.start, end=args.end, by=args.by,
                method=args.method, status=args.status, provider=args.provider, customer=args.customer,
                order=args.order,
            )  # fmt: skip
        except ReportFilterError as error:
            return _fail(f"error: {explain(error, CLI_LOCALE)}", 2)
        to_stdout = args.csv == "-"
        if args.csv is not None:
            counted = _Counted(reports.payment_rows(uow, vendor, query))
            chunks = reports.csv_chunks(counted.__aiter__(), vendor.timezone)
            if to_stdout:
                out = getattr(sys.stdout, "buffer", None)
                sys.stdout.flush()
                async for chunk in chunks:
                    if out is None:
                        sys.stdout.write(chunk)
                    else:
                        out.write(chunk.encode("utf-8"))
                if out is not None:
                    out.flush()
                return 0
            try:
                file = await asyncio.to_thread(Path(args.csv).open, "w", encoding="utf-8", newline="")
            except OSError as error:
                return _fail(f"error: cannot write {args.csv}: {error.strerror or error}", 2)
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(file.write, chunk)
            finally:
                file.close()
        found = await reports.report(uow, vendor, query)
        if args.json:
            _print_json(report_json(found))
            return 0
        lines = report_lines(found)
        if args.csv is not None:
            lines.append(f"{counted.count} payment(s) written to {args.csv}")
        print("\n".join(lines))
        return 0

    return await _with_store(settings, work)
