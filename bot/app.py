"""The composition root: the application ``bot serve``, the tests and the benchmarks run. It builds every
resource in a cleanup context (database, providers, WhatsApp, jobs), adds the route table, and in sandbox
mode the sandbox's own pieces, which the web layer never imports."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from bot.bootstrap import ensure_first_vendor, prepare_schema
from bot.channels.email.sender import EmailSender
from bot.channels.instagram.client import InstagramClient
from bot.channels.instagram.config import SANDBOX_GRAPH_PATH as SANDBOX_INSTAGRAM_PATH, InstagramConfig
from bot.channels.instagram.processor import InstagramProcessor
from bot.channels.push.sender import PushSender
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
from bot.sandbox.instagram import FakeInstagramAPI
from bot.sandbox.keys import graph_key, instagram_fake_key, sandbox_delay_key, sandbox_demo_key
from bot.services.clock import Clock, system_clock
from bot.services.context import PaymentDeps
from bot.services.inbox import PROCESSING_LEASE
from bot.store.database import create_engine
from bot.store.inbox_writer import InboxWriter
from bot.store.notifications import VendorChanges
from bot.store.uow import UnitOfWorkFactory
from bot.web import admin
from bot.web.background import BackgroundTasks
from bot.web.keys import (
    Role,
    chat_key,
    clock_key,
    engine_key,
    inbox_writer_key,
    instagram_key,
    instagram_processor_key,
    jobs_key,
    metrics_key,
    pair_interval_key,
    payments_key,
    processor_key,
    providers_key,
    push_sender_key,
    role_key,
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
_lease_key = web.AppKey("inbox_lease", timedelta)


def create_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    sandbox_settle_delay: float = 5.0,
    pair_interval: float = PAIR_INTERVAL_SECONDS,
    sandbox_demo: bool = False,
    role: Role = "all",
    inbox_lease: timedelta = PROCESSING_LEASE,
) -> web.Application:
    """``sandbox_demo``: in sandbox mode, a first start (no vendor yet) makes the demo vendor, customer
    and order of the sandbox page (``bot serve`` asks for it; tests start from an empty database).
    ``role``: "all" (one process: webhooks, the inbox worker on a bounded share, the outbox sender and
    the jobs), "ingest" (webhooks and pages only, for ``bot serve --workers N``), "worker" (``bot
    worker``: the inbox worker, the outbox sender and the jobs; its routes are not served)."""
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
    app[role_key] = role
    app[_lease_key] = inbox_lease
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
    whatsapp_config = WhatsAppConfig(settings)
    instagram = InstagramConfig(settings, whatsapp_config.app_secret, whatsapp_config.verify_token)
    app[instagram_key] = instagram
    if settings.sandbox_whatsapp and instagram.sandbox:
        fake_instagram = FakeInstagramAPI(
            webhook_url=f"{settings.base_url}/webhooks/instagram",
            app_secret=instagram.app_secret,
            token=instagram.token,
            clock=clock,
        )
        app[instagram_fake_key] = fake_instagram
        sandbox_routes += fake_instagram.routes(SANDBOX_INSTAGRAM_PATH)
    if settings.sandbox_whatsapp:
        sandbox_routes += sandbox_page.install(app, app[graph_key])
    admin.install(app)
    setup_routes(app, sandbox_routes)
    app.cleanup_ctx.append(_whatsapp)
    app.cleanup_ctx.append(_vendor_changes)
    app.cleanup_ctx.append(_instagram)
    app.cleanup_ctx.append(_push)
    # Last: the jobs stop first, before what they use.
    app.cleanup_ctx.append(_jobs)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    engine = create_engine(settings.database_url)
    try:
        await prepare_schema(engine, settings)
        # With SMTP_URL, the payment flows also queue customers' emails (the email job sends them).
        uow_factory = UnitOfWorkFactory(engine, settings.email)
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
    role = app[role_key]
    # Where the sender runs, the customer's payment link is handed to it with its commit.
    send_claimed = sender if role != "ingest" else None
    app[chat_key] = ChatDeps(
        app[payments_key], config.default_phone_id, app[clock_key], sender.wake, send_claimed
    )
    processor = InboxProcessor(
        app[uow_key], clients, app[clock_key], sender.wake, shared_loop=role == "all", lease=app[_lease_key]
    )
    app[processor_key] = processor
    if role != "worker":
        writer.start()
    if role != "ingest":
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


async def _vendor_changes(app: web.Application) -> AsyncIterator[None]:
    """On Postgres, a vendor changed by another process (or `bot vendor set`) is read again at once."""
    changes = VendorChanges(app[engine_key], app[sender_key].forget_vendor)
    if app[role_key] != "ingest":
        changes.start()
    yield
    await changes.stop()


async def _push(app: web.Application) -> AsyncIterator[None]:
    """The push sender: the dashboard's notifications, queued by the payment flows (needs SECRET_KEY)."""
    settings = app[settings_key]
    secret = settings.secret_key
    sender = PushSender(
        app[uow_key], app[clock_key], CredentialCipher(secret.get_secret_value()) if secret else None,
        subject=settings.push_subject, ttl_seconds=settings.web_push_ttl_seconds,
        poll_seconds=settings.web_push_poll_seconds,
    )  # fmt: skip
    app[push_sender_key] = sender
    if app[role_key] != "ingest":
        sender.start()
    yield
    await sender.stop()


async def _instagram(app: web.Application) -> AsyncIterator[None]:
    """Instagram Direct: its Send API client (the outbox sender's, when Instagram is on) and its worker."""
    config = app[instagram_key]
    client = InstagramClient(config)
    processor = InstagramProcessor(app[uow_key], app[clock_key], lambda: app[chat_key], client)
    app[instagram_processor_key] = processor
    app[sender_key].use_instagram(client if config.on else None)
    if config.on and app[role_key] != "ingest":
        processor.start()
    yield
    await processor.stop()
    await client.close()
    if instagram_fake_key in app:
        await app[instagram_fake_key].close()


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    """Every periodic job (bot/jobs), each one at a time; on shutdown a pass under way is let finish."""
    clock = app[clock_key]
    processor = app[processor_key]

    async def resubmit_whatsapp(grace: timedelta) -> int:
        return await processor.resubmit_waiting(clock() - grace)

    settings = app[settings_key]
    smtp = settings.smtp_server
    emails = None
    if smtp is not None and settings.email_from is not None:
        emails = EmailSender(app[uow_key], smtp, settings.email_from, clock)
    context = JobContext(
        deps=app[payments_key],
        settings=settings,
        payment_parsers=dict(PAYMENT_PARSERS),
        wake_sender=app[sender_key].wake,
        release_stale_sends=app[sender_key].release_stale,
        resubmit_whatsapp=resubmit_whatsapp,
        send_emails=None if emails is None else emails.send_due,
    )
    runner = JobRunner(catalogue(context), clock, after_each=app[sender_key].wake)
    app[jobs_key] = runner
    app[metrics_key].watch_jobs(runner.stats)
    if app[role_key] != "ingest":  # the worker processes run them
        runner.start()
    yield
    await runner.stop()
