"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.services.inbox import inbox_backlog, queue_health
from bot.store.database import ping
from bot.web.keys import clock_key, engine_key, metrics_key, uow_key

log = logging.getLogger(__name__)
READY_TIMEOUT_SECONDS = 2.0


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(ping(request.app[engine_key]), READY_TIMEOUT_SECONDS)
    except (TimeoutError, OSError, SQLAlchemyError) as error:
        log.warning("readiness check failed: %s", type(error).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ready", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[metrics_key]
    try:
        health = await asyncio.wait_for(queue_health(request.app[uow_key]), READY_TIMEOUT_SECONDS)
    except (TimeoutError, OSError, SQLAlchemyError) as error:
        log.warning("queue gauges not read: %s", type(error).__name__)
    else:
        for name, value in asdict(health).items():
            registry.queues.labels(name).set(value)
    try:
        backlog = await asyncio.wait_for(
            inbox_backlog(request.app[uow_key], request.app[clock_key]()), READY_TIMEOUT_SECONDS
        )
    except (TimeoutError, OSError, SQLAlchemyError) as error:
        log.warning("inbox backlog not read: %s", type(error).__name__)
    else:
        registry.backlog.waiting, registry.backlog.oldest_age_seconds = backlog
    return web.Response(body=registry.exposition(), headers={"Content-Type": registry.content_type})
