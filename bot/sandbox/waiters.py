"""Waiting for a record a fake has kept, or will keep: shared by the sandbox's Graph API fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Record = TypeVar("Record")


class Waiters(Generic[Record]):
    """Callers waiting for the first record that matches their predicate."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Callable[[Record], bool], asyncio.Future[Record]]] = []

    async def wait_for(
        self,
        kept: Sequence[Record],
        predicate: Callable[[Record], bool],
        timeout: float,  # noqa: ASYNC109 - reads better in tests than an asyncio.timeout block
        what: str,
    ) -> Record:
        """The first of ``kept`` matching ``predicate``, or the next one recorded; TimeoutError otherwise."""
        for record in kept:
            if predicate(record):
                return record
        future: asyncio.Future[Record] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise TimeoutError(f"no matching {what} sent within {timeout} s") from None
        finally:
            self._waiting.remove(waiter)

    def recorded(self, record: Record) -> None:
        for predicate, future in list(self._waiting):
            if future.done():
                continue
            try:
                if predicate(record):
                    future.set_result(record)
            except Exception as error:  # noqa: BLE001 - the waiting caller should see its predicate's bug
                future.set_exception(error)
