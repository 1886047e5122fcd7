"""Every endpoint of the bot, in one table. Sandbox mode adds its own (the two-phone page, its checkout
and the fake Graph API, all in ``bot/sandbox``), which the composition root passes in."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from bot.web import checkout, health, icount, payments, whatsapp


def setup_routes(app: web.Application, sandbox: Iterable[web.AbstractRouteDef] = ()) -> None:
    app.router.add_routes(
        [
            # Operators.
            web.get("/healthz", health.healthz),
            web.get("/readyz", health.readyz),
            web.get("/metrics", health.metrics),
            # Webhooks: verified, stored in the inbox, answered, then processed.
            web.get("/webhooks/whatsapp", whatsapp.verify_subscription),
            web.post("/webhooks/whatsapp", whatsapp.receive),
            web.post("/webhooks/stripe", payments.stripe_webhook),
            web.post("/webhooks/icount/{secret}", icount.icount_ipn),
            # Customers: where payment links lead and where providers send them back; the vendor's
            # one-time phone-payment link (before the provider pattern, which would match it too).
            web.get("/pay/phone/{token}", checkout.phone_payment),
            web.get("/pay/{provider}/{transaction}", checkout.hosted_checkout),
            web.get("/pay/success", payments.pay_success),
            web.get("/pay/cancelled", payments.pay_cancelled),
        ]
    )
    app.router.add_routes(list(sandbox))
