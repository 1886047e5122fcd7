"""A crash after a request's link was recorded but before its message was queued: the recovery pass
queues the message with that link and never calls the provider again (counted at the Stripe wire fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from bot.domain.deposit import AskKind
from bot.payments.stripe.provider import StripeProvider
from bot.services import payments
from bot.store.tables import outbox_messages, payment_transactions, reminders
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.fakes.stripe_api import FakeStripe
from tests.payment_support import OneProviderRegistry, deps_for, vendor_with_order

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe(clock=FrozenClock()) as server:
        yield server


@pytest.fixture
async def stripe(fake: FakeStripe) -> AsyncIterator[StripeProvider]:
    provider = StripeProvider(fake.api_key, fake.base_url)
    yield provider
    await provider.close()


async def crash_after_link(uow_factory: UnitOfWorkFactory) -> None:
    """The state the crash left: the transaction and its link committed, no message and no reminder."""
    async with uow_factory() as uow:
        await uow.connection.execute(delete(reminders))
        await uow.connection.execute(delete(outbox_messages))
        await uow.commit()


async def request_messages(uow_factory: UnitOfWorkFactory) -> list[tuple[str, str]]:
    async with uow_factory() as uow:
        rows = await uow.connection.execute(
            select(outbox_messages.c.kind, outbox_messages.c.payload).order_by(outbox_messages.c.id)
        )
        return [(row.kind, row.payload["text"]) for row in rows]


async def test_a_request_whose_link_was_recorded_without_its_message_gets_it_with_that_link_and_no_new_call(
    uow_factory: UnitOfWorkFactory, fake: FakeStripe, stripe: StripeProvider
) -> None:
    clock = FrozenClock()
    deps = deps_for(uow_factory, OneProviderRegistry(stripe), clock)
    number = await vendor_with_order(uow_factory, provider="stripe")
    outcome = await payments.request_payment(deps, None, number, AskKind.DEPOSIT, "45")
    await crash_after_link(uow_factory)
    calls_before = len(fake.requests)
    clock.advance(timedelta(minutes=5))

    assert await payments.complete_unlinked_requests(deps, timedelta(minutes=2)) == 1

    [(kind, text)] = await request_messages(uow_factory)
    assert kind == "payment_request" and outcome.url in text
    assert len(fake.requests) == calls_before, "no second call to Stripe"
    assert fake.created["payment_link"] == 1
    async with uow_factory() as uow:
        planned = await uow.reminders.for_transaction(outcome.transaction.id)
    assert [r.due_at - NOW for r in planned] == [timedelta(days=1), timedelta(days=3), timedelta(days=7)]
    # A second pass (or a second process) finds nothing more to do.
    assert await payments.complete_unlinked_requests(deps, timedelta(minutes=2)) == 0
    assert len(await request_messages(uow_factory)) == 1
    assert len(fake.requests) == calls_before


async def test_a_request_just_made_is_left_to_its_own_process_within_the_grace(
    uow_factory: UnitOfWorkFactory, stripe: StripeProvider
) -> None:
    clock = FrozenClock()
    deps = deps_for(uow_factory, OneProviderRegistry(stripe), clock)
    number = await vendor_with_order(uow_factory, provider="stripe")
    await payments.request_payment(deps, None, number, AskKind.FULL)
    await crash_after_link(uow_factory)
    assert await payments.complete_unsent_requests(deps, timedelta(minutes=2)) == 0
    clock.advance(timedelta(minutes=3))
    assert await payments.complete_unsent_requests(deps, timedelta(minutes=2)) == 1


async def test_a_cancelled_or_paid_request_gets_no_late_message(
    uow_factory: UnitOfWorkFactory, stripe: StripeProvider
) -> None:
    deps = deps_for(uow_factory, OneProviderRegistry(stripe))
    number = await vendor_with_order(uow_factory, provider="stripe")
    await payments.request_payment(deps, None, number, AskKind.FULL)
    await crash_after_link(uow_factory)
    async with uow_factory() as uow:
        await uow.connection.execute(payment_transactions.update().values(status="cancelled"))
        await uow.commit()
    assert await payments.complete_unsent_requests(deps) == 0
    assert await request_messages(uow_factory) == []
