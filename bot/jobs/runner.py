"""The one runner of periodic jobs.

Each job has a name and an interval; a job never runs twice at once in this process (its loop and a run
asked by hand share a lock); a failure is logged and counted, and the next turn tries again. On shutdown a
job in the middle of its work is let finish within a bound (cancelled inside a database transaction it
would leave SQLite locked until its busy timeout), then cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.services.clock import Clock

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    interval: float
    # One pass; returns how much it did (logged when not zero), or None.
    run: Callable[[], Awaitable[int | None]]
    # Also once as soon as the process starts (recovery after downtime), not only after a first interval.
    at_start: bool = False


@dataclass(slots=True)
class JobStats:
    runs: int = 0
    failures: int = 0
    last_duration: float = 0.0
    last_success: datetime | None = None


class JobRunner:
    def __init__(
        self,
        jobs: Sequence[Job],
        clock: Clock,
        *,
        after_each: Callable[[], None] | None = None,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"two jobs share a name: {names}")
        self._jobs = {job.name: job for job in jobs}
        self._clock = clock
        self._after_each = after_each
        self._stop_grace = stop_grace
        self._locks = {name: asyncio.Lock() for name in self._jobs}
        self._stats = {name: JobStats() for name in self._jobs}
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._first_passes: list[asyncio.Event] = []

    @property
    def names(self) -> list[str]:
        return list(self._jobs)

    def stats(self) -> dict[str, JobStats]:
        return dict(self._stats)

    def start(self) -> None:
        self._stopping.clear()
        self._first_passes = []
        for job in self._jobs.values():
            done = asyncio.Event()
            self._first_passes.append(done)
            self._tasks.append(asyncio.create_task(self._loop(job, done), name=f"job-{job.name}"))

    async def started(self) -> None:
        """Waits until the jobs that run at start (the recovery after downtime) have had their pass."""
        for done in self._first_passes:
            await done.wait()

    async def run_now(self, name: str) -> int | None:
        """One pass of ``name`` now, after the one running (if any) ends; its failure is raised."""
        return await self._run(self._jobs[name], reraise=True)

    async def _loop(self, job: Job, first_pass: asyncio.Event) -> None:
        if job.at_start:
            await self._run(job)
        first_pass.set()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=job.interval)
            if not self._stopping.is_set():
                await self._run(job)

    async def _run(self, job: Job, *, reraise: bool = False) -> int | None:
        async with self._locks[job.name]:
            stats = self._stats[job.name]
            started = time.perf_counter()
            try:
                done = await job.run()
            except Exception:  # noqa: BLE001 - counted and logged; the next turn tries again
                stats.failures += 1
                log.exception("job %s failed", job.name)
                if reraise:
                    raise
                return None
            finally:
                stats.runs += 1
                stats.last_duration = time.perf_counter() - started
            stats.last_success = self._clock()
        if done:
            log.info("job %s: %d done", job.name, done)
        if self._after_each is not None:
            self._after_each()
        return done

    async def stop(self) -> None:
        """Stops every loop: a pass under way is let finish within the bound, then cancelled."""
        self._stopping.set()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(self._tasks, timeout=self._stop_grace)
        for task in pending:
            log.warning("job %s did not finish within %.0f s: cancelled", task.get_name(), self._stop_grace)
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        self._tasks = []
