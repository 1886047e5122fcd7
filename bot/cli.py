"""The ``bot`` command: serve, migrate, vendors and orders (DESIGN.md §4).

Every failure ends in one line on stderr and a non-zero exit: 2 for bad arguments or settings, 1 for a
refused operation or an unreachable database. Never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, NoReturn

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.app import create_app
from bot.bootstrap import SchemaOutOfDate, prepare_schema
from bot.config import ConfigError, LogFormat, Settings, load_settings
from bot.domain.deposit import AskKind
from bot.domain.errors import DomainError
from bot.domain.order import OrderStatus
from bot.domain.vendor import SECRET_SETTINGS, TEMPLATE_PREFIX, TEXT_PREFIX, ProviderName, describe_settings
from bot.payments.credentials import CredentialCipher
from bot.payments.registry import ProviderRegistry
from bot.rendering import explain
from bot.services import acceptance, refunds
from bot.services import customers as customer_service
from bot.services import orders as order_service
from bot.services import payments as payment_service
from bot.services import providers as provider_service
from bot.services import reminders as reminder_service
from bot.services import vendors as vendor_service
from bot.services.clock import system_clock
from bot.services.context import PaymentDeps
from bot.store import migrate
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from bot.views import (
    customer_json,
    customer_line,
    order_json,
    order_lines,
    shown_setting,
    vendor_json,
    vendor_lines,
)

CLI_LOCALE = "en"
DISTRIBUTION = "whatsapp-payment-bot"
TEXT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every HTTP call at INFO: heard only with LOG_LEVEL=DEBUG.
CHATTY_LOGGERS = ("httpx", "httpcore")
LISTEN_BACKLOG = 128
# A port in use or reserved, an address not of this machine: one line, not a traceback.
CANNOT_LISTEN = frozenset({errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL})
Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


class UsageError(Exception):
    """A bad argument, reported in one line with exit status 2."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default after its help, unless it has none worth showing or its help says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if default is None or default is False or default == "" or "default" in text:
            return text
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def package_version() -> str:
    """The installed version of the bot, or "unknown" when it runs from a tree that is not installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and exc_info if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: LogFormat) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonLogFormatter() if log_format is LogFormat.JSON else logging.Formatter(TEXT_LOG_FORMAT)
    )
    logging.basicConfig(level=level, handlers=[handler])
    # Alembic announces its context on every connection; only `bot migrate` should talk about schemas.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)


def _port(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number from 0 to 65535")
    return int(text)


def _order_number(text: str) -> int:
    cleaned = text.strip().removeprefix("#")
    if not cleaned.isdigit() or int(cleaned) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an order number such as 12 or #12")
    return int(cleaned)


def _setting_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


async def _with_store(settings: Settings, work: Callable[[UnitOfWorkFactory], Awaitable[int]]) -> int:
    engine = create_engine(settings.database_url, pool_size=2)
    try:
        await prepare_schema(engine, settings)
        return await work(UnitOfWorkFactory(engine))
    finally:
        await engine.dispose()


async def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        before = await migrate.current_revision(engine)
        await migrate.upgrade(engine)
        after = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    was = "already up to date" if before == after else f"was {before or 'empty'}"
    print(f"schema at {after} ({was})")
    return 0


async def cmd_vendor_add(args: argparse.Namespace, settings: Settings) -> int:
    new = vendor_service.NewVendor(
        name=args.name,
        admin_phones=args.admin,
        currency=args.currency,
        locale=args.locale,
        timezone=args.timezone,
        provider=ProviderName(args.provider),
        phone_number_id=args.phone_id,
        deposit_percent=settings.default_deposit_percent,
        reminder_schedule=settings.reminder_offsets,
        quiet_hours=settings.quiet_hours,
    )

    async def work(uow: UnitOfWorkFactory) -> int:
        summary = await vendor_service.add_vendor(uow, new, system_clock())
        print(f"vendor {summary.vendor.name!r} added, id {summary.vendor.id}")
        return 0

    return await _with_store(settings, work)


async def cmd_vendor_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        summaries = await vendor_service.list_vendors(uow)
        if args.json:
            _print_json([vendor_json(s) for s in summaries])
        elif not summaries:
            print("no vendor yet: bot vendor add --name NAME --admin +33612345678")
        for summary in [] if args.json else summaries:
            v = summary.vendor
            admins = ", ".join(f"+{p}" for p in summary.admin_phones) or "no admin"
            where = f"{v.currency} {v.locale} {v.timezone}"
            print(f"{v.name}  {v.short_id}  {where}  {v.payment.provider}  {admins}")
        return 0

    return await _with_store(settings, work)


async def cmd_vendor_set(args: argparse.Namespace, settings: Settings) -> int:
    cipher = None if settings.secret_key is None else CredentialCipher(settings.secret_key.get_secret_value())

    async def work(uow: UnitOfWorkFactory) -> int:
        summary = await vendor_service.change_settings(uow, args.vendor, args.pairs, cipher, system_clock())
        current = describe_settings(summary.vendor)
        templates = summary.vendor.whatsapp_templates
        for key, value in args.pairs:
            name = key.strip().lower()
            if name in SECRET_SETTINGS:
                shown: object = "(stored encrypted)" if value.strip() else "(removed)"
            elif name.startswith(TEMPLATE_PREFIX):
                shown = templates.get(name.removeprefix(TEMPLATE_PREFIX), "(none)")
            elif name.startswith(TEXT_PREFIX):
                shown = "(set)" if value.strip() else "(back to the default)"
            else:
                shown = shown_setting(current.get(name))
            print(f"{name} = {shown}")
        return 0

    return await _with_store(settings, work)


async def cmd_vendor_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        summary = await vendor_service.show_vendor(uow, args.vendor)
        if args.json:
            _print_json(vendor_json(summary))
        else:
            print("\n".join(vendor_lines(summary)))
        return 0

    return await _with_store(settings, work)


async def cmd_vendor_check(args: argparse.Namespace, settings: Settings) -> int:
    """The connection test: the vendor's provider credentials tried against the provider (auth/info)."""

    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            check = await provider_service.check_provider(deps, args.vendor)
        finally:
            await deps.providers.close()
        if check.ok:
            print(f"{check.provider}: connected" + (f" ({check.company})" if check.company else ""))
            return 0
        return _fail(f"{check.provider}: connection failed: {check.detail}", 1)

    return await _with_store(settings, work)


def _acceptance_lines(accepted: acceptance.Accepted, first: str) -> list[str]:
    lines = [first]
    if accepted.request is not None:
        transaction = accepted.request.transaction
        lines.append(
            f"payment request sent: {transaction.label}, {transaction.amount}, {accepted.request.url}"
        )
    elif accepted.problem is not None:
        lines.append(f"no payment request sent: {explain(accepted.problem, CLI_LOCALE)}")
    return lines


async def cmd_order_create(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            accepted = await acceptance.create_order(
                deps, args.vendor, args.customer, args.price, args.label, args.accept
            )
        finally:
            await deps.providers.close()
        order = accepted.order
        price = "no price" if order.price is None else str(order.price)
        print(
            "\n".join(
                _acceptance_lines(accepted, f"order {order.reference} created, {order.status}, {price}")
            )
        )
        return 0

    return await _with_store(settings, work)


async def cmd_order_accept(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            accepted = await acceptance.accept_order(deps, args.vendor, args.number)
        finally:
            await deps.providers.close()
        order = accepted.order
        print("\n".join(_acceptance_lines(accepted, f"order {order.reference} {order.status}")))
        return 0

    return await _with_store(settings, work)


async def cmd_order_list(args: argparse.Namespace, settings: Settings) -> int:
    statuses = {OrderStatus(s) for s in args.status} if args.status else None

    async def work(uow: UnitOfWorkFactory) -> int:
        found = await order_service.list_orders(uow, args.vendor, statuses, args.limit)
        if args.json:
            _print_json([{"number": o.number, "status": o.status.value, "label": o.label,
                          "price": None if o.price is None else f"{o.price.amount:f}",
                          "currency": o.currency, "created_at": o.created_at.isoformat()}
                         for o in found])  # fmt: skip
            return 0
        if not found:
            print("no order")
        for o in found:
            price = "-" if o.price is None else str(o.price)
            print(f"{o.reference:>6}  {o.status:<11}  {price:>14}  {o.label}")
        return 0

    return await _with_store(settings, work)


async def cmd_order_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        view = await order_service.show_order(uow, args.vendor, args.number)
        if args.json:
            _print_json(order_json(view))
        else:
            print("\n".join(order_lines(view)))
        return 0

    return await _with_store(settings, work)


def _payment_deps(settings: Settings, uow: UnitOfWorkFactory) -> PaymentDeps:
    secret = settings.secret_key
    cipher = None if secret is None else CredentialCipher(secret.get_secret_value())
    return PaymentDeps(uow, ProviderRegistry(settings, cipher), settings.base_url, system_clock)


async def cmd_pay(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            if args.cash is not None:
                cash = await payment_service.record_cash_payment(deps, args.vendor, args.number, args.cash)
                order, ledger = cash.order, cash.ledger
                print(f"cash payment of {cash.transaction.amount} recorded for {order.reference}: "
                      f"order {order.status}, paid {ledger.paid}, balance {ledger.balance}")  # fmt: skip
                for stopped in cash.cancelled:
                    print(f"open request cancelled (its link stopped): {stopped.label}, {stopped.amount}")
                return 0
            if args.full:
                ask, typed = AskKind.FULL, None
            elif args.balance:
                ask, typed = AskKind.BALANCE, None
            else:
                ask, typed = AskKind.DEPOSIT, args.deposit
            outcome = await payment_service.request_payment(deps, args.vendor, args.number, ask, typed)
            print(f"{outcome.transaction.label}: {outcome.transaction.amount} requested, "
                  f"link {outcome.url}")  # fmt: skip
            return 0
        finally:
            await deps.providers.close()

    return await _with_store(settings, work)


async def cmd_refund(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            if args.resolve is not None:
                settled = await refunds.settle_by_hand(deps, args.vendor, args.number, args.resolve == "made")
                for refund in settled:
                    print(f"refund of {refund.amount} on #{args.number} recorded as {args.resolve}")
                return 0
            outcome = await refunds.refund(deps, args.vendor, args.number, args.amount)
        finally:
            await deps.providers.close()
        ledger = outcome.ledger
        print(
            f"{outcome.amount} refunded on {outcome.order.reference}: paid {ledger.received}, "
            f"refunded {ledger.refunded} in all, net {ledger.paid}; order {outcome.order.status}"
        )
        return 0

    return await _with_store(settings, work)


async def cmd_customer_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        found = await customer_service.list_customers(uow, args.vendor)
        if args.json:
            _print_json([customer_json(c) for c in found])
            return 0
        if not found:
            print("no customer yet")
        for customer in found:
            print(customer_line(customer))
        return 0

    return await _with_store(settings, work)


async def cmd_customer_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        customer = await customer_service.show_customer(uow, args.vendor, args.phone)
        if args.json:
            _print_json(customer_json(customer))
        else:
            print(customer_line(customer))
        return 0

    return await _with_store(settings, work)


async def cmd_customer_set(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        customer = await customer_service.set_customer(
            uow, args.vendor, args.phone, args.pairs, system_clock()
        )
        print(customer_line(customer))
        return 0

    return await _with_store(settings, work)


async def cmd_reminders_run(_args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        queued = await reminder_service.sweep_all(uow, system_clock)
        print(f"{queued} reminders queued")
        return 0

    return await _with_store(settings, work)


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """``host:port`` bound and listening, on each of its addresses as aiohttp would bind them."""
    bound: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            if (family, address) in seen:
                continue
            seen.add((family, address))
            listener = socket.socket(family, kind, proto)
            bound.append(listener)
            if os.name == "posix":  # a restart is not refused for the last run's connections in TIME_WAIT
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # "::" and "0.0.0.0" side by side, as asyncio does
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # --port 0: the first address gets a free port, the others the same one.
            listener.bind((address[0], port, *address[2:]))
            listener.listen(LISTEN_BACKLOG)
            port = int(listener.getsockname()[1])
    except OSError:
        for listener in bound:
            listener.close()
        raise
    return bound


def run_server(settings: Settings, host: str, port: int) -> int:
    # The port first: one in use stops here, before the app touches the database or sends a message.
    try:
        sockets = listening_sockets(host, port)
    except OSError as error:
        if isinstance(error, socket.gaierror) or error.errno in CANNOT_LISTEN:
            return _fail(f"cannot listen on {host}:{port}: {error.strerror}", 1)
        raise
    port = int(sockets[0].getsockname()[1])
    base = settings.public_base_url or f"http://{host}:{port}"
    # Links made by other `bot` commands (bot pay ...) use PUBLIC_BASE_URL, else HOST and PORT.
    elsewhere = settings.public_base_url is None and base != settings.base_url

    def announce(_message: str) -> None:
        print(f"bot listening on http://{host}:{port} (public URL {base})", flush=True)
        if elsewhere:
            print(
                f"note: links made by other bot commands point to {settings.base_url}: set PORT={port}"
                f" (and HOST={host}) or PUBLIC_BASE_URL={base} for them too",
                flush=True,
            )
        if settings.sandbox_whatsapp:
            print("sandbox mode: no WhatsApp credentials, messages go to the built-in fake WhatsApp")
            print(f"open the sandbox (the vendor's phone and a customer's): {base}/sandbox", flush=True)
        print(f"payment provider: {settings.effective_provider}; health: {base}/healthz", flush=True)

    if settings.public_base_url is None:
        settings = settings.model_copy(update={"public_base_url": base})
    try:
        app = create_app(settings, sandbox_demo=True)
        web.run_app(app, sock=sockets, print=announce, access_log=None)
    finally:
        for listener in sockets:
            listener.close()
    return 0


def _command(commands: argparse._SubParsersAction[OneLineParser], name: str, text: str) -> OneLineParser:
    """A command whose one-line help (in its group's list) is also the description its --help opens with."""
    return commands.add_parser(name, help=text, description=text)


def _group(
    commands: argparse._SubParsersAction[OneLineParser], name: str, text: str
) -> argparse._SubParsersAction[OneLineParser]:
    return _command(commands, name, text).add_subparsers(
        dest=f"{name}_command", required=True, parser_class=OneLineParser
    )


def _vendor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vendor",
        metavar="NAME|ID",
        help="the vendor's name or short id (`bot vendor list` shows both); needed only with several vendors",
    )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _order_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", type=_order_number, metavar="N", help="the order number, such as 12 or #12")


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="bot", description="WhatsApp payment agent for small vendors.")
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {package_version()}",
        help="print the version and exit",
    )
    parser.add_argument(
        "--log-format",
        type=str.lower,
        choices=[f.value for f in LogFormat],
        help="log lines as text or as JSON, one object a line (default: LOG_FORMAT, else text)",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    serve = _command(commands, "serve", "run webhooks, scheduler and outbox sender")
    serve.add_argument("--host", help="the address to listen on (default: HOST, else 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, help="the port to listen on, 0 for any free one (default: PORT, else 8080)"
    )

    _command(commands, "migrate", "create or upgrade the schema of DATABASE_URL").set_defaults(
        handler=cmd_migrate
    )

    vendor = _group(commands, "vendor", "vendors and their settings")
    add = _command(vendor, "add", "add a vendor")
    add.add_argument("--name", required=True, help="the vendor's name, as --vendor takes it")
    add.add_argument(
        "--admin",
        action="append",
        required=True,
        metavar="PHONE",
        help="an admin's international number, such as +33612345678 (repeat for several); "
        "a number already admin of another vendor is refused",
    )
    add.add_argument(
        "--phone-id",
        dest="phone_id",
        help="the id of the vendor's own WhatsApp business number (default: the bot's, WHATSAPP_PHONE_ID)",
    )
    add.add_argument(
        "--provider", choices=[p.value for p in ProviderName], default="sandbox", help="the payment provider"
    )
    add.add_argument("--currency", default="EUR", help="the vendor's currency, an ISO code")
    add.add_argument("--locale", default="fr", help="the vendor's language: fr, en or he")
    add.add_argument(
        "--timezone", default="Europe/Paris", help="the vendor's time zone, for dates and quiet hours"
    )
    add.set_defaults(handler=cmd_vendor_add)
    listing = _command(
        vendor, "list", "list vendors: name, short id, currency, language, zone, provider, admins"
    )
    _json_option(listing)
    listing.set_defaults(handler=cmd_vendor_list)
    setter = _command(vendor, "set", "change settings: KEY=VALUE ..., all applied or none")
    _vendor_option(setter)
    setter.add_argument(
        "pairs", nargs="+", type=_setting_pair, metavar="KEY=VALUE", help="a setting and its new value"
    )
    setter.set_defaults(handler=cmd_vendor_set)
    show = _command(vendor, "show", "show a vendor's settings")
    _vendor_option(show)
    _json_option(show)
    show.set_defaults(handler=cmd_vendor_show)
    check = _command(vendor, "check", "test the connection to the vendor's payment provider")
    _vendor_option(check)
    check.set_defaults(handler=cmd_vendor_check)

    order = _group(commands, "order", "orders")
    create = _command(order, "create", "create an order")
    _vendor_option(create)
    create.add_argument(
        "--customer", required=True, metavar="PHONE", help="the customer's international number"
    )
    create.add_argument("--price", required=True, metavar="AMOUNT", help="the price, such as 150 or 45,50")
    create.add_argument("--label", default="", help="what is ordered (default: no label)")
    create.add_argument("--accept", action="store_true", help="accept it at once")
    create.set_defaults(handler=cmd_order_create)
    accept = _command(order, "accept", "accept a pending order")
    _order_argument(accept)
    _vendor_option(accept)
    accept.set_defaults(handler=cmd_order_accept)
    orders = _command(order, "list", "list orders, newest first")
    _vendor_option(orders)
    orders.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in OrderStatus],
        help="only orders in this status (repeat for several; default: every status)",
    )
    orders.add_argument("--limit", type=int, default=50, help="at most this many orders")
    _json_option(orders)
    orders.set_defaults(handler=cmd_order_list)
    detail = _command(order, "show", "an order with its transactions and links")
    _order_argument(detail)
    _vendor_option(detail)
    _json_option(detail)
    detail.set_defaults(handler=cmd_order_show)
    reminders = _group(commands, "reminders", "payment reminders")
    _command(reminders, "run", "one sweep now: queue the reminders that are due").set_defaults(
        handler=cmd_reminders_run
    )

    pay = _command(commands, "pay", "ask the customer to pay, or record a cash payment")
    _order_argument(pay)
    _vendor_option(pay)
    how = pay.add_mutually_exclusive_group(required=True)
    how.add_argument("--deposit", metavar="AMOUNT|PCT%", help="a deposit: an amount or a percentage")
    how.add_argument("--full", action="store_true", help="the full price")
    how.add_argument("--balance", action="store_true", help="all that remains to be paid")
    how.add_argument("--cash", metavar="AMOUNT", help="record money taken at the register")
    pay.set_defaults(handler=cmd_pay)

    refund = _command(
        commands, "refund", "refund an order's payments, in full or in part, the latest payments first"
    )
    _order_argument(refund)
    _vendor_option(refund)
    how_much = refund.add_mutually_exclusive_group()
    how_much.add_argument("--amount", metavar="AMOUNT", help="a partial refund (default: all that was paid)")
    how_much.add_argument(
        "--resolve",
        choices=["made", "not-made"],
        help="record what the provider's dashboard shows for a refund of unknown outcome",
    )
    refund.set_defaults(handler=cmd_refund)

    customer = _group(commands, "customer", "customers and their language")
    people = _command(customer, "list", "list the vendor's customers")
    _vendor_option(people)
    _json_option(people)
    people.set_defaults(handler=cmd_customer_list)
    person = _command(customer, "show", "one customer")
    person.add_argument("phone", metavar="PHONE", help="the customer's international number")
    _vendor_option(person)
    _json_option(person)
    person.set_defaults(handler=cmd_customer_show)
    change = _command(customer, "set", "set a customer's locale (fr, en, he, default) or name")
    change.add_argument("phone", metavar="PHONE", help="the customer's international number")
    change.add_argument(
        "pairs",
        nargs="+",
        type=_setting_pair,
        metavar="KEY=VALUE",
        help="locale=fr|en|he|default or name=NAME",
    )
    _vendor_option(change)
    change.set_defaults(handler=cmd_customer_set)
    return parser


def _fail(message: str, status: int) -> int:
    print(f"bot: {message}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        settings = load_settings()
    except UsageError as error:
        return _fail(f"error: {error}", 2)
    except ConfigError as error:
        return _fail(str(error), 2)
    configure_logging(settings.log_level, LogFormat(args.log_format or settings.log_format))
    try:
        if args.command == "serve":
            host = settings.host if args.host is None else args.host
            return run_server(settings, host, settings.port if args.port is None else args.port)
        command: Command = args.handler
        return asyncio.run(command(args, settings))
    except DomainError as error:
        return _fail(explain(error, CLI_LOCALE), 1)
    except SchemaOutOfDate as error:
        return _fail(str(error), 1)
    except (OSError, SQLAlchemyError) as error:
        return _fail(f"cannot use the database: {_first_line(error)}", 1)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        return _fail(f"unexpected {type(error).__name__}: {_first_line(error)}", 1)


def _first_line(error: BaseException) -> str:
    origin = getattr(error, "orig", None) or error
    text = str(origin).strip().splitlines()
    return text[0] if text else type(origin).__name__
