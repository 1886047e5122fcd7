"""A stored event that can never succeed is rejected after one try, with its reason, and never taken
again; one that failed for a reason that may pass (the database, a provider) is tried again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import exc as sa_exc, select

from bot.services.inbox import run_claimed
from bot.store.repositories.inbox import InboundEvent
from bot.store.tables import inbound_events
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock


async def stored(uow_factory: UnitOfWorkFactory, key: str) -> int:
    async with uow_factory() as uow:
        event_id = await uow.inbox.add("whatsapp", key, "message", "{}", NOW)
        await uow.commit()
    assert event_id is not None
    return event_id


@pytest.mark.parametrize(
    "error",
    [KeyError("price"), OverflowError("date value out of range"), sa_exc.DataError("x", {}, Exception())],
)
async def test_an_event_failing_in_a_way_trying_again_cannot_cure_is_rejected_after_one_try(
    uow_factory: UnitOfWorkFactory, error: Exception
) -> None:
    event_id = await stored(uow_factory, "wamid.poison")
    clock = FrozenClock()
    calls = 0

    async def work(_event: InboundEvent) -> None:
        nonlocal calls
        calls += 1
        raise error

    assert await run_claimed(uow_factory, clock, event_id, work) == (True, None)
    clock.advance(timedelta(hours=1))
    assert await run_claimed(uow_factory, clock, event_id, work) == (True, None)  # not taken again
    async with uow_factory() as uow:
        row = (await uow.connection.execute(select(inbound_events))).one()
        again = await uow.inbox.claim_batch({"whatsapp"}, clock(), timedelta(minutes=2), 10)
        waiting, given_up = await uow.inbox.unprocessed_counts()
    assert calls == 1 and again == [] and (waiting, given_up) == (0, 0)
    assert row.attempts == 1 and row.rejected_at == NOW and row.processed_at == NOW
    assert row.last_error.startswith(type(error).__name__)


async def test_an_event_failing_while_the_database_is_unreachable_is_tried_again(
    uow_factory: UnitOfWorkFactory,
) -> None:
    event_id = await stored(uow_factory, "wamid.later")
    clock = FrozenClock()
    outcomes = [ConnectionRefusedError("database down"), None]

    async def work(_event: InboundEvent) -> None:
        error = outcomes.pop(0)
        if error is not None:
            raise error

    assert await run_claimed(uow_factory, clock, event_id, work) == (False, None)
    assert await run_claimed(uow_factory, clock, event_id, work) == (True, None)
    async with uow_factory() as uow:
        row = (await uow.connection.execute(select(inbound_events))).one()
    assert row.rejected_at is None and row.processed_at == NOW and row.attempts == 2
