"""Reminder timing rules: offsets such as ``1d,3d,7d`` and quiet hours such as ``21-9``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.errors import InvalidSetting

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_OFFSET = re.compile(r"(\d{1,4})([mhdw])")


def parse_offsets(text: str) -> tuple[timedelta, ...]:
    """``1d,3d,7d`` -> increasing offsets from the request; an empty text means no reminders."""
    offsets: list[timedelta] = []
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        match = _OFFSET.fullmatch(part)
        if match is None or int(match.group(1)) == 0:
            raise InvalidSetting(key="reminder_schedule", value=text)
        offsets.append(timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}))
    if offsets != sorted(set(offsets)):
        raise InvalidSetting(key="reminder_schedule", value=text)
    return tuple(offsets)


def parse_interval(text: str, key: str) -> timedelta | None:
    """``2d`` -> two days; an empty text or ``off`` means none."""
    cleaned = text.strip().lower()
    if cleaned in {"", "off", "none"}:
        return None
    match = _OFFSET.fullmatch(cleaned)
    if match is None or int(match.group(1)) == 0:
        raise InvalidSetting(key=key, value=text)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def format_interval(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def format_offsets(offsets: tuple[timedelta, ...]) -> str:
    return ",".join(format_interval(offset) for offset in offsets)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No reminder between ``start`` o'clock and ``end`` o'clock (vendor's time); may cross midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start <= 23 and 0 <= self.end <= 23) or self.start == self.end:
            raise InvalidSetting(key="reminder_quiet_hours", value=str(self))

    def contains(self, hour: int) -> bool:
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


def parse_quiet_hours(text: str) -> QuietHours | None:
    """``21-9`` -> QuietHours(21, 9); an empty text or ``off`` means none."""
    cleaned = text.strip().lower()
    if cleaned in {"", "off", "none"}:
        return None
    match = re.fullmatch(r"(\d{1,2})(?:h|:00)?\s*-\s*(\d{1,2})(?:h|:00)?", cleaned)
    if match is None:
        raise InvalidSetting(key="reminder_quiet_hours", value=text)
    return QuietHours(int(match.group(1)), int(match.group(2)))
