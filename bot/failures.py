"""Which failures trying again cannot cure, and logging a failure's traceback once per kind.

An event whose processing raises a programming-shaped error (a key missing, a type or value it cannot
take, text or numbers the database refuses) fails the same way every time: it is rejected after one try.
Anything else (the database or a provider unreachable, a payment not confirmed yet) is tried again.
"""

from __future__ import annotations

import logging
import threading

import httpx
from sqlalchemy import exc as sa_exc

try:  # the driver's own errors, when it raises them unwrapped (the inbox writer uses asyncpg directly)
    from asyncpg import exceptions as pg_exc

    _DRIVER_PERMANENT: tuple[type[BaseException], ...] = (
        pg_exc.DataError,
        pg_exc.SyntaxOrAccessError,
    )
except ImportError:  # pragma: no cover - asyncpg is a dependency; SQLite alone would do without it
    _DRIVER_PERMANENT = ()

# ValueError covers UnicodeError, JSONDecodeError and pydantic's ValidationError.
_PERMANENT: tuple[type[BaseException], ...] = (
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ValueError,
    ArithmeticError,  # OverflowError, decimal.InvalidOperation
    RecursionError,
    sa_exc.DataError,
    sa_exc.ProgrammingError,
    httpx.InvalidURL,  # an address made of the event's data (an id of 10,000 characters)
    *_DRIVER_PERMANENT,
)


# A schema behind the code (a migration not run yet) or a missing grant: cured by the operator, so the
# events wait for it rather than being rejected.
_CURABLE_SQLSTATES = frozenset({"42P01", "42703", "42501", "3F000"})


def _sqlstate(error: BaseException) -> str | None:
    for start in (error, getattr(error, "orig", None)):
        candidate: BaseException | None = start
        for _ in range(4):  # the driver's error is at most a wrapper or two down
            if candidate is None:
                break
            code = getattr(candidate, "sqlstate", None)
            if isinstance(code, str):
                return code
            candidate = candidate.__cause__
    return None


def is_permanent(error: BaseException) -> bool:
    """True when trying again would fail the same way (the error, or what it wraps)."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return False  # the connection broke under it
        if isinstance(current, _PERMANENT):
            return _sqlstate(current) not in _CURABLE_SQLSTATES
        current = current.__cause__  # a wrapper (the chat handlers' HandlerFailed) says what it wraps
        seen += 1
    return False


def reason(error: BaseException) -> str:
    """One line saying what went wrong, for the inbox's record (never a traceback)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:500]


class OncePerKind:
    """Logs a failure with its traceback the first time its kind is seen in this process, as one line
    after: a poison event delivered a thousand times fills no log."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def failed(self, kind: tuple[str, ...], error: BaseException, message: str, *args: object) -> None:
        key = (*kind, type(error).__name__)
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
        if first:
            self._log.error(message, *args, exc_info=error)
        else:
            self._log.warning(message + " (%s)", *args, reason(error))


class TracebackOncePerKind(logging.Filter):
    """For a library's logger (pywa logs every update it cannot parse with its traceback): the first
    traceback of each message and error type is kept, later ones become one line."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        error = record.exc_info[1]
        key = (record.name, str(record.msg), type(error).__name__)
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
        if not first:
            record.msg = f"{record.msg} (%s)"
            record.args = (*(record.args if isinstance(record.args, tuple) else ()), reason(error))
            record.exc_info = None
            record.exc_text = None
        return True


_LIBRARY_FILTER = TracebackOncePerKind()


def quiet_library_tracebacks(*logger_names: str) -> None:
    """Installs the filter on these loggers (once each: a filter is not added twice)."""
    for name in logger_names:
        logging.getLogger(name).addFilter(_LIBRARY_FILTER)
