"""The job runner: one pass of a job at a time, failures counted, passes awaited within a bound on stop."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.runner import Job, JobRunner
from tests.conftest import NOW, FrozenClock


async def test_a_job_never_runs_twice_at_once_even_when_asked_by_hand_during_its_pass() -> None:
    running, most = 0, 0
    release = asyncio.Event()

    async def sweep() -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        return 1

    runner = JobRunner([Job("sweep", 3600, sweep, at_start=True)], FrozenClock())
    runner.start()
    await asyncio.sleep(0.01)  # the start-up pass is under way
    by_hand = asyncio.create_task(runner.run_now("sweep"))
    await asyncio.sleep(0.01)
    release.set()
    assert await by_hand == 1
    await runner.stop()
    assert most == 1 and runner.stats()["sweep"].runs == 2


async def test_a_failing_pass_is_counted_and_the_next_one_still_runs() -> None:
    calls = 0
    second_pass = asyncio.Event()

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database blip")
        second_pass.set()
        return 0

    clock = FrozenClock()
    runner = JobRunner([Job("flaky", 0.01, flaky)], clock)
    runner.start()
    await asyncio.wait_for(second_pass.wait(), timeout=5)
    await runner.stop()
    stats = runner.stats()["flaky"]
    assert stats.failures == 1 and stats.runs >= 2 and stats.last_success == NOW


async def test_stopping_during_a_pass_lets_it_finish_within_the_bound() -> None:
    finished = asyncio.Event()
    started = asyncio.Event()

    async def slow() -> int:
        started.set()
        await asyncio.sleep(0.2)
        finished.set()
        return 1

    runner = JobRunner([Job("slow", 3600, slow, at_start=True)], FrozenClock(), stop_grace=5)
    runner.start()
    await started.wait()
    await runner.stop()
    assert finished.is_set(), "the pass under way was let finish"
    assert runner.stats()["slow"].runs == 1


async def test_a_pass_that_overruns_the_bound_is_cancelled_and_stop_returns() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def stuck() -> int:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    runner = JobRunner([Job("stuck", 3600, stuck, at_start=True)], FrozenClock(), stop_grace=0.1)
    runner.start()
    await started.wait()
    await asyncio.wait_for(runner.stop(), timeout=2)
    assert cancelled.is_set()


def test_two_jobs_may_not_share_a_name() -> None:
    async def nothing() -> None:
        return None

    with pytest.raises(ValueError, match="share a name"):
        JobRunner([Job("a", 1, nothing), Job("a", 2, nothing)], FrozenClock())
