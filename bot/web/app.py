"""The application factory used by ``bot serve``, the tests and the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from bot.bootstrap import ensure_first_vendor, prepare_schema
from bot.config import Settings
from bot.domain.vendor import ProviderName
from bot.handlers.context import ChatDeps
from bot.payments.registry import ProviderRegistry
from bot.reminders_scheduler import reminder_scheduler
from bot.sandbox.checkout import setup_checkout_routes
from bot.sandbox.clock import SandboxClock
from bot.sandbox.demo import ensure_demo
from bot.sandbox.graph import FakeGraphAPI
from bot.services.clock import Clock, system_clock
from bot.services.context import PaymentDeps
from bot.services.inbox import process_payment_backlog
from bot.services.payments import complete_unlinked_requests
from bot.services.refunds import resolve_uncertain_refunds
from bot.services.secrets import CredentialCipher
from bot.store.database import create_engine
from bot.store.inbox_writer import InboxWriter
from bot.store.uow import UnitOfWorkFactory
from bot.web import health, payments, whatsapp
from bot.web.background import BackgroundTasks
from bot.web.icount import setup_icount
from bot.web.keys import (
    chat_key,
    clock_key,
    engine_key,
    graph_key,
    inbox_writer_key,
    metrics_key,
    pair_interval_key,
    payments_key,
    processor_key,
    providers_key,
    recovery_interval_key,
    sandbox_delay_key,
    sender_key,
    settings_key,
    tasks_key,
    uow_key,
    whatsapp_key,
)
from bot.web.metrics import Metrics
from bot.web.sandbox import sandbox_demo_key, setup_sandbox
from bot.whatsapp.clients import SANDBOX_APP_SECRET, WhatsAppClients, WhatsAppConfig
from bot.whatsapp.dispatch import handlers_installer
from bot.whatsapp.processor import InboxProcessor, Job
from bot.whatsapp.sender import OutboxSender
from bot.whatsapp.webhook_events import SOURCE as WHATSAPP_SOURCE

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
RECOVERY_INTERVAL_SECONDS = 30.0
RECOVERY_GRACE = timedelta(minutes=2)
STOP_GRACE_SECONDS = 10.0
SANDBOX_GRAPH_PREFIX = "/sandbox/graph"
# WhatsApp's pace per user: one message every 6 s on average (error 131056 beyond).
PAIR_INTERVAL_SECONDS = 6.0


def create_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    sandbox_settle_delay: float = 5.0,
    recovery_interval: float = RECOVERY_INTERVAL_SECONDS,
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
    app[recovery_interval_key] = recovery_interval
    app[pair_interval_key] = pair_interval
    app[tasks_key] = BackgroundTasks()
    app[sandbox_demo_key] = sandbox_demo
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_payments)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/webhooks/whatsapp", whatsapp.verify_subscription)
    app.router.add_post("/webhooks/whatsapp", whatsapp.receive)
    app.router.add_post("/webhooks/stripe", payments.stripe_webhook)
    app.router.add_get("/pay/success", payments.pay_success)
    app.router.add_get("/pay/cancelled", payments.pay_cancelled)
    if settings.sandbox_whatsapp or settings.effective_provider is ProviderName.SANDBOX:
        setup_checkout_routes(app)
    if settings.sandbox_whatsapp:
        graph = FakeGraphAPI(
            webhook_url=f"{settings.base_url}/webhooks/whatsapp", app_secret=SANDBOX_APP_SECRET, clock=clock
        )
        graph.add_routes(app, SANDBOX_GRAPH_PREFIX)
        app[graph_key] = graph
        setup_sandbox(app, graph)
    app.cleanup_ctx.append(_whatsapp)
    # After _whatsapp: its jobs wake the outbox sender.
    setup_icount(app)
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


async def _recover(app: web.Application, grace: timedelta) -> None:
    """Finishes what a crash (or an outage) left: requests without links, unprocessed events, refunds
    of unknown outcome."""
    deps = app[payments_key]
    try:
        await complete_unlinked_requests(deps, grace)
        await process_payment_backlog(deps, payments.PAYMENT_PARSERS, grace)
        # Refunds a timeout or a stop left without an outcome are checked at their provider.
        await resolve_uncertain_refunds(deps)
        async with deps.uow() as uow:
            waiting = await uow.inbox.unprocessed({WHATSAPP_SOURCE}, deps.clock() - grace, 500)
            stored = [await uow.inbox.get(event_id) for event_id in waiting]
        app[processor_key].submit([Job(e.id, e.event_type, e.payload) for e in stored if e is not None])
    except Exception:  # noqa: BLE001 - one bad row must not stop recovery for good
        log.exception("recovery pass failed; it will run again")


async def _recover_periodically(app: web.Application, interval: float, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=interval)
        if not stopping.is_set():
            await _recover(app, RECOVERY_GRACE)


async def _payments(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    secret = settings.secret_key
    registry = ProviderRegistry(settings, CredentialCipher(secret.get_secret_value()) if secret else None)
    app[providers_key] = registry
    app[payments_key] = PaymentDeps(app[uow_key], registry, settings.base_url, app[clock_key])
    yield
    await app[tasks_key].drain()
    await registry.close()


async def _whatsapp(app: web.Application) -> AsyncIterator[None]:
    """The inbox writer, the pywa clients, the outbox sender, and the recovery passes."""
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
    app[chat_key] = ChatDeps(
        app[uow_key], app[payments_key], config.default_phone_id, app[clock_key], sender.wake
    )
    processor = InboxProcessor(app[uow_key], clients, app[clock_key], sender.wake)
    app[processor_key] = processor
    writer.start()
    sender.start()
    processor.start()
    scheduler = reminder_scheduler(app[uow_key], app[clock_key], settings.reminder_sweep_seconds, sender.wake)
    scheduler.start()
    app[tasks_key].spawn(_recover(app, timedelta(0)))
    stopping = asyncio.Event()
    periodic = asyncio.create_task(_recover_periodically(app, app[recovery_interval_key], stopping))
    yield
    # A pass is let finish: cancelled inside a transaction it would leave SQLite locked until its timeout.
    stopping.set()
    _done, pending = await asyncio.wait({periodic}, timeout=STOP_GRACE_SECONDS)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    scheduler.shutdown(wait=False)
    await app[tasks_key].drain()
    await processor.stop()
    await sender.stop()
    await writer.stop()
    await writer_engine.dispose()
    await clients.close()
    if graph_key in app:
        await app[graph_key].close()
