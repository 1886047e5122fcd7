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
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, NoReturn

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.bootstrap import SchemaOutOfDate, prepare_schema
from bot.config import ConfigError, Settings, load_settings
from bot.domain.deposit import AskKind
from bot.domain.errors import DomainError
from bot.domain.order import OrderStatus
from bot.domain.vendor import SECRET_SETTINGS, TEMPLATE_PREFIX, TEXT_PREFIX, ProviderName, describe_settings
from bot.payments.registry import ProviderRegistry
from bot.rendering import explain
from bot.services import acceptance, refunds
from bot.services import customers as customer_service
from bot.services import icount as icount_service
from bot.services import orders as order_service
from bot.services import payments as payment_service
from bot.services import reminders as reminder_service
from bot.services import vendors as vendor_service
from bot.services.clock import system_clock
from bot.services.context import PaymentDeps
from bot.services.secrets import CredentialCipher
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
from bot.web.app import create_app

CLI_LOCALE = "en"
Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


class UsageError(Exception):
    """A bad argument, reported in one line with exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


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
            print(f"{v.name}  {v.id}  {v.currency} {v.locale} {v.timezone}  {v.payment.provider}  {admins}")
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
            check = await icount_service.check_provider(deps, args.vendor)
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
                order, transaction, ledger = await payment_service.record_cash_payment(
                    deps, args.vendor, args.number, args.cash
                )
                print(f"cash payment of {transaction.amount} recorded for {order.reference}: "
                      f"order {order.status}, paid {ledger.paid}, balance {ledger.balance}")  # fmt: skip
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


def run_server(settings: Settings, host: str, port: int) -> int:
    base = settings.public_base_url or f"http://{host}:{port}"

    def announce(_message: str) -> None:
        print(f"bot listening on http://{host}:{port} (public URL {base})", flush=True)
        if settings.sandbox_whatsapp:
            print("sandbox mode: no WhatsApp credentials, messages go to the built-in fake WhatsApp")
            print(f"open the sandbox (the vendor's phone and a customer's): {base}/sandbox", flush=True)
        print(f"payment provider: {settings.effective_provider}; health: {base}/healthz", flush=True)

    if settings.public_base_url is None:
        settings = settings.model_copy(update={"public_base_url": base})
    try:
        app = create_app(settings, sandbox_demo=True)
        web.run_app(app, host=host, port=port, print=announce, access_log=None)
    except OSError as error:
        if error.errno in {errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL}:
            return _fail(f"cannot listen on {host}:{port}: {error.strerror}", 1)
        raise
    return 0


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="bot", description="WhatsApp payment agent for small vendors.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    serve = commands.add_parser("serve", help="run webhooks, scheduler and outbox sender")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)

    commands.add_parser("migrate", help="create or upgrade the schema of DATABASE_URL").set_defaults(
        handler=cmd_migrate
    )

    vendor = commands.add_parser("vendor", help="vendors and their settings").add_subparsers(
        dest="vendor_command", required=True, parser_class=OneLineParser
    )
    add = vendor.add_parser("add", help="add a vendor")
    add.add_argument("--name", required=True)
    add.add_argument("--admin", action="append", required=True, metavar="PHONE")
    add.add_argument("--phone-id", dest="phone_id")
    add.add_argument("--provider", choices=[p.value for p in ProviderName], default="sandbox")
    add.add_argument("--currency", default="EUR")
    add.add_argument("--locale", default="fr")
    add.add_argument("--timezone", default="Europe/Paris")
    add.set_defaults(handler=cmd_vendor_add)
    listing = vendor.add_parser("list", help="list vendors")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_vendor_list)
    setter = vendor.add_parser("set", help="change settings: KEY=VALUE ...")
    setter.add_argument("--vendor")
    setter.add_argument("pairs", nargs="+", type=_setting_pair, metavar="KEY=VALUE")
    setter.set_defaults(handler=cmd_vendor_set)
    show = vendor.add_parser("show", help="show a vendor's settings")
    show.add_argument("--vendor")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_vendor_show)
    check = vendor.add_parser("check", help="test the connection to the vendor's payment provider")
    check.add_argument("--vendor")
    check.set_defaults(handler=cmd_vendor_check)

    order = commands.add_parser("order", help="orders").add_subparsers(
        dest="order_command", required=True, parser_class=OneLineParser
    )
    create = order.add_parser("create", help="create an order")
    create.add_argument("--vendor")
    create.add_argument("--customer", required=True, metavar="PHONE")
    create.add_argument("--price", required=True, metavar="AMOUNT")
    create.add_argument("--label", default="")
    create.add_argument("--accept", action="store_true", help="accept it at once")
    create.set_defaults(handler=cmd_order_create)
    accept = order.add_parser("accept", help="accept a pending order")
    accept.add_argument("number", type=_order_number, metavar="N")
    accept.add_argument("--vendor")
    accept.set_defaults(handler=cmd_order_accept)
    orders = order.add_parser("list", help="list orders, newest first")
    orders.add_argument("--vendor")
    orders.add_argument("--status", action="append", choices=[s.value for s in OrderStatus])
    orders.add_argument("--limit", type=int, default=50)
    orders.add_argument("--json", action="store_true")
    orders.set_defaults(handler=cmd_order_list)
    detail = order.add_parser("show", help="an order with its transactions and links")
    detail.add_argument("number", type=_order_number, metavar="N")
    detail.add_argument("--vendor")
    detail.add_argument("--json", action="store_true")
    detail.set_defaults(handler=cmd_order_show)
    reminders = commands.add_parser("reminders", help="payment reminders").add_subparsers(
        dest="reminders_command", required=True, parser_class=OneLineParser
    )
    reminders.add_parser("run", help="one sweep now: queue the reminders that are due").set_defaults(
        handler=cmd_reminders_run
    )

    pay = commands.add_parser("pay", help="ask the customer to pay, or record a cash payment")
    pay.add_argument("number", type=_order_number, metavar="N")
    pay.add_argument("--vendor")
    how = pay.add_mutually_exclusive_group(required=True)
    how.add_argument("--deposit", metavar="AMOUNT|PCT%", help="a deposit: an amount or a percentage")
    how.add_argument("--full", action="store_true", help="the full price")
    how.add_argument("--balance", action="store_true", help="all that remains to be paid")
    how.add_argument("--cash", metavar="AMOUNT", help="record money taken at the register")
    pay.set_defaults(handler=cmd_pay)

    refund = commands.add_parser(
        "refund", help="refund an order's payments, in full or in part, the latest payments first"
    )
    refund.add_argument("number", type=_order_number, metavar="N")
    refund.add_argument("--vendor")
    how_much = refund.add_mutually_exclusive_group()
    how_much.add_argument("--amount", metavar="AMOUNT", help="a partial refund (default: all that was paid)")
    how_much.add_argument(
        "--resolve",
        choices=["made", "not-made"],
        help="record what the provider's dashboard shows for a refund of unknown outcome",
    )
    refund.set_defaults(handler=cmd_refund)

    customer = commands.add_parser("customer", help="customers and their language").add_subparsers(
        dest="customer_command", required=True, parser_class=OneLineParser
    )
    people = customer.add_parser("list", help="list the vendor's customers")
    people.add_argument("--vendor")
    people.add_argument("--json", action="store_true")
    people.set_defaults(handler=cmd_customer_list)
    person = customer.add_parser("show", help="one customer")
    person.add_argument("phone", metavar="PHONE")
    person.add_argument("--vendor")
    person.add_argument("--json", action="store_true")
    person.set_defaults(handler=cmd_customer_show)
    change = customer.add_parser("set", help="set a customer's locale (fr, en, he, default) or name")
    change.add_argument("phone", metavar="PHONE")
    change.add_argument("pairs", nargs="+", type=_setting_pair, metavar="KEY=VALUE")
    change.add_argument("--vendor")
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
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic announces its context on every connection; only `bot migrate` should talk about schemas.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            return run_server(settings, args.host, args.port)
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
