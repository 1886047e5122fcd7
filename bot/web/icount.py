"""iCount endpoints: the IPN webhook, the checkout page our links lead to, and the periodic jobs
(held orders freed, invoices issued, IPNs a crash left unprocessed)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from functools import partial
from urllib.parse import parse_qsl

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.errors import DomainError
from bot.payments.icount.provider import transaction_of_secret
from bot.payments.port import ProviderError
from bot.rendering import render_page
from bot.services import holds, invoices
from bot.services.icount import (
    EVENT_TYPE,
    SOURCE,
    IpnNotice,
    checkout_url,
    ipn_fields,
    process_ipn,
    process_ipn_backlog,
    provider_for_secret,
)
from bot.services.inbox import store_event
from bot.web.keys import clock_key, payments_key, sender_key, tasks_key, uow_key
from bot.web.payments import page_locale

log = logging.getLogger(__name__)
JOBS_INTERVAL_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0
jobs_interval_key = web.AppKey("icount_jobs_interval", float)
invoice_backoff_key = web.AppKey("invoice_backoff", invoices.InvoiceBackoff)
UNAVAILABLE = {"error": "temporarily unavailable"}
MAX_EVENT_KEY = 255  # inbound_events.event_key


def _body_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The IPN's body: form fields (what iCount posts), or a JSON object. ValueError when malformed."""
    if not body:
        return {}
    text = body.decode("utf-8")
    if content_type == "application/json":
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return {str(k): str(v) for k, v in data.items() if not isinstance(v, dict | list)}
    return dict(parse_qsl(text, keep_blank_values=True))


async def icount_ipn(request: web.Request) -> web.Response:
    """``POST /webhooks/icount/{secret}``: the secret names the request and must be ours; the IPN is
    stored, answered, then confirmed through the iCount API before anything is recorded."""
    secret = request.match_info["secret"]
    transaction_id = transaction_of_secret(secret)
    if transaction_id is None:
        return web.json_response({"error": "unknown IPN address"}, status=403)
    try:
        fields = ipn_fields(request.query, _body_fields(await request.read(), request.content_type))
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
        return web.json_response({"error": "malformed body"}, status=400)
    app = request.app
    try:
        known = await provider_for_secret(app[payments_key], secret, transaction_id)
    except (OSError, SQLAlchemyError):
        log.exception("could not check an iCount IPN")
        return web.json_response(UNAVAILABLE, status=503)
    if not known:
        log.warning("iCount IPN refused: its address is not one we gave")
        return web.json_response({"error": "unknown IPN address"}, status=403)
    notice = IpnNotice.of(transaction_id, fields)
    key = notice.key
    if key is None:
        return web.json_response({"error": "no confirmation_code or document"}, status=400)
    if len(key) > MAX_EVENT_KEY:
        return web.json_response({"error": "confirmation_code or document too long"}, status=400)
    try:
        event_id = await store_event(
            app[uow_key], SOURCE, key, EVENT_TYPE, notice.payload(), app[clock_key]()
        )
    except (OSError, SQLAlchemyError):
        log.exception("could not store an iCount IPN")
        return web.json_response(UNAVAILABLE, status=503)
    if event_id is not None:
        app[tasks_key].spawn(_process_and_wake(app, event_id))
    return web.json_response({"received": True, "duplicate": event_id is None})


async def _process_and_wake(app: web.Application, event_id: int) -> None:
    await process_ipn(app[payments_key], event_id)
    if sender_key in app:
        app[sender_key].wake()


async def icount_checkout(request: web.Request) -> web.StreamResponse:
    """``GET /pay/icount/{transaction}``: to a fresh iCount pay page while the request is open, else a
    page saying the link has ended."""
    locale = page_locale(request, None)
    try:
        transaction_id = uuid.UUID(request.match_info["transaction"])
    except ValueError:
        return web.Response(text=render_page("link_unknown", locale), content_type="text/html", status=404)
    try:
        url = await checkout_url(request.app[payments_key], transaction_id)
    except (OSError, SQLAlchemyError, ProviderError, DomainError, ValueError) as error:
        # ValueError: stored credentials that no longer open; DomainError: iCount no longer set up.
        log.warning("checkout of %s unavailable: %s", transaction_id, error)
        page = render_page("link_unavailable", locale)
        return web.Response(text=page, content_type="text/html", status=503, headers={"Retry-After": "60"})
    if url is None:
        return web.Response(text=render_page("link_ended", locale), content_type="text/html", status=410)
    raise web.HTTPFound(url)


async def run_jobs(app: web.Application) -> None:
    """One pass of the periodic jobs; each one's failure is logged and tried again next time."""
    deps = app[payments_key]
    for name, job in (
        ("hold release", holds.release_expired_holds),
        ("invoice pass", partial(invoices.issue_invoices, backoff=app[invoice_backoff_key])),
        ("iCount IPN backlog", process_ipn_backlog),
    ):
        try:
            done = await job(deps)
        except Exception:  # noqa: BLE001 - the next pass tries again
            log.exception("%s failed", name)
            continue
        if done:
            log.info("%s: %d done", name, done)
    if sender_key in app:
        app[sender_key].wake()


async def _every(app: web.Application, interval: float, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=interval)
        if not stopping.is_set():
            await run_jobs(app)


async def background_jobs(app: web.Application) -> AsyncIterator[None]:
    stopping = asyncio.Event()
    task = asyncio.create_task(_every(app, app.get(jobs_interval_key, JOBS_INTERVAL_SECONDS), stopping))
    yield
    # A pass is let finish: cancelled inside a transaction it would leave SQLite locked until its timeout.
    stopping.set()
    _done, pending = await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
    if pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup_icount(app: web.Application) -> None:
    app[invoice_backoff_key] = invoices.InvoiceBackoff()
    app.router.add_post("/webhooks/icount/{secret}", icount_ipn)
    app.router.add_get("/pay/icount/{transaction}", icount_checkout)
    app.cleanup_ctx.append(background_jobs)
