"""Customers synced to the provider's clients (roadmap step 5): a customer created or changed becomes or
updates its iCount client with ``client/create_or_update``, outside any transaction; a refusal leaves it
failed with the reason, retried by the job; Stripe and sandbox vendors keep no client sync. Against the
wire-level fake of iCount API v3, on SQLite and on Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.domain.customer import Customer, checked_email
from bot.domain.errors import InvalidEmail
from bot.domain.product import SyncState
from bot.domain.vendor import ProviderName
from bot.payments.icount.client import IcountClient, IcountCredentials, RateLimiter
from bot.payments.icount.provider import IcountProvider
from bot.payments.port import PaymentProvider
from bot.payments.sandbox.provider import SandboxProvider
from bot.rendering import explain
from bot.services import customers as customer_service, orders, vendors as vendor_service
from bot.services.context import PaymentDeps
from bot.services.customer_sync import (
    Backoff,
    SyncOutcome,
    change_customer,
    sync_customer,
    sync_due_customers,
    wait_after,
)
from bot.services.providers import ensure_provider_client
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.fakes.icount_api import FakeIcount
from tests.payment_support import BASE_URL, OneProviderRegistry, deps_for

DANA = "+972501234567"
ADMIN = "+972541112222"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def icount() -> AsyncIterator[FakeIcount]:
    async with FakeIcount() as server:
        yield server


async def add_vendor(uow: UnitOfWorkFactory, provider: ProviderName) -> None:
    new = vendor_service.NewVendor(name="Ofe", admin_phones=[ADMIN], provider=provider, currency="ILS")
    await vendor_service.add_vendor(uow, new, NOW)


@pytest.fixture
async def deps(
    uow_factory: UnitOfWorkFactory, icount: FakeIcount, clock: FrozenClock
) -> AsyncIterator[PaymentDeps]:
    await add_vendor(uow_factory, ProviderName.ICOUNT)
    client = IcountClient(IcountCredentials(token=icount.token), icount.base_url, limiter=RateLimiter(1000))
    provider = IcountProvider(client, icount.paypage_id, BASE_URL, "key", retry_delay=0)
    yield deps_for(uow_factory, OneProviderRegistry(provider), clock)
    await provider.close()


async def customer(deps: PaymentDeps, phone: str = DANA) -> Customer:
    return await customer_service.show_customer(deps.uow, None, phone)


async def test_a_customer_created_with_a_name_and_email_becomes_an_icount_client_with_every_field(
    deps: PaymentDeps, icount: FakeIcount
) -> None:
    made, outcome = await change_customer(
        deps, None, DANA, [("name", "Dana Levi"), ("email", "dana@example.co.il"), ("locale", "he")]
    )
    assert outcome is SyncOutcome.CREATED
    [call] = icount.calls_to("client/create_or_update")
    assert call.params == {
        "custom_client_id": str(made.id),
        "client_name": "Dana Levi",
        "phone": DANA,
        "mobile": DANA,
        "email": "dana@example.co.il",
    }, "iCount's clients have no language field: the language is not sent"
    [(client_id, _)] = icount.clients.items()
    stored = await customer(deps)
    assert (stored.client_sync_state, stored.client_synced_at, stored.client_sync_error) == (
        SyncState.SYNCED,
        NOW,
        None,
    )
    assert stored.provider_client_id == client_id and stored.email == "dana@example.co.il"


async def test_a_change_updates_the_same_client_by_its_id_and_an_unchanged_one_is_not_sent_again(
    deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    await change_customer(deps, None, DANA, [("name", "Dana")])
    clock.advance(timedelta(minutes=5))
    changed, outcome = await change_customer(deps, None, DANA, [("email", "dana@example.com")])
    assert outcome is SyncOutcome.UPDATED
    first, second = icount.calls_to("client/create_or_update")
    [(client_id, client)] = icount.clients.items()
    assert second.params["client_id"] == client_id and second.params["custom_client_id"] == str(changed.id)
    assert (client["client_name"], client["email"]) == ("Dana", "dana@example.com")
    assert changed.client_synced_at == NOW + timedelta(minutes=5)
    _, again = await change_customer(deps, None, DANA, [("email", "dana@example.com")])
    assert again is SyncOutcome.SKIPPED and len(icount.calls_to("client/create_or_update")) == 2
    assert icount.created["client"] == 1


async def test_a_refusal_leaves_the_customer_saved_and_failed_with_the_reason_and_the_job_retries_it_later(
    deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    icount.refuse_clients("bad_email")
    saved, outcome = await change_customer(
        deps, None, DANA, [("name", "Dana"), ("email", "dana@example.com")]
    )
    assert outcome is SyncOutcome.FAILED
    assert (saved.name, saved.email, saved.client_sync_state) == (
        "Dana",
        "dana@example.com",
        SyncState.FAILED,
    )
    assert saved.client_sync_error is not None and "bad_email" in saved.client_sync_error
    assert saved.client_synced_at is None

    backoff = Backoff()
    assert await sync_due_customers(deps, backoff) == 0, "still refused"
    assert len(icount.calls_to("client/create_or_update")) == 2
    icount.clear_faults()
    assert await sync_due_customers(deps, backoff) == 0, "not before its wait"
    assert len(icount.calls_to("client/create_or_update")) == 2
    clock.advance(wait_after(1))
    assert await sync_due_customers(deps, backoff) == 1
    stored = await customer(deps)
    assert (stored.client_sync_state, stored.client_sync_error) == (SyncState.SYNCED, None)
    assert stored.client_synced_at == NOW + wait_after(1)
    assert await sync_due_customers(deps, backoff) == 0, "synced: not sent again"


async def test_the_job_syncs_a_customer_an_order_made_and_leaves_the_synced_ones_alone(
    deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    await orders.create_order(deps.uow, None, DANA, "90", "Gâteau", True, clock())
    made = await customer(deps)
    assert made.client_sync_state is None, "not synced yet"
    assert await sync_due_customers(deps, Backoff()) == 1
    [client] = icount.clients.values()
    assert (client["client_name"], client["mobile"], client["custom_client_id"]) == (DANA, DANA, str(made.id))
    assert (await customer(deps)).client_sync_state is SyncState.SYNCED
    assert await sync_due_customers(deps, Backoff()) == 0


async def test_a_customer_made_a_client_before_a_link_is_then_updated_by_its_id_not_made_twice(
    deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    await orders.create_order(deps.uow, None, DANA, "90", "Gâteau", True, clock())
    made = await customer(deps)
    assert isinstance(deps.providers, OneProviderRegistry)
    provider = deps.providers.provider
    client_id = await ensure_provider_client(deps, provider, made.id)
    assert client_id is not None and icount.created["client"] == 1
    await change_customer(deps, None, DANA, [("name", "Dana")])
    [call] = icount.calls_to("client/create_or_update")
    assert call.params["client_id"] == client_id
    assert icount.created["client"] == 1 and icount.clients[client_id]["client_name"] == "Dana"


async def test_a_customer_changed_by_the_chat_is_pending_again_and_synced_by_the_job(
    deps: PaymentDeps, icount: FakeIcount, clock: FrozenClock
) -> None:
    await change_customer(deps, None, DANA, [("name", "Dana")])
    await customer_service.set_customer(deps.uow, None, DANA, [("name", "Dana Levi")], clock())
    assert (await customer(deps)).client_sync_state is SyncState.PENDING
    assert await sync_due_customers(deps, Backoff()) == 1
    [client] = icount.clients.values()
    assert client["client_name"] == "Dana Levi"


async def test_a_stripe_or_sandbox_vendor_keeps_no_client_sync(
    uow_factory: UnitOfWorkFactory, clock: FrozenClock
) -> None:
    await add_vendor(uow_factory, ProviderName.SANDBOX)
    provider: PaymentProvider = SandboxProvider(BASE_URL)
    deps = deps_for(uow_factory, OneProviderRegistry(provider), clock)
    saved, outcome = await change_customer(deps, None, DANA, [("email", "dana@example.com")])
    assert outcome is SyncOutcome.SKIPPED and saved.client_sync_state is None
    assert await sync_due_customers(deps, Backoff()) == 0
    assert await sync_customer(deps, saved.id) is SyncOutcome.SKIPPED


@pytest.mark.parametrize(
    "email",
    ["dana", "dana@example", "da@na@example.com", "@example.com", "dana@.com", "da na@example.com",
     "d@" + "e" * 250 + ".com"],
)  # fmt: skip
def test_an_email_without_one_at_or_a_dotted_domain_or_too_long_is_refused_in_each_language(
    email: str,
) -> None:
    with pytest.raises(InvalidEmail) as caught:
        checked_email(email)
    for locale in ("fr", "en", "he"):
        assert email[:20] in explain(caught.value, locale)


def test_a_good_email_is_kept_trimmed_and_an_empty_one_clears_it() -> None:
    assert checked_email("  dana@example.co.il ") == "dana@example.co.il"
    assert checked_email("") is None


async def test_a_bad_email_changes_nothing_and_sends_nothing(deps: PaymentDeps, icount: FakeIcount) -> None:
    await change_customer(deps, None, DANA, [("name", "Dana")])
    with pytest.raises(InvalidEmail):
        await change_customer(deps, None, DANA, [("name", "Other"), ("email", "nope")])
    stored = await customer(deps)
    assert (stored.name, stored.email, stored.client_sync_state) == ("Dana", None, SyncState.SYNCED)
    assert len(icount.calls_to("client/create_or_update")) == 1
