"""Payment webhooks and the pages customers land on after paying."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.domain.errors import InvalidEmail
from bot.payments.sandbox import webhooks as sandbox_webhooks
from bot.payments.stripe import consts as stripe_consts, webhooks as stripe_webhooks
from bot.rendering import choose_locale, render_page
from bot.services.email_receipts import GivenEmail, receipt_to_given_email
from bot.services.inbox import PaymentParser, process_payment_event, store_event
from bot.services.pages import page_for_transaction
from bot.web.keys import clock_key, payments_key, providers_key, tasks_key, uow_key

log = logging.getLogger(__name__)
MAX_TYPED_EMAIL = 320
PAGE_LOCALES = ("fr", "en", "he")
PAYMENT_PARSERS: Mapping[str, PaymentParser] = {
    stripe_consts.NAME: stripe_webhooks.payment_events,
    "sandbox": sandbox_webhooks.payment_events,
}


async def ingest_payment_event(
    app: web.Application, source: str, key: str, event_type: str, payload: str
) -> web.Response:
    """Commits the event to the inbox, answers, then processes it in the background.
    503 when the database cannot take it, so the provider retries later."""
    try:
        event_id = await store_event(app[uow_key], source, key, event_type, payload, app[clock_key]())
    except (OSError, SQLAlchemyError):
        log.exception("could not store %s event %s", source, key)
        return web.json_response({"error": "temporarily unavailable"}, status=503)
    if event_id is not None:
        app[tasks_key].spawn(process_payment_event(app[payments_key], PAYMENT_PARSERS, event_id))
    return web.json_response({"received": True, "duplicate": event_id is None})


async def stripe_webhook(request: web.Request) -> web.Response:
    body = await request.read()
    header = request.headers.get(stripe_consts.SIGNATURE_HEADER)
    providers = request.app[providers_key]
    now = request.app[clock_key]()
    try:
        event, signer = stripe_webhooks.verify(body, header, providers.platform_webhook_secrets(), now)
    except stripe_webhooks.MalformedEvent as error:
        return _malformed(error)
    except stripe_webhooks.InvalidSignature:
        # Vendors may bring their own Stripe account, each with its own webhook secret.
        try:
            async with request.app[uow_key]() as uow:
                sealed = await uow.vendors.all_credentials()
        except (OSError, SQLAlchemyError):
            return web.json_response({"error": "temporarily unavailable"}, status=503)
        try:
            event, signer = stripe_webhooks.verify(
                body, header, providers.vendor_webhook_secrets(sealed), now
            )
        except stripe_webhooks.MalformedEvent as error:
            return _malformed(error)
        except stripe_webhooks.InvalidSignature as error:
            log.warning("stripe webhook refused: %s", error)
            return web.json_response({"error": "invalid signature"}, status=400)
    payload = stripe_webhooks.stored_event(body, event, signer)
    return await ingest_payment_event(
        request.app, stripe_consts.NAME, event["id"], str(event["type"]), payload
    )


def _malformed(error: Exception) -> web.Response:
    """Signed by Stripe, yet not an event we can use: a 400, nothing stored (never a 500)."""
    log.warning("stripe webhook refused: %s", error)
    return web.json_response({"error": "malformed event"}, status=400)


def page_locale(request: web.Request, preferred: str | None) -> str:
    """The customer's language if we know it, else the browser's."""
    return choose_locale(preferred, request.headers.get("Accept-Language"), PAGE_LOCALES)


async def _page_context(request: web.Request, tx: str | None = None) -> tuple[str, dict[str, object]]:
    try:
        transaction_id = uuid.UUID(request.query.get("tx", "") if tx is None else tx)
    except ValueError:
        return page_locale(request, None), {"amount": None, "order": None, "guarantee": False}
    page = await page_for_transaction(request.app[uow_key], transaction_id)
    if page is None:
        return page_locale(request, None), {"amount": None, "order": None}
    # Email on, and nowhere to send this payment's confirmation yet: the customer may give an address.
    asks_email = request.app[uow_key].email is not None and not page.customer_has_email
    return page_locale(request, page.locale), {
        "amount": page.amount,
        "paid": page.is_paid,
        "guarantee": page.is_guarantee,
        "held": page.is_held,
        "order": page.order_reference,
        "vendor": page.vendor_name,
        "retry_url": page.link.url if page.link is not None and page.is_open else None,
        "tx": str(transaction_id),
        "ask_email": asks_email and not page.is_guarantee,
        "channel": "Instagram" if page.on_instagram else "WhatsApp",
    }


# What the page after paying says of the receipt's email when nothing was given or asked.
_NO_EMAIL_YET = {
    "ask_email": False, "email_given": None, "email_error": False, "email_typed": "", "tx": "",
    "channel": "WhatsApp",
}  # fmt: skip


async def pay_success(request: web.Request) -> web.Response:
    locale, context = await _page_context(request)
    given = request.query.get("email")
    context = {**_NO_EMAIL_YET, **context}
    context["email_given"] = given if given in {g.value for g in GivenEmail} else None
    return web.Response(text=render_page("pay_success", locale, **context), content_type="text/html")


async def pay_success_email(request: web.Request) -> web.Response:
    """``POST /pay/success/email``: the address the customer typed for their receipt. Then back to the
    page (303), which says what became of it; an address that is not one gets the page again with the
    problem shown (400)."""
    form = await request.post()
    tx, typed = str(form.get("tx", "")), str(form.get("email", ""))[:MAX_TYPED_EMAIL]
    try:
        transaction_id = uuid.UUID(tx)
    except ValueError:
        page = render_page("link_unknown", page_locale(request, None))
        return web.Response(text=page, content_type="text/html", status=400)
    try:
        given = await receipt_to_given_email(
            request.app[uow_key], transaction_id, typed, request.app[clock_key]()
        )
    except InvalidEmail:
        locale, context = await _page_context(request, tx)
        context = {**_NO_EMAIL_YET, **context, "email_error": True, "email_typed": typed}
        page = render_page("pay_success", locale, **context)
        return web.Response(text=page, content_type="text/html", status=400)
    except (OSError, SQLAlchemyError):
        log.warning("could not keep the address given for transaction %s", transaction_id, exc_info=True)
        page = render_page("link_unavailable", page_locale(request, None))
        return web.Response(text=page, content_type="text/html", status=503, headers={"Retry-After": "60"})
    raise web.HTTPSeeOther(f"/pay/success?tx={transaction_id}&email={given.value}")


async def pay_cancelled(request: web.Request) -> web.Response:
    locale, context = await _page_context(request)
    return web.Response(text=render_page("pay_cancelled", locale, **context), content_type="text/html")
