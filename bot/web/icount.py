"""iCount's endpoint: the IPN webhook (the page our links lead to is ``bot/web/checkout``; its periodic
jobs are in ``bot/jobs``)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot import webhook_input
from bot.payments.icount.consts import NAME
from bot.payments.icount.webhooks import ipn_fields, ipn_notice, transaction_of_secret
from bot.services.callbacks import EVENT_TYPE, callback_is_ours, process_callback
from bot.services.inbox import store_event
from bot.web.keys import clock_key, payments_key, sender_key, tasks_key, uow_key

log = logging.getLogger(__name__)
UNAVAILABLE = {"error": "temporarily unavailable"}
MAX_EVENT_KEY = 255  # inbound_events.event_key


def _body_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The IPN's body: form fields (what iCount posts), or a JSON object (bounded in depth). ValueError
    when malformed."""
    if not body:
        return {}
    if content_type == "application/json":
        data = webhook_input.loads(body).value
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return {str(k): str(v) for k, v in data.items() if not isinstance(v, dict | list)}
    return dict(parse_qsl(webhook_input.utf8(body), keep_blank_values=True))


def _storable(fields: dict[str, str]) -> dict[str, str]:
    """The fields without what Postgres cannot store (a NUL, a lone surrogate, from %00 or an escape)."""
    clean = webhook_input.clean_text
    return {clean(k): clean(v) for k, v in fields.items()}


async def icount_ipn(request: web.Request) -> web.Response:
    """``POST /webhooks/icount/{secret}``: the secret names the request and must be ours; the IPN is
    stored, answered, then confirmed through the iCount API before anything is recorded."""
    secret = request.match_info["secret"]
    transaction_id = transaction_of_secret(secret)
    if transaction_id is None:
        return web.json_response({"error": "unknown IPN address"}, status=403)
    try:
        fields = _storable(
            ipn_fields(request.query, _body_fields(await request.read(), request.content_type))
        )
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
        return web.json_response({"error": "malformed body"}, status=400)
    app = request.app
    try:
        known = await callback_is_ours(app[payments_key], NAME, secret, transaction_id)
    except (OSError, SQLAlchemyError):
        log.exception("could not check an iCount IPN")
        return web.json_response(UNAVAILABLE, status=503)
    if not known:
        log.warning("iCount IPN refused: its address is not one we gave")
        return web.json_response({"error": "unknown IPN address"}, status=403)
    notice = ipn_notice(transaction_id, fields)
    key = notice.key
    if key is None:
        return web.json_response({"error": "no confirmation_code or document"}, status=400)
    if len(key) > MAX_EVENT_KEY:
        return web.json_response({"error": "confirmation_code or document too long"}, status=400)
    try:
        event_id = await store_event(app[uow_key], NAME, key, EVENT_TYPE, notice.payload(), app[clock_key]())
    except (OSError, SQLAlchemyError):
        log.exception("could not store an iCount IPN")
        return web.json_response(UNAVAILABLE, status=503)
    if event_id is not None:
        app[tasks_key].spawn(_process_and_wake(app, event_id))
    return web.json_response({"received": True, "duplicate": event_id is None})


async def _process_and_wake(app: web.Application, event_id: int) -> None:
    await process_callback(app[payments_key], event_id)
    if sender_key in app:
        app[sender_key].wake()
