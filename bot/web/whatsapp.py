"""The WhatsApp webhook: verify the signature on the raw body, split the batch, commit every event to
the inbox (shared commits) and answer. The inbox worker (bot/whatsapp/processor.py) handles them after,
in this process or another: acknowledging never waits for processing."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.store.inbox_writer import NewEvent
from bot.web.keys import clock_key, inbox_writer_key, processor_key, whatsapp_key
from bot.whatsapp.webhook_events import (
    SIGNATURE_HEADER,
    SOURCE,
    MalformedWebhook,
    signature_valid,
    split_webhook,
)

log = logging.getLogger(__name__)
CHALLENGE_MODE = "subscribe"


async def verify_subscription(request: web.Request) -> web.Response:
    """Meta's GET handshake: echo ``hub.challenge`` when ``hub.verify_token`` is ours."""
    clients = request.app[whatsapp_key]
    token = request.query.get("hub.verify_token")
    if request.query.get("hub.mode") != CHALLENGE_MODE or token != clients.config.verify_token:
        return web.Response(status=403, text="forbidden")
    return web.Response(text=request.query.get("hub.challenge", ""))


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    clients = request.app[whatsapp_key]
    header = request.headers.get(SIGNATURE_HEADER)
    if header is None:
        return web.Response(status=401, text="missing signature")
    if not signature_valid(body, header, clients.config.app_secret):
        return web.Response(status=403, text="bad signature")
    try:
        events = split_webhook(body)
    except MalformedWebhook as error:
        return web.Response(status=400, text=str(error))
    try:
        ids = await request.app[inbox_writer_key].store(
            [NewEvent(SOURCE, e.key, e.event_type, e.payload) for e in events], request.app[clock_key]()
        )
    except Exception:  # noqa: BLE001 - whatever the store refused, Meta delivers again later
        log.warning("inbox unavailable; WhatsApp will deliver again", exc_info=True)
        return web.Response(status=503, text="temporarily unavailable")
    if any(event_id is not None for event_id in ids):
        request.app[processor_key].wake()  # the worker beside it, if any; others poll the inbox
    return web.Response(text="ok")
