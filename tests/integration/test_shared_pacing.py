"""WhatsApp's pace shared in Postgres by several sender processes (each its own engine here): a recipient's
burst then one message per interval, the number's sends spaced evenly, each send one statement and one
commit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, select

from bot.store.database import create_engine
from bot.store.tables import send_pacing
from bot.store.uow import UnitOfWorkFactory
from bot.whatsapp.shared_pacing import SharedPacer, number_key
from tests.conftest import FrozenClock

pytestmark = pytest.mark.postgres


@pytest.fixture
async def processes(migrated_postgres_url: str) -> AsyncIterator[tuple[UnitOfWorkFactory, UnitOfWorkFactory]]:
    """Two processes' units of work over one database, its pace forgotten."""
    one, two = create_engine(migrated_postgres_url), create_engine(migrated_postgres_url)
    async with one.begin() as connection:
        await connection.execute(delete(send_pacing))
    yield UnitOfWorkFactory(one), UnitOfWorkFactory(two)
    await one.dispose()
    await two.dispose()


async def test_a_recipient_gets_a_burst_of_ten_then_one_message_every_six_seconds_across_processes(
    processes: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    clock = FrozenClock()
    one, two = (SharedPacer(uow, clock, 1000.0, 6.0) for uow in processes)
    waits = [await (one if index % 2 else two).take("phone", "user") for index in range(10)]
    assert waits == [0.0] * 10
    assert await one.take("phone", "user") == pytest.approx(6.0)
    assert await two.take("phone", "other user") == 0.0
    clock.advance(timedelta(seconds=6))
    assert await two.take("phone", "user") == 0.0
    assert await one.take("phone", "user") == pytest.approx(6.0)


async def test_a_recipient_refused_uses_neither_its_token_nor_the_number_s_slot(
    processes: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    clock = FrozenClock()
    uow = processes[0]
    pacer = SharedPacer(uow, clock, 10.0, 6.0, burst=1)
    assert await pacer.take("phone", "user") == 0.0

    async def next_slot() -> Any:
        async with uow() as unit:
            query = select(send_pacing.c.next_slot_at).where(send_pacing.c.key == number_key("phone"))
            return (await unit.connection.execute(query)).scalar_one()

    slot = await next_slot()
    for _ in range(5):
        assert await pacer.take("phone", "user") == pytest.approx(6.0)
    assert await next_slot() == slot
    clock.advance(timedelta(seconds=6))
    assert await pacer.take("phone", "user") == 0.0


async def test_concurrent_sends_from_two_processes_never_share_a_recipient_s_token(
    processes: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    clock = FrozenClock()
    one, two = (SharedPacer(uow, clock, 1000.0, 6.0) for uow in processes)
    waits = await asyncio.gather(*((one if i % 2 else two).take("phone", "user") for i in range(30)))
    assert sum(1 for wait in waits if wait == 0) == 10


async def test_two_processes_space_the_number_s_sends_evenly(
    processes: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    clock = FrozenClock()
    one, two = (SharedPacer(uow, clock, 50.0, 6.0) for uow in processes)
    started = time.monotonic()
    waits = await asyncio.gather(*((one if i % 2 else two).take("phone", f"user {i}") for i in range(11)))
    # Eleven sends at 50/s take at least ten intervals of 20 ms, whichever process took them.
    assert waits == [0.0] * 11
    assert time.monotonic() - started >= 0.19


async def test_a_send_takes_its_pace_in_one_statement_and_one_commit(
    processes: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    uow = processes[0]
    pacer = SharedPacer(uow, FrozenClock(), 1000.0, 6.0)
    await pacer.take("phone", "warm up")  # the pool's first connection asks the server a few things
    counts = {"statements": 0, "commits": 0}

    def statement(*_args: Any) -> None:
        counts["statements"] += 1

    def commit(*_args: Any) -> None:
        counts["commits"] += 1

    event.listen(uow.engine.sync_engine, "before_cursor_execute", statement)
    event.listen(uow.engine.sync_engine, "commit", commit)
    try:
        assert await pacer.take("phone", "user") == 0.0
    finally:
        event.remove(uow.engine.sync_engine, "before_cursor_execute", statement)
        event.remove(uow.engine.sync_engine, "commit", commit)
    assert counts == {"statements": 1, "commits": 1}


async def test_a_pace_taken_in_the_caller_s_transaction_counts_only_once_it_commits(
    processes: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    clock = FrozenClock()
    uow = processes[0]
    pacer = SharedPacer(uow, clock, 1000.0, 6.0, burst=1)
    async with uow() as unit:  # rolled back: the token is not used
        assert await pacer.take_in(unit, "phone", "user") is not None
    async with uow() as unit:
        wait = await pacer.take_in(unit, "phone", "user")
        await unit.commit()
    assert wait is not None and 0.0 <= wait < 0.01  # the number's slot, a millisecond away at most
    async with uow() as unit:  # no token left: None, and nothing used
        assert await pacer.take_in(unit, "phone", "user") is None
        await unit.commit()
    clock.advance(timedelta(seconds=6))
    assert await pacer.take("phone", "user") == 0.0
