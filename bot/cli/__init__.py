"""The ``bot`` command: serve, migrate, vendors and orders (DESIGN.md §4).

Every failure ends in one line on stderr and a non-zero exit: 2 for bad arguments or settings, 1 for a
refused operation or an unreachable database. Never a traceback.

The command is split by topic: ``parser`` (arguments), ``logs``, ``serve``, ``schema`` (migrate), ``vendors``,
``orders``, ``payments`` (pay, refund, reminders), ``customers``, ``cards`` (guarantees, saved cards),
``admin`` (dashboard sign-in links), and ``common`` (what they share). ``main``
is here, as the console script ``bot = "bot.cli:main"`` and ``python -m bot`` call it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

# ``metadata`` is exported too: package_version (in parser) asks it, and tests replace its version().
from importlib import metadata

from sqlalchemy.exc import SQLAlchemyError

from bot.bootstrap import SchemaOutOfDate
from bot.cli.common import CLI_LOCALE, Command, _fail
from bot.cli.logs import CHATTY_LOGGERS, JsonLogFormatter, configure_logging
from bot.cli.parser import OneLineParser, UsageError, build_parser, package_version
from bot.cli.serve import listening_sockets, run_processes, run_server
from bot.config import ConfigError, LogFormat, load_settings
from bot.domain.errors import DomainError
from bot.rendering import explain

__all__ = [
    "CHATTY_LOGGERS",
    "JsonLogFormatter",
    "OneLineParser",
    "UsageError",
    "build_parser",
    "configure_logging",
    "listening_sockets",
    "main",
    "metadata",
    "package_version",
    "run_server",
]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        check = getattr(args, "check", None)
        if check is not None:
            check(args)
        settings = load_settings()
    except UsageError as error:
        return _fail(f"error: {error}", 2)
    except ConfigError as error:
        # `bot doctor` reports bad settings as one of its failed checks.
        on_config_error = getattr(args, "on_config_error", None)
        if on_config_error is not None:
            return int(on_config_error(args, error))
        return _fail(str(error), 2)
    configure_logging(settings.log_level, LogFormat(args.log_format or settings.log_format))
    try:
        if args.command == "serve":
            host = settings.host if args.host is None else args.host
            port = settings.port if args.port is None else args.port
            if args.workers is not None:
                return run_processes(settings, host, port, args.workers, args.processors)
            return run_server(settings, host, port)
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
