"""Handles stored Instagram messages after the webhook is answered.

The worker reads the inbox itself (woken by the webhook beside it, else polling), so ingest and processing
may be separate processes; each message is claimed under the inbox's lease (``run_claimed``), so a
message is handled once whoever takes it. Messages are handled in the order they came, one at a time:
one customer's messages stay in order. A message that failed waits before it is tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bot.channels.instagram.client import InstagramClient
from bot.channels.instagram.webhook_events import SOURCE, InstagramMessage
from bot.domain.channel import Channel
from bot.handlers import router
from bot.handlers.context import ChatDeps, Inbound
from bot.services.clock import Clock
from bot.services.inbox import run_claimed
from bot.store.repositories.inbox import InboundEvent
from bot.store.uow import UnitOfWorkFactory
from bot.tasks import stop_task

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
BATCH = 50
MAX_RETRY_WAIT_SECONDS = 300.0
# Usernames asked of the User Profile API, kept for this process: one lookup per customer, not per message.
KNOWN_NAMES_LIMIT = 10_000


def inbound_of(message: InstagramMessage, handle: str | None, interrupted: bool = False) -> Inbound:
    return Inbound(
        phone_number_id=message.recipient,
        sender=message.sender,
        wamid=message.mid,
        at=datetime.fromtimestamp(message.timestamp_ms / 1000, UTC),
        name=handle,
        text=message.text,
        interrupted=interrupted,
        channel=Channel.INSTAGRAM,
        reply_to=message.reply_to,
    )


class InstagramProcessor:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        deps: Callable[[], ChatDeps],
        client: InstagramClient,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._deps = deps
        self._client = client
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        # Failed here: not tried again before this (monotonic) time; (attempts, when).
        self._failed: dict[int, tuple[int, float]] = {}
        self._names: dict[str, str | None] = {}

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="instagram-worker")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def drain(self, limit: float = 30.0) -> None:
        """Waits until nothing waiting can be taken now (tests)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self._busy and not await self._waiting():
                return
            self.wake()
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except Exception:  # noqa: BLE001 - the loop must survive a database blip
                log.exception("instagram inbox pass failed; trying again shortly")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _waiting(self) -> list[int]:
        now = time.monotonic()
        async with self._uow() as uow:
            ids = await uow.inbox.unprocessed({SOURCE}, self._clock(), BATCH)
        return [i for i in ids if self._failed.get(i, (0, 0.0))[1] <= now]

    async def run_once(self) -> int:
        """Handles what is waiting now; how many were taken."""
        self._busy = True
        try:
            ids = await self._waiting()
            for event_id in ids:
                done = await self.process(event_id)
                if done:
                    self._failed.pop(event_id, None)
                else:
                    attempts = self._failed.get(event_id, (0, 0.0))[0] + 1
                    wait = min(4.0**attempts, MAX_RETRY_WAIT_SECONDS)
                    self._failed[event_id] = (attempts, time.monotonic() + wait)
            return len(ids)
        finally:
            self._busy = False

    async def _handle_of(self, sender: str) -> str | None:
        if sender not in self._names:
            if len(self._names) > KNOWN_NAMES_LIMIT:
                self._names.clear()
            self._names[sender] = await self._client.username(sender)
        return self._names[sender]

    async def process(self, event_id: int) -> bool:
        """Handles one stored Instagram message; True when it is done (now or before)."""

        async def handle(stored: InboundEvent) -> None:
            message = InstagramMessage.from_payload(stored.payload)
            handle = await self._handle_of(message.sender)
            # A lease left without a result: an earlier worker stopped while handling this message.
            await router.on_inbound(
                self._deps(), inbound_of(message, handle, stored.locked_until is not None)
            )

        done, _ = await run_claimed(self._uow, self._clock, event_id, handle, source=SOURCE)
        return done
