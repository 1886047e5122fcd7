"""Logging for every command: text or JSON lines, and the libraries kept quiet unless LOG_LEVEL=DEBUG."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.config import LogFormat

TEXT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every HTTP call at INFO: heard only with LOG_LEVEL=DEBUG.
CHATTY_LOGGERS = ("httpx", "httpcore")


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
