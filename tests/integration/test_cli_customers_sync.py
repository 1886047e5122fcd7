"""``bot customers sync``: the batch for existing contacts. Over 100 customers it keeps within iCount's 30
calls a minute (measured on the times the fake iCount got the calls, by a fake clock that the client's
rate limiter sleeps on: nothing sleeps for real), resumes after a run cut short (only the rest is sent),
and reports created, updated and failed counts, as text and as JSON. ``bot customer set ... email=``
validates the address and syncs the change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.customer import Customer
from bot.domain.product import SyncState
from bot.domain.vendor import ProviderName
from bot.payments.icount.client import IcountClient, IcountCredentials, RateLimiter, use_limiter
from bot.payments.icount.provider import IcountProvider
from bot.services import customers as customer_service, vendors as vendor_service
from bot.services.customer_sync import BatchReport, SyncOutcome, sync_all_customers
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.fakes.icount_api import FakeIcount
from tests.integration.test_cli import check_one_line_failure, in_tmp, run_main
from tests.payment_support import BASE_URL, OneProviderRegistry, deps_for

__all__ = ["in_tmp"]
ADMIN = "+972541112222"
LIMIT = 30
MINUTE = timedelta(minutes=1)


class FakeTime:
    """The rate limiter's clock and sleeper, and the fake iCount's clock: sleeping moves it on at once."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def monotonic(self) -> float:
        return self.seconds

    async def sleep(self, seconds: float) -> None:
        self.seconds += max(seconds, 0.0)

    def now(self) -> datetime:
        return NOW + timedelta(seconds=self.seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def icount(fake_time: FakeTime) -> AsyncIterator[FakeIcount]:
    async with FakeIcount(clock=fake_time.now) as server:
        # Every iCount client of this token in the process (the command's too) waits on the fake clock.
        use_limiter(
            IcountCredentials(token=server.token),
            RateLimiter(LIMIT, 60.0, fake_time.monotonic, fake_time.sleep),
        )
        yield server


@pytest.fixture
def cli(in_tmp: Path, icount: FakeIcount, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{in_tmp / 'bot.db'}")
    monkeypatch.setenv("ICOUNT_API_TOKEN", icount.token)
    monkeypatch.setenv("ICOUNT_PAYPAGE_ID", icount.paypage_id)
    monkeypatch.setenv("ICOUNT_API_BASE", icount.base_url)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://bot.example")
    return in_tmp


async def bot(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # The command runs its own event loop: in a thread, while the fake iCount answers on this one.
    return await asyncio.to_thread(run_main, capsys, *argv)


async def customers_of_a_vendor(capsys: pytest.CaptureFixture[str], folder: Path, count: int) -> None:
    code, _, err = await bot(
        capsys, "vendor", "add", "--name", "Ofe", "--admin", ADMIN, "--provider", "icount",
        "--currency", "ILS", "--timezone", "Asia/Jerusalem",
    )  # fmt: skip
    assert code == 0, err
    engine = create_engine(f"sqlite:///{folder / 'bot.db'}")
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            [vendor] = await uow.vendors.all()
            for n in range(count):
                await uow.customers.get_or_create(vendor.id, f"97250{n:07d}", NOW, f"Client {n}")
            await uow.commit()
    finally:
        await engine.dispose()


def sync_times(icount: FakeIcount) -> list[datetime]:
    return sorted(call.at for call in icount.calls_to("client/create_or_update") if call.at is not None)


def most_in_a_minute(times: list[datetime]) -> int:
    return max((sum(1 for t in times if start <= t < start + MINUTE) for start in times), default=0)


async def test_syncing_100_customers_keeps_within_30_calls_a_minute_and_a_run_cut_short_resumes_with_the_rest(
    cli: Path, icount: FakeIcount, capsys: pytest.CaptureFixture[str]
) -> None:
    await customers_of_a_vendor(capsys, cli, 100)
    icount.refuse_clients("server_busy", after=40)
    code, out, err = await bot(capsys, "customers", "sync")
    assert code == 1 and err == "", "a run with failures says so by its exit code"
    lines = out.splitlines()
    assert lines[:3] == [
        "10/100 customers sent (0 failed)",
        "20/100 customers sent (0 failed)",
        "30/100 customers sent (0 failed)",
    ], "plain progress lines when stdout is not a terminal"
    assert "100/100 customers sent (60 failed)" in lines
    summary = lines[lines.index("100/100 customers sent (60 failed)") + 1 :]
    assert summary[0] == "customers synced to icount: 40 created, 0 updated, 60 failed (of 100 to sync)"
    assert summary[1].startswith("failed (60): icount client/create_or_update: server_busy")
    assert summary[2] == "run `bot customers sync` again to retry the failed ones"
    first = sync_times(icount)
    assert len(first) == 100 and len(icount.clients) == 40
    assert most_in_a_minute(first) <= LIMIT
    assert first[-1] - first[0] >= 3 * MINUTE, "100 calls at 30 a minute take over three minutes"

    icount.clear_faults()
    code, out, err = await bot(capsys, "customers", "sync", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "vendor": "Ofe",
        "provider": "icount",
        "client_sync": True,
        "total": 60,
        "created": 60,
        "updated": 0,
        "failed": 0,
        "changed_meanwhile": 0,
        "errors": {},
    }
    every = sync_times(icount)
    assert len(every) == 160, "only the 60 not synced were sent again"
    assert len(icount.clients) == 100 and icount.created["client"] == 100
    assert most_in_a_minute(every) <= LIMIT, "within the limit across both runs too"

    code, out, err = await bot(capsys, "customers", "sync")
    assert (code, out.strip()) == (
        0,
        "customers synced to icount: 0 created, 0 updated, 0 failed (of 0 to sync)",
    )
    assert len(icount.calls_to("client/create_or_update")) == 160


async def test_customer_set_email_syncs_the_change_and_customers_sync_then_counts_it_updated(
    cli: Path, icount: FakeIcount, capsys: pytest.CaptureFixture[str]
) -> None:
    await customers_of_a_vendor(capsys, cli, 2)
    code, out, _ = await bot(capsys, "customers", "sync")
    assert out.splitlines()[-1] == "customers synced to icount: 2 created, 0 updated, 0 failed (of 2 to sync)"
    icount.refuse_clients("bad_email")
    code, out, err = await bot(
        capsys, "customer", "set", "+972500000001", "email=dana@example.com", "name=Dana"
    )
    assert code == 0, err
    assert out.split()[:4] == ["+972500000001", "Dana", "vendor's", "language"]
    assert "dana@example.com  client failed (icount client/create_or_update: bad_email" in out
    code, out, err = await bot(capsys, "customer", "show", "+972500000001", "--json")
    shown = json.loads(out)
    assert shown["email"] == "dana@example.com" and shown["client_sync"]["state"] == "failed"
    icount.clear_faults()
    code, out, err = await bot(capsys, "customers", "sync")
    assert (code, out.splitlines()[-1]) == (
        0,
        "customers synced to icount: 0 created, 1 updated, 0 failed (of 1 to sync)",
    )
    client = next(c for c in icount.clients.values() if c["mobile"] == "+972500000001")
    assert (client["client_name"], client["email"]) == ("Dana", "dana@example.com")
    code, out, _ = await bot(capsys, "customer", "list")
    assert "+972500000001  Dana  vendor's language  dana@example.com  client synced" in out.splitlines()
    [listed] = [
        c for c in json.loads((await bot(capsys, "customer", "list", "--json"))[1]) if c["name"] == "Dana"
    ]
    assert listed["client_sync"]["state"] == "synced" and listed["client_sync"]["error"] is None


@pytest.mark.parametrize("email", ["dana", "dana@example", "a@b@c.com"])
async def test_customer_set_refuses_a_bad_email_in_one_line_and_changes_nothing(
    cli: Path, icount: FakeIcount, capsys: pytest.CaptureFixture[str], email: str
) -> None:
    await customers_of_a_vendor(capsys, cli, 1)
    code, out, err = await bot(capsys, "customer", "set", "+972500000000", f"email={email}", "name=Other")
    check_one_line_failure(code, err)
    assert email in err and "email address" in err and out == ""
    code, out, _ = await bot(capsys, "customer", "show", "+972500000000", "--json")
    assert (json.loads(out)["email"], json.loads(out)["name"]) == (None, "Client 0")
    assert icount.calls_to("client/create_or_update") == []


async def test_a_run_stopped_by_ctrl_c_is_picked_up_where_it_stopped(
    uow_factory: UnitOfWorkFactory, icount: FakeIcount
) -> None:
    new = vendor_service.NewVendor(
        name="Ofe", admin_phones=[ADMIN], provider=ProviderName.ICOUNT, currency="ILS"
    )
    await vendor_service.add_vendor(uow_factory, new, NOW)
    async with uow_factory() as uow:
        [vendor] = await uow.vendors.all()
        for n in range(12):
            await uow.customers.get_or_create(vendor.id, f"97250{n:07d}", NOW)
        await uow.commit()
    client = IcountClient(IcountCredentials(token=icount.token), icount.base_url)
    provider = IcountProvider(client, icount.paypage_id, BASE_URL, "key", retry_delay=0)
    deps = deps_for(uow_factory, OneProviderRegistry(provider), FrozenClock())

    def stop_after_five(report: BatchReport, customer: Customer, outcome: SyncOutcome) -> None:
        if report.done == 5:
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            await sync_all_customers(deps, None, stop_after_five)
        synced = [c for c in await customer_service.list_customers(uow_factory, None) if c.client_sync_state]
        assert len(synced) == 5 and {c.client_sync_state for c in synced} == {SyncState.SYNCED}
        report = await sync_all_customers(deps, None)
        assert (report.total, report.created, report.updated, report.failed) == (7, 7, 0, 0)
        assert len(icount.calls_to("client/create_or_update")) == 12 and len(icount.clients) == 12
    finally:
        await provider.close()
