"""The inbox worker: handles stored WhatsApp events after the webhook is answered, apart from ingest.

It claims batches of inbox rows under a lease (``SKIP LOCKED`` on Postgres, so several workers, in
several processes, share the inbox), then:
- statuses (most of Meta's traffic) are applied many at a time in one transaction;
- customers' plain messages to their vendor are forwarded many at a time (one transaction records the
  customers, opens their windows, queues the replies and marks the events processed);
- everything else goes to the chat handlers through pywa, one sender's messages in order, several
  senders at once.
A worker killed mid-batch leaves its rows leased; they are taken again once the lease is over.

Beside the webhooks in one process (``bot serve`` alone, and always on SQLite), processing gets a bounded
share of the event loop: after a batch that took t seconds while webhooks kept arriving, it pauses
t * (1 - share) / share, so acknowledgements never queue behind a burst of processing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from bot.domain.cards import REDACTION
from bot.failures import OncePerKind
from bot.handlers.customer_words import CustomerIntent, parse_customer_reply
from bot.services.clock import Clock
from bot.services.customer_inbox import CustomerText, forward_customer_texts
from bot.services.inbox import PROCESSING_LEASE
from bot.store.repositories.inbox import InboundEvent
from bot.store.uow import UnitOfWorkFactory
from bot.tasks import stop_task
from bot.whatsapp.clients import WhatsAppClients
from bot.whatsapp.dispatch import process_held_event, process_status_events
from bot.whatsapp.webhook_events import SOURCE

log = logging.getLogger(__name__)
_failures = OncePerKind(log)
MAX_STATUSES_PER_TRANSACTION = 500
MESSAGE_CONCURRENCY = 8
BATCH = 500
# Idle, a worker of its own looks for new rows this often; beside the webhooks it is woken at once.
POLL_SECONDS = 0.05
# Beside the webhooks: at most this share of the loop while they are busy, and smaller batches.
SHARED_LOOP_SHARE = 0.25
SHARED_BATCH = 50


@dataclass(frozen=True, slots=True)
class Job:
    """Kept for callers of ``submit``: the worker reads the inbox itself, a job only wakes it."""

    event_id: int
    event_type: str
    payload: str
    sender: str | None = None


def customer_text(event: InboundEvent) -> CustomerText | None:
    """The event as a plain text for the vendor, when it is one (no command, no card, no click); the
    chat handlers take everything else."""
    if event.event_type != "message":
        return None
    try:
        value = orjson.loads(event.payload)["entry"][0]["changes"][0]["value"]
        message = value["messages"][0]
        if message.get("type") != "text":
            return None
        body = message["text"]["body"]
        contact = (value.get("contacts") or [{}])[0]
        sender = str(contact.get("wa_id") or message["from"])
        at = datetime.fromtimestamp(int(message["timestamp"]), UTC)
        number = value.get("metadata", {}).get("phone_number_id")
    except (KeyError, IndexError, TypeError, ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(body, str) or not body or REDACTION in body:
        return None
    if parse_customer_reply(body) is not CustomerIntent.OTHER:
        return None
    name = (contact.get("profile") or {}).get("name")
    number = None if number is None else str(number)
    return CustomerText(event.id, number, sender, at, name if isinstance(name, str) else None, body)


class InboxProcessor:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clients: WhatsAppClients,
        clock: Clock,
        notify_sender: Callable[[], None],
        *,
        shared_loop: bool = True,
        lease: timedelta = PROCESSING_LEASE,
        batch: int | None = None,
    ) -> None:
        self._uow = uow
        self._clients = clients
        self._clock = clock
        self._notify = notify_sender
        self._shared = shared_loop
        self._lease = lease
        self._batch = batch or (SHARED_BATCH if shared_loop else BATCH)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._arrivals = 0  # webhooks stored since the last batch: ingest is busy
        self.processed = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    def wake(self) -> None:
        """New rows are in the inbox (the webhook beside it in this process stored them)."""
        self._arrivals += 1
        self._idle.clear()
        self._wake.set()

    def submit(self, jobs: list[Job]) -> None:
        if jobs:
            self.wake()

    async def resubmit_waiting(self, received_before: datetime, limit: int = BATCH) -> int:
        """The recovery job's hook: the worker takes every waiting row itself, so this only wakes it."""
        self._wake.set()
        return 0

    async def drain(self, limit: float = 30.0) -> None:
        """Waits until the inbox has nothing the worker can take now (tests, shutdown)."""
        deadline = time.monotonic() + limit
        self._idle.clear()
        self._wake.set()
        while time.monotonic() < deadline:
            if self._task is None or self._task.done():
                while await self.run_once():
                    pass
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 0.5)
            if self._idle.is_set():
                return

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._arrivals = 0
            started = time.perf_counter()
            try:
                handled = await self.run_once()
            except Exception as error:  # noqa: BLE001 - the rows stay leased and are taken again later
                _failures.failed(("batch",), error, "inbox batch failed")
                handled = 0
                await asyncio.sleep(1.0)
            if handled:
                if self._shared and self._arrivals:
                    spent = time.perf_counter() - started
                    await asyncio.sleep(spent * (1 - SHARED_LOOP_SHARE) / SHARED_LOOP_SHARE)
                continue
            self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0 if self._shared else POLL_SECONDS)

    async def run_once(self) -> int:
        """Claims one batch and handles it; how many events it held (0: nothing to do)."""
        now = self._clock()
        async with self._uow() as uow:
            # Not a message whose sender's earlier one another worker holds: each sender's in order.
            events = await uow.inbox.claim_batch(
                {SOURCE}, now, self._lease, self._batch, sender=message_sender
            )
            await uow.commit()
        if not events:
            return 0
        statuses = [(e.id, e.payload) for e in events if e.event_type == "status"]
        texts = [t for e in events if (t := customer_text(e)) is not None]
        by_id = {e.id: e for e in events}
        others = {e.id for e in events if e.event_type != "status"} - {t.event_id for t in texts}
        alone: list[InboundEvent] = []  # those of a shared transaction that failed: each on its own
        for start in range(0, len(statuses), MAX_STATUSES_PER_TRANSACTION):
            chunk = statuses[start : start + MAX_STATUSES_PER_TRANSACTION]
            if not await self._guarded(
                process_status_events(self._uow, self._clock, self._notify, chunk), "statuses"
            ):
                alone += [by_id[event_id] for event_id, _ in chunk]
        if texts:
            try:
                outcome = await forward_customer_texts(
                    self._uow, self._clients.config.default_phone_id, texts, self._clock()
                )
            except Exception as error:  # noqa: BLE001 - one bad text must not hold the others back
                _failures.failed(("texts",), error, "forwarding %d customer messages failed", len(texts))
                others |= {t.event_id for t in texts}
            else:
                others |= set(outcome.left)
                if outcome.queued:
                    self._notify()
        await self._one_by_one([by_id[event_id] for event_id in sorted(others)] + alone)
        self.processed += len(events)
        return len(events)

    async def _guarded(self, work: Awaitable[None], what: str) -> bool:
        """Whether the shared transaction committed; when not, its events are handled one by one, so
        the one that failed it is retried or rejected alone."""
        try:
            await work
        except Exception as error:  # noqa: BLE001 - handled again one by one
            _failures.failed((what,), error, "applying %s together failed; one by one now", what)
            return False
        return True

    async def _one_by_one(self, events: list[InboundEvent]) -> None:
        """Through the chat handlers: each sender's events in order, several senders at once."""
        if not events:
            return
        lanes: dict[str, list[InboundEvent]] = {}
        for event in events:
            lanes.setdefault(message_sender(event), []).append(event)
        slots = asyncio.Semaphore(MESSAGE_CONCURRENCY)

        async def lane(queue: list[InboundEvent]) -> None:
            async with slots:
                for event in queue:
                    try:
                        await process_held_event(self._uow, self._clients, self._clock, event)
                    except Exception as error:  # noqa: BLE001 - left in the inbox; taken after the lease
                        _failures.failed(
                            ("event", event.event_type), error, "handling event %s failed", event.id
                        )

        await asyncio.gather(*(lane(queue) for queue in lanes.values()))


def message_sender(event: InboundEvent) -> str:
    """Who wrote a message ("" for a status or anything else)."""
    try:
        value = orjson.loads(event.payload)["entry"][0]["changes"][0]["value"]
        return str(value["messages"][0]["from"])
    except (KeyError, IndexError, TypeError, ValueError, orjson.JSONDecodeError):
        return ""
