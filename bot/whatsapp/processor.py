"""Handles stored WhatsApp events after the webhook is answered, in batches.

Statuses (most of Meta's traffic) are applied many at a time in one transaction; messages go to the
handlers, one sender's messages in order, several senders at once. Running this beside the webhook in
one task, not one task per request, keeps the acknowledgements fast under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.services.clock import Clock
from bot.store.uow import UnitOfWorkFactory
from bot.whatsapp.clients import WhatsAppClients
from bot.whatsapp.dispatch import process_status_events, process_whatsapp_event
from bot.whatsapp.webhook_events import SOURCE

log = logging.getLogger(__name__)
MAX_STATUSES_PER_TRANSACTION = 500
MESSAGE_CONCURRENCY = 8
BACKLOG_BATCH = 500


@dataclass(frozen=True, slots=True)
class Job:
    event_id: int
    event_type: str
    payload: str
    sender: str | None = None


class InboxProcessor:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clients: WhatsAppClients,
        clock: Clock,
        notify_sender: Callable[[], None],
    ) -> None:
        self._uow = uow
        self._clients = clients
        self._clock = clock
        self._notify = notify_sender
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(MESSAGE_CONCURRENCY)
        self._senders: dict[str, asyncio.Lock] = {}
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inbox-processor")

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def submit(self, jobs: list[Job]) -> None:
        for job in jobs:
            self._queue.put_nowait(job)

    async def resubmit_waiting(self, received_before: datetime, limit: int = BACKLOG_BATCH) -> int:
        """Events a crash (or a failure) left unprocessed, received before ``received_before``, are
        handled again; returns how many were submitted."""
        async with self._uow() as uow:
            waiting = await uow.inbox.unprocessed({SOURCE}, received_before, limit)
            stored = [await uow.inbox.get(event_id) for event_id in waiting]
        self.submit([Job(e.id, e.event_type, e.payload) for e in stored if e is not None])
        return len(waiting)

    async def drain(self) -> None:
        """Waits until everything submitted so far is handled (tests, shutdown)."""
        while not self._queue.empty() or self._running:
            if self._running:
                await asyncio.wait(set(self._running))
            else:
                await asyncio.sleep(0.01)

    async def _run(self) -> None:
        while True:
            jobs = [await self._queue.get()]
            while not self._queue.empty() and len(jobs) < MAX_STATUSES_PER_TRANSACTION:
                jobs.append(self._queue.get_nowait())
            statuses = [(job.event_id, job.payload) for job in jobs if job.event_type == "status"]
            task = asyncio.create_task(self._statuses(statuses))
            self._track(task)
            for job in jobs:
                if job.event_type != "status":
                    await self._slots.acquire()
                    self._track(asyncio.create_task(self._message(job)))
            await task

    def _track(self, task: asyncio.Task[None]) -> None:
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _statuses(self, statuses: list[tuple[int, str]]) -> None:
        try:
            await process_status_events(self._uow, self._clock, self._notify, statuses)
        except Exception:  # noqa: BLE001 - left unprocessed in the inbox; the recovery pass retries
            log.exception("applying %d statuses failed", len(statuses))

    async def _message(self, job: Job) -> None:
        lock = self._senders.setdefault(job.sender or "", asyncio.Lock())
        try:
            async with lock:
                await process_whatsapp_event(self._uow, self._clients, self._clock, job.event_id)
        except Exception:  # noqa: BLE001 - left in the inbox; the recovery pass retries
            log.exception("handling event %s failed", job.event_id)
        finally:
            self._slots.release()
            if not lock.locked() and len(self._senders) > 10_000:
                self._senders.pop(job.sender or "", None)
