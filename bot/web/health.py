"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.store.database import ping
from bot.web.keys import engine_key, metrics_key

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
    return web.Response(body=registry.exposition(), headers={"Content-Type": registry.content_type})
