"""WhatsApp's pace shared by every sender process on one Postgres database (``send_pacing``): the per
recipient burst then one message per interval, in the app's clock, and the per number rate, spaced evenly
in the database's clock. A send takes both in one statement and one commit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.services.clock import Clock
from bot.store.uow import UnitOfWork, UnitOfWorkFactory


def pair_key(phone_id: str, to: str) -> str:
    return f"pair:{phone_id}:{to}"


def number_key(phone_id: str) -> str:
    return f"number:{phone_id}"


class SharedPacer:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, per_second: float, pair_interval: float, burst: int = 10
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._step = 1.0 / per_second
        self._interval = pair_interval
        self._burst = float(burst)

    async def take(self, phone_id: str, to: str) -> float:
        async with self._uow() as uow:
            pair_wait, number_wait = await self._take(uow, phone_id, to)
            await uow.commit()
        await self.slot(phone_id, number_wait)
        return pair_wait

    async def take_in(self, uow: UnitOfWork, phone_id: str, to: str) -> float | None:
        # In the transaction that writes the message: its commit is the pace's, one commit fewer.
        pair_wait, number_wait = await self._take(uow, phone_id, to)
        return None if pair_wait > 0 else number_wait

    async def slot(self, phone_id: str, wait: float) -> None:
        if wait > 0:
            await asyncio.sleep(wait)

    async def _take(self, uow: UnitOfWork, phone_id: str, to: str) -> tuple[float, float]:
        return await uow.pacing.take(
            pair_key(phone_id, to),
            number_key(phone_id),
            self._clock(),
            self._interval,
            self._burst,
            self._step,
        )

    async def penalise(self, phone_id: str, to: str, seconds: float) -> None:
        async with self._uow() as uow:
            await uow.pacing.penalise_pair(pair_key(phone_id, to), self._clock(), seconds, self._interval)
            await uow.commit()

    async def pause(self, phone_id: str, seconds: float) -> None:
        async with self._uow() as uow:
            await uow.pacing.pause(number_key(phone_id), seconds)
            await uow.commit()

    async def tidy(self) -> None:
        full_again = timedelta(seconds=self._burst * self._interval)
        async with self._uow() as uow:
            await uow.pacing.forget_full(self._clock() - full_again)
            await uow.commit()
