"""The inbox: every inbound webhook event is stored (once, by its provider id) before it is answered,
then processed; events a crash left unprocessed are processed at the next start."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from bot.domain.outgoing import OutboxStatus
from bot.failures import OncePerKind, is_permanent, reason
from bot.payments.port import PaymentEvent
from bot.services.clock import Clock
from bot.services.context import PaymentDeps
from bot.services.events import apply_event
from bot.store.repositories.inbox import InboundEvent
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
_failures = OncePerKind(log)
PaymentParser = Callable[[str], list[PaymentEvent]]
T = TypeVar("T")
BACKLOG_BATCH = 100
# Long enough for any handler; a crashed processor's events are taken again after it.
PROCESSING_LEASE = timedelta(minutes=2)
# The inbox rows the inbox worker (bot worker) takes; the others are processed beside their webhook.
PROCESSED_BY_WORKER = frozenset({"whatsapp"})


async def store_event(
    uow_factory: UnitOfWorkFactory, source: str, key: str, event_type: str, payload: str, now: datetime
) -> int | None:
    """Commits the event; its id, or None when the provider sent it before."""
    async with uow_factory() as uow:
        event_id = await uow.inbox.add(source, key, event_type, payload, now)
        await uow.commit()
    return event_id


async def run_claimed(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    event_id: int,
    work: Callable[[InboundEvent], Awaitable[T]],
    *,
    expected: tuple[type[Exception], ...] = (),
    source: str | None = None,
) -> tuple[bool, T | None]:
    """The one claim routine of the inbox, for every source: claims a stored event (a lease: no other
    processor takes it meanwhile), runs ``work`` on it and marks it processed, or failed to be tried
    again: never lost. Returns (done, what ``work`` returned); done is True too when the event is gone,
    is not of ``source``, or someone else holds it. ``expected`` failures are logged without their
    traceback."""
    async with uow_factory() as uow:
        stored = await uow.inbox.get(event_id)
        ours = stored is not None and source in (None, stored.source)
        claimed = ours and await uow.inbox.claim(event_id, clock(), PROCESSING_LEASE)
        await uow.commit()
    if stored is None or not claimed:
        return True, None
    return await run_held(uow_factory, clock, stored, work, expected=expected)


async def run_held(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    stored: InboundEvent,
    work: Callable[[InboundEvent], Awaitable[T]],
    *,
    expected: tuple[type[Exception], ...] = (),
) -> tuple[bool, T | None]:
    """Runs ``work`` on an event this processor holds the lease of (``run_claimed``, or a worker's
    batch claim), then marks it processed, failed to be tried again, or rejected when it failed in a way
    trying again cannot cure (done: True, with no result)."""
    event_id = stored.id
    try:
        result = await work(stored)
    except Exception as error:  # noqa: BLE001 - kept in the inbox and retried, or rejected; never lost
        if is_permanent(error):
            _failures.failed(
                (stored.source, stored.event_type), error,
                "%s event %s rejected, it can never succeed", stored.source, stored.event_key,
            )  # fmt: skip
            async with uow_factory() as uow:
                await uow.inbox.mark_rejected(event_id, reason(error), clock())
                await uow.commit()
            return True, None
        if isinstance(error, expected):
            log.warning(
                "%s event %s failed; it stays in the inbox: %s", stored.source, stored.event_key, error
            )
        else:
            _failures.failed(
                (stored.source, stored.event_type), error,
                "%s event %s failed; it stays in the inbox", stored.source, stored.event_key,
            )  # fmt: skip
        async with uow_factory() as uow:
            await uow.inbox.mark_failed(event_id, f"{type(error).__name__}: {error}")
            await uow.commit()
        return False, None
    async with uow_factory() as uow:
        await uow.inbox.mark_processed(event_id, clock())
        await uow.commit()
    return True, result


async def process_payment_event(
    deps: PaymentDeps, parsers: Mapping[str, PaymentParser], event_id: int
) -> bool:
    """Applies a stored payment event; True when it is done (now or before)."""

    async def apply_all(stored: InboundEvent) -> None:
        for event in parsers[stored.source](stored.payload):
            outcome = await apply_event(deps, event)
            log.info("payment event %s (%s): %s", event.event_id, event.kind, outcome)

    done, _ = await run_claimed(deps.uow, deps.clock, event_id, apply_all)
    return done


async def process_payment_backlog(
    deps: PaymentDeps, parsers: Mapping[str, PaymentParser], grace: timedelta = timedelta(seconds=30)
) -> int:
    """Processes payment events received more than ``grace`` ago and still unprocessed."""
    async with deps.uow() as uow:
        waiting = await uow.inbox.unprocessed(set(parsers), deps.clock() - grace, BACKLOG_BATCH)
    done = 0
    for event_id in waiting:
        done += await process_payment_event(deps, parsers, event_id)
    return done


@dataclass(frozen=True, slots=True)
class QueueHealth:
    """What an operator watches: work waiting, and work given up that needs a person."""

    inbox_waiting: int
    inbox_given_up: int
    outbox_pending: int
    outbox_failed: int


async def queue_health(uow_factory: UnitOfWorkFactory) -> QueueHealth:
    async with uow_factory() as uow:
        waiting, given_up = await uow.inbox.unprocessed_counts()
        outbox = await uow.outbox.counts_by_status(
            [OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED]
        )
    waiting_to_send = outbox[OutboxStatus.PENDING] + outbox[OutboxStatus.SENDING]
    return QueueHealth(waiting, given_up, waiting_to_send, outbox[OutboxStatus.FAILED])


async def inbox_backlog(uow_factory: UnitOfWorkFactory, now: datetime) -> tuple[int, float]:
    """(events waiting to be processed, seconds the oldest of them has waited)."""
    async with uow_factory() as uow:
        waiting, oldest = await uow.inbox.backlog(PROCESSED_BY_WORKER)
    return waiting, 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
