"""Attempts per client address in a sliding minute, in the process's memory: enough to slow a script
down beside the per-phone lockout kept in the database."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web

_WINDOW = timedelta(minutes=1)
_MAX_CLIENTS = 10_000


class AttemptLimiter:
    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, client: str, now: datetime) -> bool:
        if len(self._seen) > _MAX_CLIENTS:
            self._seen.clear()  # a flood of addresses: start again rather than grow without end
        times = self._seen.setdefault(client, deque())
        while times and now - times[0] >= _WINDOW:
            times.popleft()
        if len(times) >= self._limit:
            return False
        times.append(now)
        return True

    def reset(self) -> None:
        self._seen.clear()


@dataclass
class SignInLimits:
    """Per client address: a few codes asked and a few more tried a minute, whatever the phone."""

    asking: AttemptLimiter = field(default_factory=lambda: AttemptLimiter(per_minute=5))
    trying: AttemptLimiter = field(default_factory=lambda: AttemptLimiter(per_minute=15))


limits_key = web.AppKey("admin_sign_in_limits", SignInLimits)
