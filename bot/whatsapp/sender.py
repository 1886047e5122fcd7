"""The outbox sender: claims due messages and sends them through pywa, within WhatsApp's rules.

Inside the 24-hour customer service window a message goes as free text (or interactive); outside it, or
once WhatsApp answered 131047, it goes as the vendor's approved template for its kind; without one it
fails and the vendor is told why. Transient failures are retried with backoff; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pywa import errors as wa_errors
from pywa.types.callback import Button, Section, SectionList, SectionRow
from pywa_async.types.templates import BodyText, TemplateLanguage

from bot.domain.customer import SERVICE_WINDOW
from bot.domain.outgoing import OutboxStatus
from bot.services.clock import Clock
from bot.services.delivery import replay_early_statuses
from bot.services.messages import delivery_failure_notes
from bot.store.repositories.outbox import OutboxRow
from bot.store.uow import UnitOfWorkFactory
from bot.whatsapp.clients import WhatsAppClients
from bot.whatsapp.pacing import NumberRate, PairPacing

log = logging.getLogger(__name__)
CLAIM_BATCH = 100
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
RATE_LIMIT_PAUSE_SECONDS = 10.0
IDLE_POLL_SECONDS = 5.0
STALE_SENDING = timedelta(minutes=5)
STOP_GRACE_SECONDS = 10.0
# Meta refuses template parameters with new lines, tabs or more than four spaces in a row (132018).
_TEMPLATE_SPACING = re.compile(r"\s*[\r\n\t]+\s*| {5,}")
# Settings changed elsewhere (`bot vendor set`, another process) are seen within this delay.
VENDOR_CACHE_SECONDS = 60.0
LANGUAGES = {"fr": TemplateLanguage.FRENCH, "en": TemplateLanguage.ENGLISH, "he": TemplateLanguage.HEBREW}


@dataclass(frozen=True, slots=True)
class SenderContext:
    phone_id: str
    templates: dict[str, str]
    vendor_locale: str
    loaded_at: float


class OutboxSender:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clients: WhatsAppClients,
        clock: Clock,
        *,
        per_second: float = 80.0,
        pair_interval: float = 6.0,
        concurrency: int = 32,
    ) -> None:
        self._uow = uow
        self._clients = clients
        self._clock = clock
        self._rate = NumberRate(per_second)
        self._pairs = PairPacing(pair_interval)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._vendors: dict[Any, SenderContext] = {}
        self._stopping = False

    def wake(self) -> None:
        """New messages were committed: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        """Lets the current pass end before stopping: a pass cancelled inside its claim would leave the
        transaction open (on SQLite, the database locked for everyone until the busy timeout)."""
        if self._task is not None:
            self._stopping = True
            self.wake()
            _done, pending = await asyncio.wait({self._task}, timeout=STOP_GRACE_SECONDS)
            if pending:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=10)

    async def release_stale(self) -> int:
        """The job that queues again the messages claimed more than STALE_SENDING ago and never recorded
        (a sender stopped, or a send that raised after its claim); returns how many."""
        async with self._uow() as uow:
            released = await uow.outbox.release_stale(self._clock() - STALE_SENDING, self._clock())
            await uow.commit()
        if released:
            log.warning("%d messages left sending are queued again", released)
            self.wake()
        return released

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if await self.send_due():
                    continue
                await self._sleep_until_due()
            except Exception:  # noqa: BLE001 - the loop must survive a database blip
                log.exception("outbox pass failed; trying again shortly")
                await asyncio.sleep(IDLE_POLL_SECONDS)

    async def _sleep_until_due(self) -> None:
        async with self._uow() as uow:
            due = await uow.outbox.next_due_at()
        wait = IDLE_POLL_SECONDS
        if due is not None:
            wait = min(wait, max(0.0, (due - self._clock()).total_seconds()))
        self._wake.clear()
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))

    async def send_due(self) -> int:
        """One pass: claims what is due and sends it; returns how many were claimed."""
        async with self._uow() as uow:
            ids = await uow.outbox.claim_due(self._clock(), CLAIM_BATCH)
            await uow.commit()
        for message_id in ids:
            await self._slots.acquire()
            task = asyncio.create_task(self._send_one(message_id))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        return len(ids)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("sending a message failed unexpectedly", exc_info=task.exception())

    async def drain(self) -> None:
        """Waits for the sends in flight (tests and shutdown)."""
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    async def _context(self, vendor_id: Any) -> SenderContext:
        context = self._vendors.get(vendor_id)
        if context is None or time.monotonic() - context.loaded_at > VENDOR_CACHE_SECONDS:
            async with self._uow() as uow:
                vendor = await uow.vendors.get(vendor_id)
            if vendor is None:  # pragma: no cover - foreign key
                raise LookupError(vendor_id)
            phone_id = vendor.phone_number_id or self._clients.config.default_phone_id
            context = SenderContext(
                phone_id, dict(vendor.whatsapp_templates), vendor.locale, time.monotonic()
            )
            self._vendors[vendor_id] = context
        return context

    async def _send_one(self, message_id: int) -> None:
        async with self._uow() as uow:
            row = await uow.outbox.get_for_sending(message_id)
        if row is None or row.status is not OutboxStatus.SENDING:
            return
        context = await self._context(row.vendor_id)
        now = self._clock()
        in_window = row.last_inbound_at is not None and now - row.last_inbound_at < SERVICE_WINDOW
        use_template = row.send_mode == "template" or not in_window
        template = context.templates.get(row.kind)
        if use_template and template is None:
            await self._fail(row, context, "no_template")
            return
        wait = self._pairs.take(context.phone_id, row.to_phone)
        if wait > 0:
            async with self._uow() as uow:
                await uow.outbox.give_back(row.id, now + timedelta(seconds=wait), now)
                await uow.commit()
            return
        await self._rate.acquire(context.phone_id)
        client = self._clients.for_number(context.phone_id)
        try:
            if use_template and template is not None:
                values: list[Any] = [template_parameter(v) for v in row.payload.get("template_params", [])]
                params = [BodyText.params(*values)]
                language = LANGUAGES.get(row.locale, TemplateLanguage.ENGLISH)
                sent: Any = await client.send_template(
                    to=row.to_phone, name=template, language=language, params=params
                )
            else:
                sent = await client.send_message(
                    to=row.to_phone, text=row.payload["text"], buttons=_buttons(row.payload)
                )
        except wa_errors.ReEngagementMessage:
            await self._retry(row, context, "131047 outside the 24-hour window", now, send_mode="template")
        except wa_errors.TooManyMessages:
            # Throttling is not a failure: the message waits without using up its attempts.
            self._pairs.penalise(context.phone_id, row.to_phone, 12.0)
            await self._wait(row.id, now + timedelta(seconds=12))
        except wa_errors.ThrottlingError:
            self._rate.pause(context.phone_id, RATE_LIMIT_PAUSE_SECONDS)
            await self._wait(row.id, now + timedelta(seconds=RATE_LIMIT_PAUSE_SECONDS))
        except wa_errors.WhatsAppError as error:
            if error.is_transient or (error.status_code or 0) >= 500:
                await self._retry(row, context, f"{error.code} {error.message}", self._backoff(row, now))
            else:
                await self._fail(row, context, f"{error.code}: {error.message}")
        except (httpx.TimeoutException, httpx.TransportError) as error:
            await self._retry(row, context, f"network: {type(error).__name__}", self._backoff(row, now))
        else:
            async with self._uow() as uow:
                await uow.outbox.mark_sent(
                    row.id, sent.id, "template" if use_template else "auto", self._clock()
                )
                await uow.commit()
            # Statuses that overtook this record of the send are applied now. In a second transaction:
            # a status processed while the first was open could not see the wamid, but is stored by now.
            async with self._uow() as uow:
                outcomes = await replay_early_statuses(uow, sent.id, self._clock())
                await uow.commit()
            if "resend_as_template" in outcomes:
                self.wake()

    async def _wait(self, message_id: int, when: datetime) -> None:
        async with self._uow() as uow:
            await uow.outbox.give_back(message_id, when, self._clock())
            await uow.commit()
        self.wake()

    def _backoff(self, row: OutboxRow, now: datetime) -> datetime:
        """4^attempt seconds, as Meta advises, up to an hour."""
        return now + min(timedelta(seconds=4 ** max(0, row.attempts - 1)), MAX_BACKOFF)

    async def _retry(
        self, row: OutboxRow, context: SenderContext, error: str, when: datetime, send_mode: str | None = None
    ) -> None:
        if send_mode == "template" and context.templates.get(row.kind) is None:
            await self._fail(row, context, "no_template")
            return
        if row.attempts >= MAX_ATTEMPTS:
            await self._fail(row, context, f"gave up after {row.attempts} attempts: {error}")
            return
        log.info("message %s will be retried: %s", row.id, error)
        async with self._uow() as uow:
            await uow.outbox.retry_at(row.id, when, self._clock(), error, send_mode)
            await uow.commit()
        self.wake()

    async def _fail(self, row: OutboxRow, context: SenderContext, reason: str) -> None:
        """Marks the message failed and, unless it was itself for the vendor, tells the vendor why."""
        now = self._clock()
        log.warning("message %s (%s) failed: %s", row.id, row.kind, reason)
        async with self._uow() as uow:
            await uow.outbox.mark_failed(row.id, reason, now)
            if not row.kind.startswith("vendor_"):
                for note in await delivery_failure_notes(uow, row, context.vendor_locale, reason):
                    await uow.outbox.add(note, now)
            await uow.commit()
        self.wake()


def template_parameter(value: object) -> str:
    """A template parameter as Meta accepts it: one line, no tab, no long run of spaces."""
    return _TEMPLATE_SPACING.sub(" · ", str(value)).strip(" ·") or "-"


def _buttons(payload: dict[str, Any]) -> list[Button] | SectionList | None:
    if payload.get("buttons"):
        return [Button(title=b["title"][:20], callback_data=b["id"]) for b in payload["buttons"][:3]]
    choice = payload.get("list")
    if choice:
        rows = [
            SectionRow(title=r["title"][:24], callback_data=r["id"], description=r.get("description"))
            for r in choice["rows"][:10]
        ]
        return SectionList(
            button_title=choice["button"][:20],
            sections=[Section(title=choice["title"][:24], rows=rows)],
        )
    return None


ClientsFactory = Callable[[], WhatsAppClients]
