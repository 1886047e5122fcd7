"""The Instagram webhook: verified like WhatsApp's (``X-Hub-Signature-256``, the Meta app's secret) on the
raw body, split into one inbox row per customer message (unique on its ``mid``), committed, answered; the
Instagram worker handles them after."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.channels.instagram.webhook_events import SOURCE, MalformedInstagramWebhook, split_instagram_webhook
from bot.store.inbox_writer import NewEvent
from bot.web.keys import clock_key, inbox_writer_key, instagram_key, instagram_processor_key
from bot.whatsapp.webhook_events import SIGNATURE_HEADER, signature_valid

log = logging.getLogger(__name__)
CHALLENGE_MODE = "subscribe"
MESSAGE = "message"


def _off(request: web.Request) -> web.Response | None:
    if instagram_key not in request.app or not request.app[instagram_key].on:
        return web.Response(status=404, text="instagram is not configured")
    return None


async def verify_subscription(request: web.Request) -> web.Response:
    """Meta's GET handshake: echo ``hub.challenge`` when ``hub.verify_token`` is ours."""
    if (off := _off(request)) is not None:
        return off
    token = request.query.get("hub.verify_token")
    if request.query.get("hub.mode") != CHALLENGE_MODE or token != request.app[instagram_key].verify_token:
        return web.Response(status=403, text="forbidden")
    return web.Response(text=request.query.get("hub.challenge", ""))


async def receive(request: web.Request) -> web.Response:
    if (off := _off(request)) is not None:
        return off
    body = await request.read()
    header = request.headers.get(SIGNATURE_HEADER)
    if header is None:
        return web.Response(status=401, text="missing signature")
    if not signature_valid(body, header, request.app[instagram_key].app_secret):
        return web.Response(status=403, text="bad signature")
    try:
        messages = split_instagram_webhook(body)
    except MalformedInstagramWebhook as error:
        return web.Response(status=400, text=str(error))
    try:
        ids = await request.app[inbox_writer_key].store(
            [NewEvent(SOURCE, m.mid, MESSAGE, m.payload()) for m in messages], request.app[clock_key]()
        )
    except Exception:  # noqa: BLE001 - whatever the store refused, Meta delivers again later
        log.warning("inbox unavailable; Instagram will deliver again", exc_info=True)
        return web.Response(status=503, text="temporarily unavailable")
    if any(event_id is not None for event_id in ids):
        request.app[instagram_processor_key].wake()
    return web.Response(text="ok")
