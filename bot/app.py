"""The composition root: the application ``bot serve``, the tests and the benchmarks run. It builds every
resource in a cleanup context (database, providers, WhatsApp, jobs), adds the route table, and in sandbox
mode the sandbox's own pieces, which the web layer never imports."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from bot.bootstrap import ensure_first_vendor, prepare_schema
from bot.config import Settings
from bot.domain.vendor import ProviderName
from bot.handlers.context import ChatDeps
from bot.jobs.catalogue import JobContext, catalogue
from bot.jobs.runner import JobRunner
from bot.payments.credentials import CredentialCipher
from bot.payments.registry import ProviderRegistry
from bot.sandbox import page as sandbox_page
from bot.sandbox.checkout import checkout_routes
from bot.sandbox.clock import SandboxClock
from bot.sandbox.demo import ensure_demo
from bot.sandbox.graph import FakeGraphAPI
from bot.sandbox.keys import graph_key, sandbox_delay_key, sandbox_demo_key
from bot.services.clock import Clock, system_clock
from bot.services.context import PaymentDeps
from bot.store.database import create_engine
from bot.store.inbox_writer import InboxWriter
from bot.store.uow import UnitOfWorkFactory
from bot.web import admin
from bot.web.background import BackgroundTasks
from bot.web.keys import (
    chat_key,
    clock_key,
    engine_key,
    inbox_writer_key,
    jobs_key,
    metrics_key,
    pair_interval_key,
    payments_key,
    processor_key,
    providers_key,
    sender_key,
    settings_key,
    tasks_key,
    uow_key,
    whatsapp_key,
)
from bot.web.metrics import Metrics
from bot.web.payments import PAYMENT_PARSERS
from bot.web.routes import setup_routes
from bot.whatsapp.clients import SANDBOX_APP_SECRET, WhatsAppClients, WhatsAppConfig
from bot.whatsapp.dispatch import handlers_installer
from bot.whatsapp.processor import InboxProcessor
from bot.whatsapp.sender import OutboxSender

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
SANDBOX_GRAPH_PREFIX = "/sandbox/graph"
# WhatsApp's pace per user: one message every 6 s on average (error 131056 beyond).
PAIR_INTERVAL_SECONDS = 6.0


def create_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    sandbox_settle_delay: float = 5.0,
    pair_interval: float = PAIR_INTERVAL_SECONDS,
    sandbox_demo: bool = False,
) -> web.Application:
    """``sandbox_demo``: in sandbox mode, a first start (no vendor yet) makes the demo vendor, customer
    and order of the sandbox page (``bot serve`` asks for it; tests start from an empty database)."""
    if settings.sandbox_whatsapp and clock is system_clock:
        clock = SandboxClock()  # the sandbox page moves it forward to show reminders
    metrics = Metrics()
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[metrics.middleware()])
    app[settings_key] = settings
    app[clock_key] = clock
    app[metrics_key] = metrics
    app[sandbox_delay_key] = sandbox_settle_delay
    app[pair_interval_key] = pair_interval
    app[tasks_key] = BackgroundTasks()
    app[sandbox_demo_key] = sandbox_demo
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_payments)
    sandbox_routes: list[web.AbstractRouteDef] = []
    if settings.sandbox_whatsapp or settings.effective_provider is ProviderName.SANDBOX:
        sandbox_routes += checkout_routes()
    if settings.sandbox_whatsapp:
        graph = FakeGraphAPI(
            webhook_url=f"{settings.base_url}/webhooks/whatsapp", app_secret=SANDBOX_APP_SECRET, clock=clock
        )
        app[graph_key] = graph
        sandbox_routes += graph.routes(SANDBOX_GRAPH_PREFIX)
        sandbox_routes += sandbox_page.install(app, graph)
    admin.install(app)
    setup_routes(app, sandbox_routes)
    app.cleanup_ctx.append(_whatsapp)
    # Last: the jobs stop first, before what they use.
    app.cleanup_ctx.append(_jobs)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    engine = create_engine(settings.database_url)
    try:
        await prepare_schema(engine, settings)
        uow_factory = UnitOfWorkFactory(engine)
        if app[sandbox_demo_key]:
            await ensure_demo(uow_factory, settings, app[clock_key]())
        await ensure_first_vendor(uow_factory, settings, app[clock_key]())
    except BaseException:
        await engine.dispose()
        raise
    app[engine_key] = engine
    app[uow_key] = uow_factory
    yield
    await engine.dispose()


async def _payments(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    secret = settings.secret_key
    cipher = CredentialCipher(secret.get_secret_value()) if secret else None
    registry = ProviderRegistry(settings, cipher, clock=app[clock_key])
    app[providers_key] = registry
    app[payments_key] = PaymentDeps(app[uow_key], registry, settings.base_url, app[clock_key])
    yield
    await app[tasks_key].drain()
    await registry.close()


async def _whatsapp(app: web.Application) -> AsyncIterator[None]:
    """The inbox writer, the pywa clients, the outbox sender and the inbox processor."""
    settings = app[settings_key]
    config = WhatsAppConfig(settings)
    # Its own connections: webhook acknowledgements never queue behind handlers for the pool.
    writer_engine = create_engine(settings.database_url, pool_size=2)
    writer = InboxWriter(writer_engine)
    clients = WhatsAppClients(config, handlers_installer(lambda: app[chat_key]))
    sender = OutboxSender(
        app[uow_key],
        clients,
        app[clock_key],
        per_second=settings.whatsapp_messages_per_second,
        pair_interval=app[pair_interval_key],
    )
    app[inbox_writer_key] = writer
    app[whatsapp_key] = clients
    app[sender_key] = sender
    app[chat_key] = ChatDeps(app[payments_key], config.default_phone_id, app[clock_key], sender.wake)
    processor = InboxProcessor(app[uow_key], clients, app[clock_key], sender.wake)
    app[processor_key] = processor
    writer.start()
    sender.start()
    processor.start()
    yield
    await app[tasks_key].drain()
    await processor.stop()
    await sender.stop()
    await writer.stop()
    await writer_engine.dispose()
    await clients.close()
    if graph_key in app:
        await app[graph_key].close()


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    """Every periodic job (bot/jobs), each one at a time; on shutdown a pass under way is let finish."""
    clock = app[clock_key]
    processor = app[processor_key]

    async def resubmit_whatsapp(grace: timedelta) -> int:
        return await processor.resubmit_waiting(clock() - grace)

    context = JobContext(
        deps=app[payments_key],
        settings=app[settings_key],
        payment_parsers=dict(PAYMENT_PARSERS),
        wake_sender=app[sender_key].wake,
        release_stale_sends=app[sender_key].release_stale,
        resubmit_whatsapp=resubmit_whatsapp,
    )
    runner = JobRunner(catalogue(context), clock, after_each=app[sender_key].wake)
    app[jobs_key] = runner
    app[metrics_key].watch_jobs(runner.stats)
    runner.start()
    yield
    await runner.stop()
