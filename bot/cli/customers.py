"""``bot customer``: list, show and set a vendor's customers; ``bot customers sync``: all of them to the
provider's clients (iCount), resumable, with a progress bar in a terminal (plain lines otherwise)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.common import _payment_deps, _print_json, _with_store
from bot.config import Settings
from bot.domain.customer import Customer
from bot.services import customer_sync, customers as customer_service
from bot.services.customer_sync import BatchReport, SyncOutcome
from bot.store.uow import UnitOfWorkFactory
from bot.views import customer_json, customer_line


def customer_details(customer: Customer) -> dict[str, Any]:
    """``customer list`` and ``show``: the order's customer fields, with the email and the client sync."""
    synced_at = customer.client_synced_at
    return {
        **customer_json(customer),
        "email": customer.email,
        "client_sync": {
            # None: not synced (the provider keeps no clients, or not yet).
            "state": None if customer.client_sync_state is None else customer.client_sync_state.value,
            "error": customer.client_sync_error,
            "synced_at": None if synced_at is None else synced_at.isoformat(),
        },
    }


def details_line(customer: Customer) -> str:
    line = customer_line(customer)
    if customer.email:
        line += f"  {customer.email}"
    state = customer.client_sync_state
    if state is not None:
        line += f"  client {state.value}"
        if customer.client_sync_error:
            line += f" ({customer.client_sync_error})"
    return line


async def cmd_customer_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        found = await customer_service.list_customers(uow, args.vendor)
        if args.json:
            _print_json([customer_details(c) for c in found])
            return 0
        if not found:
            print("no customer yet")
        for customer in found:
            print(details_line(customer))
        return 0

    return await _with_store(settings, work)


async def cmd_customer_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        customer = await customer_service.show_customer(uow, args.vendor, args.phone)
        if args.json:
            _print_json(customer_details(customer))
        else:
            print(details_line(customer))
        return 0

    return await _with_store(settings, work)


async def cmd_customer_set(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            customer, _ = await customer_sync.change_customer(deps, args.vendor, args.phone, args.pairs)
        finally:
            await deps.providers.close()
        print(details_line(customer))
        return 0

    return await _with_store(settings, work)


def report_json(report: BatchReport) -> dict[str, Any]:
    return {
        "vendor": report.vendor,
        "provider": report.provider,
        "client_sync": report.keeps_clients,
        "total": report.total,
        "created": report.created,
        "updated": report.updated,
        "failed": report.failed,
        "changed_meanwhile": report.changed,
        "errors": dict(sorted(report.errors.items())),
    }


def report_lines(report: BatchReport) -> list[str]:
    if not report.keeps_clients:
        return [f"{report.provider} keeps no clients: nothing to sync for {report.vendor}"]
    lines = [
        f"customers synced to {report.provider}: {report.created} created, {report.updated} updated, "
        f"{report.failed} failed (of {report.total} to sync)"
    ]
    if report.changed:
        lines.append(f"{report.changed} changed while being sent: the job sends their new version")
    for reason, count in sorted(report.errors.items()):
        lines.append(f"failed ({count}): {reason}")
    if report.failed:
        lines.append("run `bot customers sync` again to retry the failed ones")
    return lines


@contextmanager
def _progress(show: bool) -> Iterator[customer_sync.Progress | None]:
    """A rich progress bar on a terminal; plain lines (one per 10 customers, and the last) otherwise;
    nothing with --json."""
    if not show:
        yield None
        return
    if sys.stdout.isatty():
        columns = (TextColumn("customers"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("sync", total=None)

            def tick(report: BatchReport, customer: Customer, outcome: SyncOutcome) -> None:
                bar.update(task, total=report.total, completed=report.done)

            yield tick
        return

    def line(report: BatchReport, customer: Customer, outcome: SyncOutcome) -> None:
        if report.done % 10 == 0 or report.done >= report.total:
            print(f"{report.done}/{report.total} customers sent ({report.failed} failed)", flush=True)

    yield line


async def cmd_customers_sync(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            with _progress(not args.json) as on_progress:
                report = await customer_sync.sync_all_customers(deps, args.vendor, on_progress)
        finally:
            await deps.providers.close()
        if args.json:
            _print_json(report_json(report))
        else:
            for text in report_lines(report):
                print(text)
        return 1 if report.failed else 0

    return await _with_store(settings, work)
