"""When reminders go out: offsets from the request, moved out of the vendor's quiet hours (in the
vendor's time zone, daylight-saving changes included), and one catch-up after downtime."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.schedule import QuietHours


class ReminderStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CANCELLED = "cancelled"
    # Not sent: caught up after downtime (one catch-up instead of each missed one), or no longer due.
    SKIPPED = "skipped"


def out_of_quiet_hours(at: datetime, quiet: QuietHours | None, timezone: str) -> datetime:
    """``at`` itself, or the end of the quiet hours it falls in (the vendor's wall clock, in UTC)."""
    if quiet is None:
        return at
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    if not quiet.contains(local.hour):
        return at
    wake_day = local.date()
    if quiet.start > quiet.end and local.hour >= quiet.start:
        wake_day += timedelta(days=1)
    # Built from the wall clock, so a daylight-saving change in between keeps "9 o'clock" at 9.
    wake = datetime.combine(wake_day, time(quiet.end), tzinfo=zone)
    return wake.astimezone(UTC)


def plan(
    requested_at: datetime,
    offsets: Sequence[timedelta],
    quiet: QuietHours | None,
    timezone: str,
    repeat_every: timedelta | None = None,
    repeat_count: int = 0,
) -> list[datetime]:
    """Due times of a request's reminders: each offset, then ``repeat_count`` more every
    ``repeat_every`` after the last offset, none inside quiet hours, never two at the same time."""
    raw = [requested_at + offset for offset in offsets]
    if repeat_every is not None and repeat_count > 0:
        last = raw[-1] if raw else requested_at
        raw += [last + repeat_every * (index + 1) for index in range(repeat_count)]
    planned: list[datetime] = []
    for at in raw:
        due = out_of_quiet_hours(at, quiet, timezone)
        if not planned or due > planned[-1]:
            planned.append(due)
    return planned


def catch_up(due: Sequence[datetime], now: datetime) -> tuple[int | None, list[int]]:
    """After downtime several reminders of one request may be overdue: only the latest is sent, the
    others are skipped, and the ones still to come keep their times. Returns (index to send, skipped)."""
    overdue = [index for index, at in enumerate(due) if at <= now]
    if not overdue:
        return None, []
    return overdue[-1], overdue[:-1]
