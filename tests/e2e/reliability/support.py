"""Two (or more) sides of one Postgres database: a fresh migrated database per test, and outbox senders
talking to one fake Graph API on a local port."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sandbox.graph import FakeGraphAPI, SentMessage
from bot.services.clock import Clock
from bot.store import migrate
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from bot.whatsapp.clients import WhatsAppClients, WhatsAppConfig
from bot.whatsapp.sender import OutboxSender
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.payment_support import settings_for


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    url = await create_postgres_database("bot_reliability")
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@dataclass
class Received:
    """A send the fake Graph API accepted, with the moment it arrived (the process's monotonic clock)."""

    message: SentMessage
    at: float


@asynccontextmanager
async def graph_on_a_port() -> AsyncIterator[tuple[FakeGraphAPI, str, list[Received]]]:
    graph = FakeGraphAPI(auto_statuses=())
    received: list[Received] = []
    graph.listen(on_send=lambda message: received.append(Received(message, time.monotonic())))
    app = web.Application()
    graph.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield graph, f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()
        await graph.close()


@asynccontextmanager
async def sender_process(
    url: str, graph_url: str, clock: Clock, *, per_second: float = 80.0, pair_interval: float = 6.0
) -> AsyncIterator[tuple[OutboxSender, UnitOfWorkFactory, AsyncEngine]]:
    """What one `bot worker` process sends with: its own engine, its own pywa clients, its own sender."""
    engine = create_engine(url)
    settings = settings_for(
        url,
        whatsapp_graph_url=graph_url,
        whatsapp_token="token",
        whatsapp_phone_id="1",
        whatsapp_app_secret="secret",
        whatsapp_verify_token="verify",
    )
    clients = WhatsAppClients(WhatsAppConfig(settings), lambda _client: None)
    uow = UnitOfWorkFactory(engine)
    sender = OutboxSender(uow, clients, clock, per_second=per_second, pair_interval=pair_interval)
    try:
        yield sender, uow, engine
    finally:
        await sender.stop()
        await clients.close()
        await engine.dispose()
