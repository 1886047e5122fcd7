from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, strategies as st

from bot.domain.reminders import catch_up, out_of_quiet_hours, plan
from bot.domain.schedule import QuietHours, parse_offsets

PARIS = "Europe/Paris"
NIGHT = QuietHours(21, 9)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_reminders_fall_at_the_offsets_from_the_request() -> None:
    requested = utc(2026, 11, 2, 10, 0)  # 11:00 in Paris
    assert plan(requested, parse_offsets("1d,3d,7d"), NIGHT, PARIS) == [
        utc(2026, 11, 3, 10, 0),
        utc(2026, 11, 5, 10, 0),
        utc(2026, 11, 9, 10, 0),
    ]


def test_a_reminder_due_at_night_waits_for_the_morning_in_the_vendor_s_zone() -> None:
    requested = utc(2026, 11, 2, 21, 30)  # 22:30 in Paris: quiet
    assert plan(requested, parse_offsets("1d"), NIGHT, PARIS) == [utc(2026, 11, 4, 8, 0)]  # 09:00 Paris
    assert out_of_quiet_hours(utc(2026, 11, 3, 1, 0), NIGHT, PARIS) == utc(2026, 11, 3, 8, 0)
    assert out_of_quiet_hours(utc(2026, 11, 3, 12, 0), NIGHT, PARIS) == utc(2026, 11, 3, 12, 0)
    assert out_of_quiet_hours(utc(2026, 11, 3, 1, 0), None, PARIS) == utc(2026, 11, 3, 1, 0)


def test_quiet_hours_follow_the_wall_clock_across_a_daylight_saving_change() -> None:
    # Paris leaves summer time on 25 October 2026 at 03:00 local: 09:00 is 07:00 UTC before, 08:00 after.
    assert out_of_quiet_hours(utc(2026, 10, 24, 22, 0), NIGHT, PARIS) == utc(2026, 10, 25, 8, 0)
    assert out_of_quiet_hours(utc(2026, 10, 24, 2, 0), NIGHT, PARIS) == utc(2026, 10, 24, 7, 0)
    # And back to summer time on 29 March 2026.
    assert out_of_quiet_hours(utc(2026, 3, 28, 23, 0), NIGHT, PARIS) == utc(2026, 3, 29, 7, 0)


def test_quiet_hours_that_do_not_cross_midnight() -> None:
    lunch = QuietHours(12, 14)
    assert out_of_quiet_hours(utc(2026, 11, 3, 11, 30), lunch, PARIS) == utc(2026, 11, 3, 13, 0)


def test_repeating_reminders_follow_the_last_offset() -> None:
    requested = utc(2026, 11, 2, 10, 0)
    due = plan(requested, parse_offsets("1d"), None, PARIS, repeat_every=timedelta(days=2), repeat_count=2)
    assert due == [utc(2026, 11, 3, 10, 0), utc(2026, 11, 5, 10, 0), utc(2026, 11, 7, 10, 0)]


def test_after_a_long_outage_only_the_latest_overdue_reminder_is_sent() -> None:
    due = [utc(2026, 11, 3), utc(2026, 11, 5), utc(2026, 11, 9)]
    assert catch_up(due, utc(2026, 11, 20)) == (2, [0, 1])
    assert catch_up(due, utc(2026, 11, 4)) == (0, [])
    assert catch_up(due, utc(2026, 11, 2)) == (None, [])


@given(
    requested=st.datetimes(
        # Hypothesis takes naive bounds and attaches the zone itself.
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001
        max_value=datetime(2035, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    start=st.integers(0, 23),
    end=st.integers(0, 23),
    zone=st.sampled_from(["Europe/Paris", "Asia/Jerusalem", "America/New_York", "UTC"]),
)
def test_no_planned_reminder_falls_in_quiet_hours_and_none_is_early(
    requested: datetime, start: int, end: int, zone: str
) -> None:
    if start == end:
        return
    quiet = QuietHours(start, end)
    offsets = parse_offsets("1h,1d,3d")
    due = plan(requested, offsets, quiet, zone)
    assert due == sorted(set(due))
    for at in due:
        assert (
            not quiet.contains(at.astimezone(ZoneInfo(zone)).hour)
            or at.astimezone(ZoneInfo(zone)).hour == end
        )
        assert at >= requested + offsets[0]
