"""The outbox sender: claims due messages and sends them through pywa, within WhatsApp's rules (and
Instagram's, through its Send API, for customers who wrote there).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from pywa import errors as wa_errors
from pywa.types.callback import Button, Section, SectionList, SectionRow
from pywa_async.types.templates import BodyText, TemplateLanguage

from bot.channels.instagram.client import InstagramClient, InstagramError
from bot.domain.channel import Channel
from bot.domain.customer import SERVICE_WINDOW
from bot.domain.outgoing import OutboxStatus, send_tracker
from bot.domain.vendor import Vendor
from bot.services.clock import Clock
from bot.services.delivery import replay_early_statuses
from bot.services.messages import delivery_failure_notes
from bot.services.vendor_digest import (
    DIGEST_KINDS,
    MAX_NOTES,
    TEMPLATE_PARAMETER_LIMIT,
    Note,
    can_join,
    digest,
)
from bot.store.repositories.outbox import OutboxRow
from bot.store.uow import UnitOfWork, UnitOfWorkFactory
from bot.tasks import stop_task
from bot.whatsapp.clients import WhatsAppClients
from bot.whatsapp.pacing import MemoryPacer, Pacer
from bot.whatsapp.shared_pacing import SharedPacer

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
        # Several processes share a Postgres database: the pace is kept there, for all of them.
        self._pace: Pacer = (
            SharedPacer(uow, clock, per_second, pair_interval)
            if uow.engine.dialect.name == "postgresql"
            else MemoryPacer(per_second, pair_interval)
        )
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._vendors: dict[Any, SenderContext] = {}
        self._stopping = False
        self._instagram: InstagramClient | None = None

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
            await stop_task(self._task, STOP_GRACE_SECONDS)
            self._task = None
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=10)

    def forget_vendor(self, vendor_id: Any | None = None) -> None:
        """A vendor's settings changed (here or in another process): read them again (None: every vendor)."""
        if vendor_id is None:
            self._vendors.clear()
        else:
            self._vendors.pop(vendor_id, None)

    async def release_stale(self) -> int:
        """The job that queues again the messages claimed more than STALE_SENDING ago and never recorded
        (a sender stopped, or a send that raised after its claim); returns how many."""
        async with self._uow() as uow:
            released = await uow.outbox.release_stale(self._clock() - STALE_SENDING, self._clock())
            await uow.commit()
        await self._pace.tidy()
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
        # Notes of one batch to one admin go as one digest: one task for them all.
        groups = await self._digest_groups(ids) if len(ids) > 1 else {}
        joined = {message_id for rest in groups.values() for message_id in rest}
        for message_id in ids:
            if message_id in joined:
                continue
            await self._slots.acquire()
            task = asyncio.create_task(self._send_one(message_id, groups.get(message_id, [])))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        return len(ids)

    async def send_claimed(self, rows: Sequence[OutboxRow]) -> None:
        """Sends at once rows written already claimed for this sender (``outbox.add_claimed``, committed
        with the change that caused them): no claim or read of their own, no wait for the next pass. The
        checks and the pacing of every send still apply."""
        for row in rows:
            self._start_claimed(row, None)
        await _let_sends_start()

    async def pace_in(self, uow: UnitOfWork, vendor: Vendor, to: str) -> float | None:
        """Takes the pace of a WhatsApp message to ``to`` in the caller's transaction, the one that writes
        it claimed (no commit of the pace's own): the seconds until the number's slot, to give
        ``send_paced`` with the row's id after the commit; None when the recipient has no token left
        (nothing is used: the message is queued as usual instead)."""
        phone_id = vendor.phone_number_id or self._clients.config.default_phone_id
        return await self._pace.take_in(uow, phone_id, to)

    async def send_paced(self, row: OutboxRow, wait: float) -> None:
        """``send_claimed`` for a row whose pace ``pace_in`` took with its commit."""
        self._start_claimed(row, wait)
        await _let_sends_start()

    def _start_claimed(self, row: OutboxRow, paced: float | None) -> None:
        task = asyncio.create_task(self._send_claimed(row, paced))
        self._inflight.add(task)
        task.add_done_callback(self._claimed_done)

    async def _send_claimed(self, row: OutboxRow, paced: float | None = None) -> None:
        async with self._slots:
            await self._send_one(row.id, paced=paced, written=row)

    def _claimed_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sending a message failed unexpectedly", exc_info=task.exception())

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

    async def _digest_groups(self, ids: list[int]) -> dict[int, list[int]]:
        async with self._uow() as uow:
            groups = await uow.outbox.digest_groups(ids, DIGEST_KINDS)
        return {group[0]: group[1:] for group in groups}

    async def _send_one(
        self,
        message_id: int,
        batch: list[int] | None = None,
        *,
        paced: float | None = None,
        written: OutboxRow | None = None,
    ) -> None:
        """Sends one claimed message; ``batch``: notes of the same batch to the same admin, claimed too,
        for its digest (given back to the queue if it does not take them); ``paced``: its pace was taken
        with its commit, the number's slot that many seconds away; ``written``: the row as its writer
        committed it claimed (not read again)."""
        batch = list(batch or [])
        try:
            await self._send_row(message_id, batch, paced, written)
        finally:
            if batch:
                async with self._uow() as uow:
                    await uow.outbox.unclaim(batch, self._clock())
                    await uow.commit()

    async def _send_row(
        self, message_id: int, batch: list[int], paced: float | None = None, written: OutboxRow | None = None
    ) -> None:
        row = written
        if row is None:
            async with self._uow() as uow:
                row = await uow.outbox.get_for_sending(message_id)
        if row is None or row.status is not OutboxStatus.SENDING:
            return
        context = await self._context(row.vendor_id)
        now = self._clock()
        if row.channel is Channel.INSTAGRAM:
            await self._send_instagram(row, context, now)
            return
        in_window = row.last_inbound_at is not None and now - row.last_inbound_at < SERVICE_WINDOW
        use_template = row.send_mode == "template" or not in_window
        template = context.templates.get(row.kind)
        if use_template and template is None:
            await self._fail(row, context, "no_template")
            return
        # The recipient's slot and the number's, taken together (the number's waited for).
        wait = 0.0
        if paced is None:
            wait = await self._pace.take(context.phone_id, row.to_phone)
        else:
            await self._pace.slot(context.phone_id, paced)
        if wait > 0:
            # Woken: the loop may be asleep until a due time computed before this row came back.
            await self._wait(row.id, now + timedelta(seconds=wait))
            return
        # The notes that piled up for this admin behind the pace go with this one, as one digest.
        row, joined = await self._with_companions(row, context, use_template, now, batch)
        sent_ok = False
        try:
            sent_ok = await self._deliver(row, context, use_template, template, now, joined)
        finally:
            if not sent_ok and joined:
                async with self._uow() as uow:
                    await uow.outbox.unclaim(joined, self._clock())
                    await uow.commit()

    async def _with_companions(
        self, row: OutboxRow, context: SenderContext, use_template: bool, now: datetime, batch: list[int]
    ) -> tuple[OutboxRow, list[int]]:
        """``row`` carrying the other notes queued for the same admin (a digest), and their ids."""
        if not can_join(row.kind, row.payload):
            return row, []
        async with self._uow() as uow:
            ours = await uow.outbox.claimed_companions(row, batch, DIGEST_KINDS)
            found = await uow.outbox.claim_companions(row, DIGEST_KINDS, MAX_NOTES - 1, now)
            await uow.commit()
        batch.clear()  # from here on, this digest gives back what it does not carry
        found = sorted([*ours, *found], key=lambda c: c.id)
        companions = [c for c in found if can_join(c.kind, c.payload)][: MAX_NOTES - 1]
        left = [c.id for c in found if c not in companions]
        notes = [Note(r.kind, str(r.payload.get("text", ""))) for r in (row, *companions)]
        text, taken = digest(context.vendor_locale, notes) if companions else ("", 1)
        if use_template and companions:
            text, taken = digest(context.vendor_locale, notes[:taken], TEMPLATE_PARAMETER_LIMIT)
        left += [c.id for c in companions[taken - 1 :]]
        if left:
            async with self._uow() as uow:
                await uow.outbox.unclaim(left, now)
                await uow.commit()
        joined = [c.id for c in companions[: taken - 1]]
        if not joined:
            return row, []
        payload = {**row.payload, "text": text, "template_params": [text]}
        return replace(row, payload=payload), joined

    async def _deliver(
        self,
        row: OutboxRow,
        context: SenderContext,
        use_template: bool,
        template: str | None,
        now: datetime,
        joined: list[int],
    ) -> bool:
        """Sends ``row`` (and the notes ``joined`` into it), its pace taken; True once recorded as sent."""
        client = self._clients.for_number(context.phone_id)
        # Echoed in the send's statuses: a send a crash left unrecorded is recognised, not repeated.
        tracker = send_tracker(row.id, joined)
        try:
            if use_template and template is not None:
                values: list[Any] = [template_parameter(v) for v in row.payload.get("template_params", [])]
                params = [BodyText.params(*values)]
                language = LANGUAGES.get(row.locale, TemplateLanguage.ENGLISH)
                sent: Any = await client.send_template(
                    to=row.to_phone, name=template, language=language, params=params, tracker=tracker
                )
            else:
                sent = await client.send_message(
                    to=row.to_phone, text=row.payload["text"], buttons=_buttons(row.payload), tracker=tracker
                )
        except wa_errors.ReEngagementMessage:
            await self._retry(row, context, "131047 outside the 24-hour window", now, send_mode="template")
        except wa_errors.TooManyMessages:
            # Throttling is not a failure: the message waits without using up its attempts.
            await self._pace.penalise(context.phone_id, row.to_phone, 12.0)
            await self._wait(row.id, now + timedelta(seconds=12))
        except wa_errors.ThrottlingError:
            await self._pace.pause(context.phone_id, RATE_LIMIT_PAUSE_SECONDS)
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
                await uow.outbox.mark_coalesced(joined, row.id, self._clock())
                await uow.commit()
            # Statuses that overtook this record of the send are applied now. In a second transaction:
            # a status processed while the first was open could not see the wamid, but is stored by now.
            async with self._uow() as uow:
                outcomes = await replay_early_statuses(uow, sent.id, self._clock())
                await uow.commit()
            if "resend_as_template" in outcomes:
                self.wake()
            return True
        return False

    def use_instagram(self, client: InstagramClient | None) -> None:
        """Instagram messages of the outbox go through ``client`` (None: Instagram is off)."""
        self._instagram = client

    async def _send_instagram(self, row: OutboxRow, context: SenderContext, now: datetime) -> None:
        """Within 24 h of the customer's last Instagram message, the text goes by the Send API (Instagram
        has no templates: a template's text is sent as it is). Outside, it moves to WhatsApp when the
        customer's number is known (WhatsApp's own rules then apply), else it fails and the vendor is
        told."""
        client = self._instagram
        if client is None:
            await self._fail(row, context, "instagram_off")
            return
        in_window = row.channel_inbound_at is not None and now - row.channel_inbound_at < SERVICE_WINDOW
        if not in_window:
            await self._outside_instagram_window(row, context, now)
            return
        account = f"instagram:{client.config.account_id}"
        wait = await self._pace.take(account, row.to_phone)
        if wait > 0:
            await self._wait(row.id, now + timedelta(seconds=wait))
            return
        try:
            message_id = await client.send_text(row.to_phone, str(row.payload.get("text", "")))
        except InstagramError as error:
            if error.outside_window:
                await self._outside_instagram_window(row, context, now)
            elif error.throttled:
                await self._pace.pause(account, RATE_LIMIT_PAUSE_SECONDS)
                await self._wait(row.id, now + timedelta(seconds=RATE_LIMIT_PAUSE_SECONDS))
            elif error.retryable:
                await self._retry(row, context, f"instagram {error}", self._backoff(row, now))
            else:
                await self._fail(row, context, f"instagram {error}")
        except (httpx.TimeoutException, httpx.TransportError) as error:
            await self._retry(row, context, f"network: {type(error).__name__}", self._backoff(row, now))
        else:
            async with self._uow() as uow:
                await uow.outbox.mark_sent(row.id, message_id, row.send_mode, self._clock())
                await uow.commit()

    async def _outside_instagram_window(self, row: OutboxRow, context: SenderContext, now: datetime) -> None:
        if row.customer_phone is None:
            await self._fail(row, context, "instagram_window")
            return
        log.info("message %s: Instagram's window is closed, it goes to WhatsApp", row.id)
        async with self._uow() as uow:
            await uow.outbox.move_to_whatsapp(row.id, row.customer_phone, "instagram window closed", now)
            await uow.commit()
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


async def _let_sends_start() -> None:
    """One turn of the loop: the sends just started run to their Graph API call (they have their rows in
    hand, nothing to read) before the caller goes on (writing the vendor's reply, for one)."""
    await asyncio.sleep(0)


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
