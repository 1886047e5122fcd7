"""The application factory used by ``bot serve``, the tests and the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.bootstrap import ensure_first_vendor, prepare_schema
from bot.config import Settings
from bot.domain.vendor import ProviderName
from bot.payments.registry import ProviderRegistry
from bot.sandbox.checkout import setup_checkout_routes
from bot.services.clock import Clock, system_clock
from bot.services.context import PaymentDeps
from bot.services.inbox import process_payment_backlog
from bot.services.payments import complete_unlinked_requests
from bot.services.secrets import CredentialCipher
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from bot.web import health, payments
from bot.web.background import BackgroundTasks
from bot.web.keys import (
    clock_key,
    engine_key,
    metrics_key,
    payments_key,
    providers_key,
    sandbox_delay_key,
    settings_key,
    tasks_key,
    uow_key,
)
from bot.web.metrics import Metrics

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
RECOVERY_INTERVAL_SECONDS = 30.0
RECOVERY_GRACE = timedelta(minutes=2)


def create_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    sandbox_settle_delay: float = 5.0,
    recovery_interval: float = RECOVERY_INTERVAL_SECONDS,
) -> web.Application:
    metrics = Metrics()
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[metrics.middleware()])
    app[settings_key] = settings
    app[clock_key] = clock
    app[metrics_key] = metrics
    app[sandbox_delay_key] = sandbox_settle_delay
    app[tasks_key] = BackgroundTasks()
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_payments(recovery_interval))
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_post("/webhooks/stripe", payments.stripe_webhook)
    app.router.add_get("/pay/success", payments.pay_success)
    app.router.add_get("/pay/cancelled", payments.pay_cancelled)
    if settings.sandbox_whatsapp or settings.effective_provider is ProviderName.SANDBOX:
        setup_checkout_routes(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    engine = create_engine(settings.database_url)
    try:
        await prepare_schema(engine, settings)
        uow_factory = UnitOfWorkFactory(engine)
        await ensure_first_vendor(uow_factory, settings, app[clock_key]())
    except BaseException:
        await engine.dispose()
        raise
    app[engine_key] = engine
    app[uow_key] = uow_factory
    yield
    await engine.dispose()


async def _recover(deps: PaymentDeps, grace: timedelta) -> None:
    """Finishes what a crash (or a provider outage) left: requests without links, unprocessed events."""
    try:
        await complete_unlinked_requests(deps, grace)
        await process_payment_backlog(deps, payments.PAYMENT_PARSERS, grace)
    except (OSError, SQLAlchemyError):
        log.warning("recovery pass failed; it will run again", exc_info=True)


async def _recover_periodically(deps: PaymentDeps, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await _recover(deps, RECOVERY_GRACE)


def _payments(recovery_interval: float) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[settings_key]
        secret = settings.secret_key
        registry = ProviderRegistry(settings, CredentialCipher(secret.get_secret_value()) if secret else None)
        deps = PaymentDeps(app[uow_key], registry, settings.base_url, app[clock_key])
        app[providers_key] = registry
        app[payments_key] = deps
        tasks = app[tasks_key]
        tasks.spawn(_recover(deps, timedelta(0)))
        periodic = asyncio.create_task(_recover_periodically(deps, recovery_interval))
        yield
        periodic.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await periodic
        await tasks.drain()
        await registry.close()

    return context
