"""Where our links lead: a fresh provider page for an open request (``/pay/{provider}/{transaction}``:
iCount's pay pages, Stripe's Checkout for holds and cards that may be saved), and the vendor's one-time
phone-payment link (``/pay/phone/{token}``)."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.errors import DomainError
from bot.payments.port import HostedCheckout, ProviderError
from bot.rendering import render_page
from bot.services.checkout import checkout_url
from bot.services.phone_payments import PhoneLinkProblem, open_phone_link
from bot.web.keys import payments_key, providers_key
from bot.web.payments import page_locale

log = logging.getLogger(__name__)
# Errors of a provider or of our store while making the page: the customer is asked to come back.
UNREACHABLE = (OSError, SQLAlchemyError, ProviderError, DomainError, ValueError)
_PROBLEM_STATUS = {
    PhoneLinkProblem.UNKNOWN: 404, PhoneLinkProblem.USED: 410, PhoneLinkProblem.EXPIRED: 410,
    PhoneLinkProblem.CLOSED: 410,
}  # fmt: skip


def _unavailable(locale: str) -> web.Response:
    page = render_page("link_unavailable", locale)
    return web.Response(text=page, content_type="text/html", status=503, headers={"Retry-After": "60"})


async def hosted_checkout(request: web.Request) -> web.StreamResponse:
    """``GET /pay/{provider}/{transaction}``: to a fresh provider page while the request is open, else a
    page saying the link has ended."""
    locale = page_locale(request, None)
    provider = request.match_info["provider"]
    try:
        transaction_id = uuid.UUID(request.match_info["transaction"])
    except ValueError:
        transaction_id = None
    if transaction_id is None or provider not in request.app[providers_key].names_with(HostedCheckout):
        return web.Response(text=render_page("link_unknown", locale), content_type="text/html", status=404)
    try:
        url = await checkout_url(request.app[payments_key], transaction_id, provider)
    except UNREACHABLE as error:
        # ValueError: stored credentials that no longer open; DomainError: the provider no longer set up.
        log.warning("checkout of %s unavailable: %s", transaction_id, error)
        return _unavailable(locale)
    if url is None:
        return web.Response(text=render_page("link_ended", locale), content_type="text/html", status=410)
    raise web.HTTPFound(url)


async def phone_payment(request: web.Request) -> web.StreamResponse:
    """``GET /pay/phone/{token}``: the vendor's one-time link, to the provider's page where they type the
    card the customer reads out. Opened once; never cached."""
    locale = page_locale(request, None)
    token = request.match_info["token"]
    if not 16 <= len(token) <= 64:
        result: str | PhoneLinkProblem = PhoneLinkProblem.UNKNOWN
    else:
        try:
            result = await open_phone_link(request.app[payments_key], token)
        except UNREACHABLE as error:
            log.warning("phone payment link unavailable: %s", error)
            return _unavailable(locale)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    if isinstance(result, PhoneLinkProblem):
        page = render_page("phone_link_unavailable", locale, problem=result.value)
        return web.Response(
            text=page, content_type="text/html", status=_PROBLEM_STATUS[result], headers=headers
        )
    raise web.HTTPFound(result, headers=headers)
