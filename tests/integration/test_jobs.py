"""The jobs of ``bot serve`` on a real database: a pass caught by shutdown finishes or rolls back within its
bound (the database is never left locked), and /metrics shows every job's runs, failures and last success."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, insert, select

from bot.app import create_app
from bot.jobs.catalogue import REMINDER_SWEEP
from bot.jobs.runner import Job, JobRunner
from bot.store.tables import vendors
from bot.store.uow import UnitOfWorkFactory
from bot.web.keys import jobs_key
from tests.conftest import NOW, FrozenClock, TickingClock
from tests.payment_support import settings_for


async def _vendor_rows(uow_factory: UnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        return int((await uow.connection.execute(select(func.count()).select_from(vendors))).scalar_one())


def _holding_a_transaction(uow_factory: UnitOfWorkFactory, seconds: float, started: asyncio.Event) -> Job:
    """A pass that writes inside a transaction and commits only after ``seconds``: a sweep in the middle
    of its batch."""

    async def work() -> int:
        async with uow_factory() as uow:
            await uow.connection.execute(
                insert(vendors).values(
                    id=uuid.uuid4(), name="mid-pass", currency="EUR", locale="fr", timezone="UTC",
                    reminder_schedule="1d", whatsapp_templates={}, created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
            started.set()
            await asyncio.sleep(seconds)
            await uow.commit()
        return 1

    return Job("sweep", 3600, work, at_start=True)


async def test_a_pass_caught_by_shutdown_is_let_commit_within_the_bound(
    uow_factory: UnitOfWorkFactory,
) -> None:
    started = asyncio.Event()
    runner = JobRunner([_holding_a_transaction(uow_factory, 0.3, started)], FrozenClock(), stop_grace=5)
    runner.start()
    await started.wait()
    began = time.monotonic()
    await runner.stop()
    assert time.monotonic() - began < 5
    assert await _vendor_rows(uow_factory) == 1, "the pass finished and committed"


async def test_a_pass_that_overruns_the_bound_rolls_back_and_leaves_the_database_usable(
    uow_factory: UnitOfWorkFactory,
) -> None:
    started = asyncio.Event()
    runner = JobRunner([_holding_a_transaction(uow_factory, 3600, started)], FrozenClock(), stop_grace=0.2)
    runner.start()
    await started.wait()
    await asyncio.wait_for(runner.stop(), timeout=5)
    assert await _vendor_rows(uow_factory) == 0, "rolled back, nothing half written"
    async with uow_factory() as uow:  # not locked: a write goes through at once
        await uow.connection.execute(
            insert(vendors).values(
                id=uuid.uuid4(), name="after", currency="EUR", locale="fr", timezone="UTC",
                reminder_schedule="1d", whatsapp_templates={}, created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        await asyncio.wait_for(uow.commit(), timeout=2)


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
async def test_metrics_show_each_jobs_runs_failures_and_last_success(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'bot.db'}", vendor_admin_phones="+33612345678")
    client = await aiohttp_client(create_app(settings, clock=TickingClock()))
    runner = client.app[jobs_key]
    await runner.started()
    await runner.run_now(REMINDER_SWEEP)
    text = await (await client.get("/metrics")).text()
    for name in runner.names:
        assert f'bot_job_runs_total{{job="{name}"}}' in text
        assert f'bot_job_failures_total{{job="{name}"}} 0.0' in text
        assert f'bot_job_last_success_timestamp_seconds{{job="{name}"}}' in text
    assert f'bot_job_runs_total{{job="{REMINDER_SWEEP}"}} 1.0' in text
    success = next(
        line
        for line in text.splitlines()
        if line.startswith(f'bot_job_last_success_timestamp_seconds{{job="{REMINDER_SWEEP}"}}')
    )
    assert float(success.rsplit(" ", 1)[1]) >= NOW.timestamp()
    assert set(runner.names) >= {
        "reminder_sweep", "request_recovery", "payment_backlog", "whatsapp_backlog", "refund_check",
        "sender_release", "hold_release", "invoice_pass", "ipn_backlog",
    }  # fmt: skip
