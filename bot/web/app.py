"""The application factory used by ``bot serve``, the tests and the benchmarks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bot.bootstrap import ensure_first_vendor, prepare_schema
from bot.config import Settings
from bot.services.clock import Clock, system_clock
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from bot.web import health
from bot.web.keys import clock_key, engine_key, metrics_key, settings_key, uow_key
from bot.web.metrics import Metrics

MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings, *, clock: Clock = system_clock) -> web.Application:
    metrics = Metrics()
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[metrics.middleware()])
    app[settings_key] = settings
    app[clock_key] = clock
    app[metrics_key] = metrics
    app.cleanup_ctx.append(_database)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
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
