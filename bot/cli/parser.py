"""The arguments of the ``bot`` command: its parser, whose errors are one line, and its argument types."""

from __future__ import annotations

import argparse
from importlib import metadata
from typing import Any, NoReturn

from bot.cli.admin import cmd_admin_link
from bot.cli.cards import cmd_customer_cards, cmd_customer_forget_card, cmd_guarantee
from bot.cli.customers import cmd_customer_list, cmd_customer_set, cmd_customer_show, cmd_customers_sync
from bot.cli.doctor import cmd_doctor, cmd_doctor_bad_settings
from bot.cli.orders import cmd_order_accept, cmd_order_create, cmd_order_list, cmd_order_show
from bot.cli.payments import cmd_pay, cmd_refund, cmd_reminders_run
from bot.cli.products import cmd_product_add, cmd_product_disable, cmd_product_list, cmd_product_set
from bot.cli.reports import cmd_report
from bot.cli.schema import cmd_migrate
from bot.cli.serve import cmd_worker
from bot.cli.vendors import cmd_vendor_add, cmd_vendor_check, cmd_vendor_list, cmd_vendor_set, cmd_vendor_show
from bot.config import LogFormat
from bot.domain.order import OrderStatus
from bot.domain.vendor import ProviderName

DISTRIBUTION = "whatsapp-payment-bot"


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


def _item(text: str) -> tuple[str, int]:
    """``--item gateau-choc:2`` (or ``--item livraison``, one): a product's SKU or name and a quantity."""
    reference, colon, quantity = text.rpartition(":")
    if not colon or not quantity.strip().isdigit():
        reference, quantity = text, "1"
    if not reference.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a product such as gateau-choc:2")
    return reference.strip(), int(quantity)


def _order_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", type=_order_number, metavar="N", help="the order number, such as 12 or #12")


def _process_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of processes: {value}") from None
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"between 1 and 64 processes, not {value}")
    return count


def _worker_count(value: str) -> int:
    return 0 if value.strip() == "0" else _process_count(value)


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
    serve.add_argument(
        "--workers",
        type=_process_count,
        help="webhook processes sharing the port, with --processors inbox worker processes beside them "
        "(needs Postgres and WhatsApp credentials); without it one process runs everything",
    )
    serve.add_argument(
        "--processors",
        type=_worker_count,
        default=1,
        help="beside several webhook processes: how many inbox worker processes (bot worker) to start "
        "(default: 1) (0 when they run elsewhere)",
    )

    worker = _command(commands, "worker", "process the inbox (messages, statuses), send the outbox, run jobs")
    worker.add_argument(
        "--lease",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long a claimed inbox batch is kept from other workers (default: 120.0); a worker stopped "
        "mid-batch leaves its events to be taken again after it",
    )
    worker.set_defaults(handler=cmd_worker)

    _command(commands, "migrate", "create or upgrade the schema of DATABASE_URL").set_defaults(
        handler=cmd_migrate
    )

    doctor = _command(
        commands,
        "doctor",
        "check this deployment: settings, database, public URL, WhatsApp, templates, providers, webhook "
        "secrets; one line each, exit status 1 if any fails",
    )
    _json_option(doctor)
    doctor.set_defaults(handler=cmd_doctor, on_config_error=cmd_doctor_bad_settings)

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
    priced = create.add_mutually_exclusive_group(required=True)
    priced.add_argument("--price", metavar="AMOUNT", help="the price, such as 150 or 45,50")
    priced.add_argument(
        "--item",
        action="append",
        type=_item,
        metavar="SKU[:QTY]",
        help="a product (its SKU or name) and how many, such as gateau-choc:2 (repeat for several; the "
        "price is their sum)",
    )
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
    how.add_argument(
        "--guarantee",
        metavar="AMOUNT|PCT%",
        help="with --phone: a card guarantee of this amount or percentage of the price (held, not charged)",
    )
    way = pay.add_mutually_exclusive_group()
    way.add_argument(
        "--saved-card",
        action="store_true",
        help="charge the customer's saved card now, with no link (with --full, --deposit or --balance)",
    )
    way.add_argument(
        "--phone",
        action="store_true",
        help="print a one-time link to open on your own device and type the card the customer reads out "
        "(with --full, --deposit, --balance or --guarantee)",
    )
    pay.add_argument(
        "--save-card",
        action="store_true",
        help="with --phone: save the card for next time, the customer having agreed out loud",
    )
    pay.set_defaults(handler=cmd_pay, check=_check_pay)

    guarantee = _command(
        commands,
        "guarantee",
        "a card guarantee: ask for it (a hold on the customer's card, by a link), capture it or release it",
    )
    _order_argument(guarantee)
    _vendor_option(guarantee)
    what = guarantee.add_mutually_exclusive_group()
    what.add_argument(
        "--amount",
        metavar="AMOUNT|PCT%",
        help="ask for a guarantee of this amount or percentage of the price "
        "(default, with no option: the vendor's guarantee_amount)",
    )
    what.add_argument(
        "--capture",
        nargs="?",
        const="",
        metavar="AMOUNT",
        help="charge the guarantee held: this amount (default: all of it); the rest is released",
    )
    what.add_argument(
        "--release", action="store_true", help="release the guarantee (or cancel the request for it)"
    )
    guarantee.set_defaults(handler=cmd_guarantee)

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

    report = _command(
        commands,
        "report",
        "what was collected, refunded and the net per period, currency, payment method and provider",
    )
    _vendor_option(report)
    report.add_argument(
        "--from",
        dest="start",
        metavar="YYYY-MM-DD",
        help="the first day, where the vendor is (default: this month's first)",
    )
    report.add_argument(
        "--to", dest="end", metavar="YYYY-MM-DD",
        help="the day after the last one, excluded (default: the first of the month after --from's)",
    )  # fmt: skip
    report.add_argument("--by", choices=["day", "week", "month"], default="month", help="one line per period")
    report.add_argument(
        "--method", choices=["card", "saved_card", "cash", "capture"], help="only payments made this way"
    )
    report.add_argument(
        "--status", choices=["paid", "partially_refunded", "refunded"], help="only payments in this status"
    )
    report.add_argument("--provider", help="only payments through this provider (stripe, icount, sandbox)")
    report.add_argument("--customer", metavar="PHONE", help="only this customer's payments")
    report.add_argument("--order", metavar="N", help="only this order's payments")
    report.add_argument(
        "--csv",
        metavar="FILE",
        help="also write the payments behind the figures as CSV to FILE (- for stdout)",
    )
    _json_option(report)
    report.set_defaults(handler=cmd_report, check=_check_report)

    customer = _group(commands, "customer", "customers and their language")
    people = _command(customer, "list", "list the vendor's customers")
    _vendor_option(people)
    _json_option(people)
    people.set_defaults(handler=cmd_customer_list)
    person = _command(customer, "show", "one customer")
    person.add_argument(
        "phone", metavar="PHONE", help="the customer's international number, or ig:USERNAME on Instagram"
    )
    _vendor_option(person)
    _json_option(person)
    person.set_defaults(handler=cmd_customer_show)
    change = _command(
        customer, "set", "set a customer's locale (fr, en, he, default), name, email (Instagram: phone)"
    )
    change.add_argument(
        "phone", metavar="PHONE", help="the customer's international number, or ig:USERNAME on Instagram"
    )
    change.add_argument(
        "pairs",
        nargs="+",
        type=_setting_pair,
        metavar="KEY=VALUE",
        help="locale=fr|en|he|default, name=NAME, email=ADDRESS or, for an Instagram customer, "
        "phone=+33612345678 (their WhatsApp; empty: none)",
    )
    _vendor_option(change)
    change.set_defaults(handler=cmd_customer_set)
    cards = _command(customer, "cards", "the cards a customer saved (shown by brand, last 4 digits, expiry)")
    cards.add_argument("phone", metavar="PHONE", help="the customer's international number")
    _vendor_option(cards)
    _json_option(cards)
    cards.set_defaults(handler=cmd_customer_cards)
    forget = _command(
        customer,
        "forget-card",
        "forget a customer's saved cards: never charged again, deleted at the provider",
    )
    forget.add_argument("phone", metavar="PHONE", help="the customer's international number")
    _vendor_option(forget)
    forget.set_defaults(handler=cmd_customer_forget_card)

    everyone = _group(commands, "customers", "all of a vendor's customers at once")
    batch = _command(
        everyone,
        "sync",
        "sync every customer not synced since their last change to the provider's clients (iCount), "
        "resumable, within iCount's 30 calls a minute",
    )
    _vendor_option(batch)
    _json_option(batch)
    batch.set_defaults(handler=cmd_customers_sync)

    product = _group(commands, "product", "the vendor's products, synced to its payment provider")
    new_product = _command(product, "add", "add a product (its SKU is how chat and orders name it)")
    _vendor_option(new_product)
    new_product.add_argument(
        "--sku", required=True, help="letters, digits, dashes and dots, such as gateau-choc"
    )
    new_product.add_argument("--name", required=True, help="the product's name")
    new_product.add_argument(
        "--price",
        required=True,
        metavar="AMOUNT",
        help="the unit price in the vendor's currency, such as 12.50",
    )
    new_product.add_argument("--description", help="a longer description (default: none)")
    new_product.add_argument(
        "--vat-excluded", action="store_true", help="the price is before VAT (default: VAT included)"
    )
    _json_option(new_product)
    new_product.set_defaults(handler=cmd_product_add)
    catalogue = _command(product, "list", "list products: SKU, price, VAT, name and sync state")
    _vendor_option(catalogue)
    catalogue.add_argument("--all", action="store_true", help="disabled products too")
    _json_option(catalogue)
    catalogue.set_defaults(handler=cmd_product_list)
    change_product = _command(product, "set", "change a product: KEY=VALUE ..., all applied or none")
    change_product.add_argument("sku", metavar="SKU", help="the product's SKU")
    change_product.add_argument(
        "pairs",
        nargs="+",
        type=_setting_pair,
        metavar="KEY=VALUE",
        help="name=N, description=D, price=AMOUNT, vat_included=on|off or active=on|off",
    )
    _vendor_option(change_product)
    _json_option(change_product)
    change_product.set_defaults(handler=cmd_product_set)
    disable = _command(product, "disable", "disable a product: no longer offered, kept for past orders")
    disable.add_argument("sku", metavar="SKU", help="the product's SKU")
    _vendor_option(disable)
    disable.set_defaults(handler=cmd_product_disable)

    admin = _group(commands, "admin", "the vendor's dashboard (/admin)")
    link = _command(
        admin, "link", "print a one-time dashboard sign-in link for an admin's phone (10 minutes)"
    )
    link.add_argument("--phone", required=True, metavar="PHONE", help="the admin's international number")
    link.add_argument(
        "--vendor",
        metavar="NAME|ID",
        help="refuse the link unless the phone is this vendor's admin (default: any vendor's admin)",
    )
    _json_option(link)
    link.set_defaults(handler=cmd_admin_link)
    return parser


def _check_report(args: argparse.Namespace) -> None:
    if args.csv == "-" and args.json:
        raise UsageError("argument --csv -: not allowed with --json (both would go to stdout)")


def _check_pay(args: argparse.Namespace) -> None:
    """What the argument groups cannot say: which options go together."""
    if args.cash is not None and (args.saved_card or args.phone):
        raise UsageError("argument --cash: not allowed with --saved-card or --phone (see `bot pay --help`)")
    if args.guarantee is not None and not args.phone:
        raise UsageError(
            "argument --guarantee: needs --phone (a guarantee by link: `bot guarantee N --amount A`)"
        )
    if args.save_card and not args.phone:
        raise UsageError("argument --save-card: needs --phone (see `bot pay --help`)")
