"""WhatsApp's sending limits: messages per second per business number, one message per 6 s per user."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from bot.store.uow import UnitOfWork

Monotonic = Callable[[], float]


class NumberRate:
    """A token bucket per business number (default 80 messages/s), with a pause after a 130429.

    No burst: sends are spaced evenly, since any bucket bigger than one message lets more than the rate
    through in some one-second window (a full bucket, then its refill)."""

    def __init__(self, per_second: float, monotonic: Monotonic = time.monotonic) -> None:
        self._interval = 1.0 / per_second
        self._burst = 1.0
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
    """One message every ``interval`` seconds on average from a business number to one user, with a small
    burst allowed (Meta tolerates short bursts but answers 131056 to a sustained faster pace)."""

    def __init__(self, interval: float = 6.0, burst: int = 10, monotonic: Monotonic = time.monotonic) -> None:
        self._interval = interval
        self._burst = float(burst)
        self._now = monotonic
        self._state: dict[tuple[str, str], tuple[float, float]] = {}

    def _tokens(self, key: tuple[str, str]) -> float:
        now = self._now()
        tokens, stamp = self._state.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - stamp) / self._interval)

    def take(self, phone_id: str, to: str) -> float:
        """Takes this user's next slot: 0 when it is free now (the slot is used), else the seconds to
        wait. Checking and using are one step, so concurrent sends to one user never share a slot."""
        key = (phone_id, to)
        tokens = self._tokens(key)
        if tokens < 1:
            return (1 - tokens) * self._interval
        self._state[key] = (tokens - 1, self._now())
        if len(self._state) > 100_000:
            self._state = {k: v for k, v in self._state.items() if v[0] < self._burst - 1}
        return 0.0

    def penalise(self, phone_id: str, to: str, seconds: float) -> None:
        """After a 131056: nothing more to this user for ``seconds``."""
        self._state[(phone_id, to)] = (-seconds / self._interval, self._now())


class Pacer(Protocol):
    """The sender's view of the pace: in this process's memory, or shared in Postgres by every process."""

    async def take(self, phone_id: str, to: str) -> float:
        """Takes the recipient's next slot and then the number's: returns 0 once the message may go, else
        the seconds to wait for the recipient (nothing is used)."""
        ...

    async def take_in(self, uow: UnitOfWork, phone_id: str, to: str) -> float | None:
        """``take`` in the caller's transaction, without waiting: the seconds until the number's slot
        (``slot`` waits for it before the send), or None when the recipient has no token (nothing used)."""
        ...

    async def slot(self, phone_id: str, wait: float) -> None:
        """Waits for the number's slot ``take_in`` took."""
        ...

    async def penalise(self, phone_id: str, to: str, seconds: float) -> None: ...

    async def pause(self, phone_id: str, seconds: float) -> None: ...

    async def tidy(self) -> None:
        """Forgets the recipients whose pace is back to its full burst."""
        ...


class MemoryPacer:
    """One process's pace (SQLite: the only process)."""

    def __init__(
        self, per_second: float, pair_interval: float, burst: int = 10, monotonic: Monotonic = time.monotonic
    ) -> None:
        self.rate = NumberRate(per_second, monotonic)
        self.pairs = PairPacing(pair_interval, burst, monotonic)

    async def take(self, phone_id: str, to: str) -> float:
        wait = self.pairs.take(phone_id, to)
        if wait == 0:
            await self.rate.acquire(phone_id)
        return wait

    async def take_in(self, uow: UnitOfWork, phone_id: str, to: str) -> float | None:
        return None if self.pairs.take(phone_id, to) > 0 else 0.0

    async def slot(self, phone_id: str, wait: float) -> None:
        await self.rate.acquire(phone_id)

    async def penalise(self, phone_id: str, to: str, seconds: float) -> None:
        self.pairs.penalise(phone_id, to, seconds)

    async def pause(self, phone_id: str, seconds: float) -> None:
        self.rate.pause(phone_id, seconds)

    async def tidy(self) -> None:
        return None
