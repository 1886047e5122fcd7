"""The real app on a real port, in sandbox mode: signed webhooks in, the fake Graph API out."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import Settings
from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.clock import SandboxClock
from bot.sandbox.graph import FakeGraphAPI, SentMessage
from bot.sandbox.keys import graph_key
from bot.store.tables import outbox_messages
from bot.web.keys import clock_key, processor_key, sender_key, tasks_key, uow_key
from bot.whatsapp.clients import SANDBOX_APP_SECRET, SANDBOX_PHONE_ID
from tests.conftest import TickingClock
from tests.payment_support import settings_for

ADMIN = "33612345678"
CUSTOMER = "33699887766"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningBot:
    app: web.Application
    base: str
    http: aiohttp.ClientSession
    seen: dict[str, int] = field(default_factory=dict)

    @property
    def graph(self) -> FakeGraphAPI:
        return self.app[graph_key]

    async def post_webhook(self, payload: dict[str, Any], secret: str = SANDBOX_APP_SECRET) -> int:
        body = payloads.encode(payload)
        headers = {"X-Hub-Signature-256": payloads.sign(body, secret), "Content-Type": "application/json"}
        async with self.http.post(f"{self.base}/webhooks/whatsapp", data=body, headers=headers) as response:
            return response.status

    async def says(self, phone: str, text: str, name: str = "Client") -> str:
        payload = payloads.text_message(SANDBOX_PHONE_ID, phone, text, name=name)
        assert await self.post_webhook(payload) == 200
        return str(payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"])

    async def clicks(self, phone: str, button_id: str, title: str = "ok") -> None:
        last = self.graph.sent_to(phone)[-1].wamid if self.graph.sent_to(phone) else "wamid.none"
        payload = payloads.button_reply(SANDBOX_PHONE_ID, phone, button_id, title, context_wamid=last)
        assert await self.post_webhook(payload) == 200

    async def picks(self, phone: str, row_id: str, title: str = "row") -> None:
        last = self.graph.sent_to(phone)[-1].wamid
        payload = payloads.list_reply(SANDBOX_PHONE_ID, phone, row_id, title, context_wamid=last)
        assert await self.post_webhook(payload) == 200

    async def next_to(self, phone: str, wait: float = 10.0) -> SentMessage:
        """The next message the bot sends to ``phone`` (after those already seen)."""
        after = self.seen.get(phone, 0)
        message = await self.graph.wait_for(lambda m: m.to == phone and m.seq > after, timeout=wait)
        self.seen[phone] = message.seq
        return message

    async def settle(self, limit: float = 10.0) -> None:
        """Waits until the webhooks are handled and every message due is sent."""
        deadline = asyncio.get_running_loop().time() + limit
        while asyncio.get_running_loop().time() < deadline:
            await self.app[tasks_key].drain()
            await self.app[processor_key].drain()
            await self.app[sender_key].drain()
            async with self.app[uow_key]() as uow:
                busy = await uow.connection.execute(
                    select(func.count())
                    .select_from(outbox_messages)
                    .where(outbox_messages.c.status.in_(["pending", "sending"]))
                    .where(outbox_messages.c.next_attempt_at <= self.app[clock_key]())
                )
                if busy.scalar_one() == 0 and len(self.app[tasks_key]) == 0:
                    return
            await asyncio.sleep(0.02)


async def start_bot(
    tmp_path: Path, database_url: str | None = None, **overrides: Any
) -> AsyncIterator[RunningBot]:
    """The bot on a free port, on ``database_url`` (an empty database) or a new SQLite file."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    options: dict[str, Any] = {"vendor_admin_phones": f"+{ADMIN}", "vendor_name": "Boulangerie Test"}
    options.update(overrides)
    url = database_url or f"sqlite:///{tmp_path / 'bot.db'}"
    settings: Settings = settings_for(url, **options).model_copy(update={"public_base_url": base})
    app = create_app(
        settings, clock=SandboxClock(TickingClock()), sandbox_settle_delay=0.05, pair_interval=0.05
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    async with aiohttp.ClientSession() as http:
        yield RunningBot(app, base, http)
    await runner.cleanup()
