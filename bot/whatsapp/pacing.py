"""WhatsApp's sending limits: messages per second per business number, one message per 6 s per user."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

Monotonic = Callable[[], float]


class NumberRate:
    """A token bucket per business number (default 80 messages/s), with a pause after a 130429."""

    def __init__(self, per_second: float, monotonic: Monotonic = time.monotonic) -> None:
        self._interval = 1.0 / per_second
        self._burst = max(1.0, per_second)
        self._now = monotonic
        self._state: dict[str, tuple[float, float]] = {}
        self._paused_until: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def pause(self, phone_id: str, seconds: float) -> None:
        self._paused_until[phone_id] = max(self._paused_until.get(phone_id, 0.0), self._now() + seconds)

    async def acquire(self, phone_id: str) -> None:
        lock = self._locks.setdefault(phone_id, asyncio.Lock())
        async with lock:
            while True:
                now = self._now()
                paused = self._paused_until.get(phone_id, 0.0) - now
                tokens, stamp = self._state.get(phone_id, (self._burst, now))
                tokens = min(self._burst, tokens + (now - stamp) / self._interval)
                if paused <= 0 and tokens >= 1:
                    self._state[phone_id] = (tokens - 1, now)
                    return
                self._state[phone_id] = (tokens, now)
                await asyncio.sleep(max(paused, (1 - tokens) * self._interval))


class PairPacing:
    """At most one message every ``interval`` seconds from one business number to one user."""

    def __init__(self, interval: float = 6.0, monotonic: Monotonic = time.monotonic) -> None:
        self._interval = interval
        self._now = monotonic
        self._next: dict[tuple[str, str], float] = {}

    def wait_needed(self, phone_id: str, to: str) -> float:
        return max(0.0, self._next.get((phone_id, to), 0.0) - self._now())

    def sent(self, phone_id: str, to: str, extra: float = 0.0) -> None:
        self._next[(phone_id, to)] = self._now() + self._interval + extra
        if len(self._next) > 100_000:
            now = self._now()
            self._next = {key: at for key, at in self._next.items() if at > now}
