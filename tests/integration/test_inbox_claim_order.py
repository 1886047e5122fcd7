"""Several workers claiming one Postgres inbox (each its own engine here, as `bot worker` processes): a
customer's message is never taken while an earlier one of theirs is in another worker's hands, so each
customer's messages are handled in the order they came; other customers' are not held up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import delete, select, update

from bot.sandbox import whatsapp_payloads as payloads
from bot.store.database import create_engine
from bot.store.repositories.inbox import InboundEvent
from bot.store.tables import inbound_events
from bot.store.uow import UnitOfWorkFactory
from bot.whatsapp.processor import message_sender
from bot.whatsapp.webhook_events import split_webhook
from tests.conftest import NOW

pytestmark = pytest.mark.postgres
PHONE_ID = "1234567890"
LEASE = timedelta(minutes=2)


@pytest.fixture
async def workers(migrated_postgres_url: str) -> AsyncIterator[tuple[UnitOfWorkFactory, UnitOfWorkFactory]]:
    one, two = create_engine(migrated_postgres_url), create_engine(migrated_postgres_url)
    async with one.begin() as connection:
        await connection.execute(delete(inbound_events))
    yield UnitOfWorkFactory(one), UnitOfWorkFactory(two)
    await one.dispose()
    await two.dispose()


async def store(uow: UnitOfWorkFactory, messages: list[tuple[str, str]]) -> None:
    """Each (customer, text) as WhatsApp posts it, split and stored as the webhook stores it."""
    async with uow() as unit:
        for phone, text in messages:
            body = orjson.dumps(payloads.text_message(PHONE_ID, phone, text))
            for event in split_webhook(body):
                await unit.inbox.add("whatsapp", event.key, event.event_type, event.payload, NOW)
        await unit.commit()


def texts(events: list[InboundEvent]) -> list[str]:
    return [
        orjson.loads(e.payload)["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"]
        for e in events
    ]


async def claim(uow: UnitOfWorkFactory, limit: int) -> list[InboundEvent]:
    async with uow() as unit:
        events = await unit.inbox.claim_batch({"whatsapp"}, NOW, LEASE, limit, sender=message_sender)
        await unit.commit()
    return events


async def test_a_second_worker_takes_no_message_of_a_customer_whose_earlier_one_the_first_holds(
    workers: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    one, two = workers
    await store(one, [("33611", "a1"), ("33622", "b1"), ("33611", "a2"), ("33622", "b2"), ("33633", "c1")])
    assert texts(await claim(one, 2)) == ["a1", "b1"]
    assert texts(await claim(two, 10)) == ["c1"]
    # The messages held back kept no lease of the second worker: free for whoever comes next.
    async with one() as unit:
        query = select(inbound_events.c.id, inbound_events.c.locked_until).order_by(inbound_events.c.id)
        leases = [lease for _id, lease in (await unit.connection.execute(query)).all()]
        ids = list(
            (
                await unit.connection.execute(select(inbound_events.c.id).order_by(inbound_events.c.id))
            ).scalars()
        )
    assert [lease is None for lease in leases] == [False, False, True, True, False]
    async with one() as unit:  # the first worker is done with a1: a2 may go, b2 still waits for b1
        await unit.inbox.mark_processed(ids[0], NOW)
        await unit.commit()
    assert texts(await claim(two, 10)) == ["a2"]


async def test_a_worker_takes_no_later_message_of_a_customer_while_another_is_claiming_the_earlier_one(
    workers: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    one, two = workers
    await store(one, [("33611", "a1"), ("33611", "a2"), ("33633", "c1")])
    async with one() as unit:  # the first worker's claim, not committed yet: its rows are locked
        mine = await unit.inbox.claim_batch({"whatsapp"}, NOW, LEASE, 1, sender=message_sender)
        assert texts(mine) == ["a1"]
        assert texts(await claim(two, 10)) == ["c1"]
        await unit.commit()
    async with one() as unit:
        await unit.inbox.mark_processed(mine[0].id, NOW)
        await unit.commit()
    assert texts(await claim(two, 10)) == ["a2"]


async def test_one_worker_takes_a_customer_s_messages_together_in_their_order(
    workers: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    one, _two = workers
    await store(one, [("33611", "a1"), ("33622", "b1"), ("33611", "a2")])
    assert texts(await claim(one, 10)) == ["a1", "b1", "a2"]


async def test_a_message_held_back_keeps_the_lease_a_stopped_worker_left_on_it(
    workers: tuple[UnitOfWorkFactory, UnitOfWorkFactory],
) -> None:
    one, two = workers
    await store(one, [("33611", "a1"), ("33611", "a2")])
    stopped = NOW - timedelta(minutes=5)
    async with one() as unit:
        await unit.connection.execute(update(inbound_events).values(locked_until=stopped))
        await unit.commit()
    async with one() as unit:
        held = await unit.inbox.claim_batch({"whatsapp"}, NOW, LEASE, 1, sender=message_sender)
        assert texts(held) == ["a1"]
        assert await claim(two, 10) == []
        await unit.commit()
    async with one() as unit:
        query = select(inbound_events.c.locked_until).order_by(inbound_events.c.id)
        assert list((await unit.connection.execute(query)).scalars()) == [NOW + LEASE, stopped]
