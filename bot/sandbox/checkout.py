"""The sandbox checkout page: Pay, Decline and Pay later, which produce payment events through the
same inbox path as a provider's webhook."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import timedelta

from aiohttp import web

from bot.payments.port import PaymentEventKind
from bot.payments.sandbox.consts import NAME
from bot.payments.sandbox.webhooks import make_event
from bot.rendering import render_page
from bot.sandbox.keys import sandbox_delay_key
from bot.services.inbox import process_payment_event, store_event
from bot.services.pages import PaymentPage, page_for_link
from bot.web.keys import clock_key, payments_key, tasks_key, uow_key
from bot.web.payments import PAYMENT_PARSERS, ingest_payment_event

log = logging.getLogger(__name__)
ACTIONS = {"pay": PaymentEventKind.PAID, "decline": PaymentEventKind.FAILED, "later": PaymentEventKind.PAID}


async def _page(request: web.Request) -> PaymentPage:
    page = await page_for_link(request.app[uow_key], NAME, request.match_info["link_id"])
    if page is None:
        raise web.HTTPNotFound(text=render_page("link_unknown", "en"), content_type="text/html")
    return page


async def checkout(request: web.Request) -> web.Response:
    page = await _page(request)
    html = render_page(
        "sandbox_checkout",
        page.locale,
        vendor=page.vendor_name,
        label=page.transaction.label,
        order_label=page.order_label,
        amount=page.amount,
        open=page.is_open,
        paid=page.is_paid,
        action_base=f"/sandbox/checkout/{request.match_info['link_id']}",
    )
    return web.Response(text=html, content_type="text/html")


def _event(page: PaymentPage, kind: PaymentEventKind, request: web.Request) -> dict[str, str]:
    link_id = request.match_info["link_id"]
    reference = f"sbx_pay_{uuid.uuid4().hex[:16]}"
    return make_event(
        kind, link_id, page.transaction.id, page.transaction.amount, reference, request.app[clock_key]()
    )


async def _settle_later(app: web.Application, event_id: int, delay: float) -> None:
    """Like a bank debit: the money arrives a little later. The event is already in the inbox (dated
    when it settles), so a restart meanwhile still settles it, through the recovery pass."""
    await asyncio.sleep(delay)
    await process_payment_event(app[payments_key], PAYMENT_PARSERS, event_id)


async def act(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    page = await _page(request)
    here = f"/sandbox/checkout/{request.match_info['link_id']}"
    if not page.is_open:
        raise web.HTTPSeeOther(here)
    event = _event(page, ACTIONS[action], request)
    if action == "later":
        delay = request.app[sandbox_delay_key]
        settles_at = request.app[clock_key]() + timedelta(seconds=delay)
        event_id = await store_event(
            request.app[uow_key], NAME, event["id"], event["type"], json.dumps(event), settles_at
        )
        if event_id is not None:
            request.app[tasks_key].spawn(_settle_later(request.app, event_id, delay))
        html = render_page("sandbox_processing", page.locale, amount=page.amount, vendor=page.vendor_name)
        return web.Response(text=html, content_type="text/html")
    response = await ingest_payment_event(request.app, NAME, event["id"], event["type"], json.dumps(event))
    if response.status != 200:
        return response
    target = "success" if action == "pay" else "cancelled"
    raise web.HTTPSeeOther(f"/pay/{target}?tx={page.transaction.id}")


def checkout_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/sandbox/checkout/{link_id}", checkout),
        web.post("/sandbox/checkout/{link_id}/{action}", act),
    ]
