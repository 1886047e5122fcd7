"""The sandbox checkout page: Pay, Decline and Pay later on a payment's page, Authorise and Decline on a
guarantee's (a hold on the card: nothing is charged), which produce payment events through the same
inbox path as a provider's webhook.

Card numbers never enter the system, here neither: a customer who ticks "save my card" picks one of
the sandbox's test cards (as Stripe's test cards), and the event carries only what a provider would give
back of it: a token (whose prefix says how the card behaves when charged later, ``consts``), the brand,
the last four digits and the expiry."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_datetime

from bot.payments.port import PaymentEventKind, SavedCard
from bot.payments.sandbox.consts import CARD_TOKEN, DECLINED_CARD, NAME, THREE_DS_CARD
from bot.payments.sandbox.webhooks import make_event
from bot.rendering import render_page
from bot.sandbox.keys import sandbox_delay_key
from bot.services.inbox import process_payment_event, store_event
from bot.services.pages import PaymentPage, page_for_link
from bot.web.keys import clock_key, payments_key, tasks_key, uow_key
from bot.web.payments import PAYMENT_PARSERS, ingest_payment_event

log = logging.getLogger(__name__)
ACTIONS = {
    "pay": PaymentEventKind.PAID,
    "decline": PaymentEventKind.FAILED,
    "later": PaymentEventKind.PAID,
    "authorize": PaymentEventKind.HELD,
}
# What each page takes: a payment is paid (now or later) or declined; a guarantee's hold is authorised
# or declined. Anything else is refused with the page and a word of why (409).
PAYMENT_ACTIONS = frozenset({"pay", "decline", "later"})
GUARANTEE_ACTIONS = frozenset({"authorize", "decline"})
# The actions that may keep the card, when the customer ticked "save my card" on a page that offers it.
SAVES_CARD = frozenset({"pay", "authorize"})
# A saved test card expires this many years after the sandbox's clock.
CARD_YEARS = 3
# A day as each language writes it ("mercredi 9 décembre", "יום רביעי, 9 בדצמבר").
DAY_PATTERNS = {"he": "EEEE, d 'ב'MMMM"}
DAY_PATTERN = "EEEE d MMMM"


@dataclass(frozen=True, slots=True)
class SandboxCard:
    """One of the cards the page offers to pick (the form sends ``key``, never a number)."""

    key: str
    token_prefix: str
    brand: str
    last4: str

    @property
    def brand_name(self) -> str:
        return "Mastercard" if self.brand == "mastercard" else self.brand.capitalize()


TEST_CARDS = {
    card.key: card
    for card in (
        SandboxCard("visa", CARD_TOKEN, "visa", "4242"),  # pays
        SandboxCard("3ds", THREE_DS_CARD, "visa", "3220"),  # asks for the customer's authentication later
        SandboxCard("declined", DECLINED_CARD, "mastercard", "0002"),  # declined later
    )
}
DEFAULT_CARD = "visa"


async def _page(request: web.Request) -> PaymentPage:
    page = await page_for_link(request.app[uow_key], NAME, request.match_info["link_id"])
    if page is None:
        raise web.HTTPNotFound(text=render_page("link_unknown", "en"), content_type="text/html")
    return page


def _date(moment: datetime | None, page: PaymentPage) -> str:
    """A day as the customer reads it, in the vendor's time zone."""
    if moment is None:
        return ""
    pattern = DAY_PATTERNS.get(page.locale, DAY_PATTERN)
    return format_datetime(moment, pattern, tzinfo=ZoneInfo(page.timezone), locale=page.locale)


def _render(request: web.Request, page: PaymentPage, problem: str | None = None) -> str:
    return render_page(
        "sandbox_checkout",
        page.locale,
        vendor=page.vendor_name,
        label=page.transaction.label,
        order=page.order_reference,
        order_label=page.order_label,
        amount=page.amount,
        open=page.is_open,
        paid=page.is_paid,
        guarantee=page.is_guarantee,
        held=page.is_held,
        held_amount=page.held_amount or page.amount,
        release_by=_date(page.release_by(request.app[clock_key]()), page),
        offers_save_card=page.offers_save_card,
        cards=list(TEST_CARDS.values()),
        problem=problem,
        action_base=f"/sandbox/checkout/{request.match_info['link_id']}",
    )


async def checkout(request: web.Request) -> web.Response:
    page = await _page(request)
    return web.Response(text=_render(request, page), content_type="text/html")


def card_token(card: SandboxCard, transaction_id: uuid.UUID) -> str:
    """The token a provider would give back for the card saved on this payment: the same page paid
    twice (a repeated event) names the same card."""
    return card.token_prefix + hashlib.sha256(str(transaction_id).encode()).hexdigest()[:24]


def _saved_card(page: PaymentPage, form: dict[str, str], now: datetime) -> SavedCard | None:
    """The test card picked, when "save my card" was ticked on a page that offers it."""
    if form.get("save_card") not in {"1", "on"} or not page.offers_save_card:
        return None
    card = TEST_CARDS.get(form.get("card") or DEFAULT_CARD)
    if card is None:
        raise web.HTTPBadRequest(text=f"card: one of {', '.join(TEST_CARDS)}")
    return SavedCard(
        card_token(card, page.transaction.id), card.brand, card.last4,
        exp_month=now.month, exp_year=now.year + CARD_YEARS,
    )  # fmt: skip


def _event(
    page: PaymentPage, kind: PaymentEventKind, request: web.Request, card: SavedCard | None
) -> dict[str, str]:
    link_id = request.match_info["link_id"]
    prefix = "sbx_hold_" if kind is PaymentEventKind.HELD else "sbx_pay_"
    reference = f"{prefix}{uuid.uuid4().hex[:16]}"
    return make_event(
        kind, link_id, page.transaction.id, page.transaction.amount, reference, request.app[clock_key](),
        saved_card=card,
    )  # fmt: skip


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
    if action not in (GUARANTEE_ACTIONS if page.is_guarantee else PAYMENT_ACTIONS):
        # A guarantee is never paid here, and a payment never only held.
        problem = "not_a_payment" if page.is_guarantee else "not_a_hold"
        log.info("sandbox checkout: %s refused on %s (%s)", action, page.transaction.id, problem)
        return web.Response(text=_render(request, page, problem), content_type="text/html", status=409)
    form = {key: str(value) for key, value in (await request.post()).items()}
    now = request.app[clock_key]()
    card = _saved_card(page, form, now) if action in SAVES_CARD else None
    event = _event(page, ACTIONS[action], request, card)
    if action == "later":
        delay = request.app[sandbox_delay_key]
        settles_at = now + timedelta(seconds=delay)
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
    target = "cancelled" if action == "decline" else "success"
    raise web.HTTPSeeOther(f"/pay/{target}?tx={page.transaction.id}")


def checkout_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/sandbox/checkout/{link_id}", checkout),
        web.post("/sandbox/checkout/{link_id}/{action}", act),
    ]
