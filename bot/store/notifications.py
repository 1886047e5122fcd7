"""Changes to a vendor made by any process, heard by every other (Postgres ``LISTEN vendor_changed``; the
trigger of migration 0014 sends them). What a process keeps of a vendor is forgotten at once rather than
when its time is up. SQLite has a single process: nothing to listen to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.tasks import stop_task

log = logging.getLogger(__name__)
CHANNEL = "vendor_changed"
RETRY_SECONDS = 5.0
# None: every vendor (the connection was lost, and with it the changes made meanwhile).
OnChange = Callable[[uuid.UUID | None], None]


class VendorChanges:
    def __init__(
        self, engine: AsyncEngine, on_change: OnChange, retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self._engine = engine
        self._on_change = on_change
        self._retry = retry_seconds
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def start(self) -> None:
        if self._engine.dialect.name == "postgresql" and self._task is None:
            self._task = asyncio.create_task(self._run(), name="vendor-changes")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            vendor_id: uuid.UUID | None = uuid.UUID(payload)
        except ValueError:
            vendor_id = None
        self._on_change(vendor_id)

    async def _run(self) -> None:
        warned = False
        while True:
            try:
                async with self._engine.connect() as connection:
                    await self._listen(connection)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the cache's own expiry still applies meanwhile
                if not warned:
                    log.warning("not hearing vendor changes (%s); retrying", type(error).__name__)
                    warned = True
            self.listening.clear()
            await asyncio.sleep(self._retry)

    async def _listen(self, connection: AsyncConnection) -> None:
        raw = (await connection.get_raw_connection()).driver_connection
        if raw is None:  # pragma: no cover - asyncpg always has one
            return
        closed = asyncio.Event()
        raw.add_termination_listener(lambda _connection: closed.set())
        await raw.add_listener(CHANNEL, self._heard)
        # Changes made while nobody listened are unknown: everything is read again.
        self._on_change(None)
        self.listening.set()
        try:
            await closed.wait()
        finally:
            with contextlib.suppress(Exception):
                await raw.remove_listener(CHANNEL, self._heard)
