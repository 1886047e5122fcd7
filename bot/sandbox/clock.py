"""The sandbox's clock: real time plus an offset the sandbox page moves forward, so that reminders due in a
day or a week can be seen at once. Every part of the app reads time through it in sandbox mode."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services.clock import Clock, system_clock


class SandboxClock:
    """A ``Clock`` (call it for the time, tz-aware UTC) that only ever moves forward."""

    def __init__(self, base: Clock = system_clock) -> None:
        self._base = base
        self._offset = timedelta(0)

    def __call__(self) -> datetime:
        return self._base() + self._offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Moves the time forward by ``delta`` (positive: time never goes back) and returns the new time."""
        if delta <= timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        self._offset += delta
        return self()
